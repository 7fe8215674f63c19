r"""Label noise at a given rate: symmetric and pair-flip (numpy only, seeded).

Both are class-conditional noise with a transition matrix $T_{ij} = P(\tilde y = j \mid
y = i)$ over $K$ classes and rate $r$:

- symmetric (uniform): $T_{ii} = 1 - r$, $T_{ij} = r / (K - 1)$ for $j \ne i$, so a
  corrupted label is any *other* class with equal chance (the ERASE code's ``symm``);
- pair-flip (Han et al., Co-teaching, arXiv:1804.06872): $T_{ii} = 1 - r$,
  $T_{i,(i+1) \bmod K} = r$, so every class leaks into the next one only. The ERASE
  code's ``asymm`` pairs each class with a randomly drawn other class instead; up to a
  relabelling of the classes it is the same noise when that pairing is a cycle.

`corrupt_labels` corrupts an *exact* count: $\mathrm{round}(r\,m)$ of the $m$ given
nodes, drawn without replacement, get a label from row $y$ of $T$ with the diagonal
removed. Each node is corrupted with probability $\mathrm{round}(r m)/m$ and the
realised rate is exactly that, instead of scattering around $r$ as independent draws
per node do; given a corruption, the new label follows $T$'s off-diagonal row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, get_args

import numpy as np

NoiseKind = Literal["symmetric", "pair-flip"]
NOISE_KINDS: tuple[NoiseKind, ...] = get_args(NoiseKind)


def _check(kind: str, rate: float, num_classes: int) -> None:
    if kind not in NOISE_KINDS:
        raise ValueError(f"unknown noise kind {kind!r}; accepted: {', '.join(NOISE_KINDS)}")
    if num_classes < 2:
        raise ValueError(f"label noise needs at least 2 classes, got {num_classes}")
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"noise rate must be in [0, 1], got {rate}")


def noise_transition_matrix(kind: NoiseKind, rate: float, num_classes: int) -> np.ndarray:
    r"""$T_{ij} = P(\tilde y = j \mid y = i)$ of ``kind`` noise at ``rate`` (rows sum to 1)."""
    _check(kind, rate, num_classes)
    k = num_classes
    matrix = np.eye(k) * (1.0 - rate)
    if kind == "symmetric":
        matrix += (np.ones((k, k)) - np.eye(k)) * (rate / (k - 1))
    else:
        matrix[np.arange(k), (np.arange(k) + 1) % k] += rate
    return matrix


def corrupt_labels(
    labels: np.ndarray,
    kind: NoiseKind,
    rate: float,
    num_classes: int,
    seed: int | Sequence[int],
    nodes: np.ndarray | None = None,
) -> np.ndarray:
    """A copy of ``labels`` in which exactly ``round(rate * len(nodes))`` of ``nodes``
    (default: all) carry a wrong label drawn from ``kind`` noise; other entries untouched.

    ``seed`` is an int or a sequence of ints (numpy's ``default_rng`` seeding).
    """
    _check(kind, rate, num_classes)
    labels = np.asarray(labels, dtype=np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"labels must lie in 0..{num_classes - 1}, got {labels.min()}..{labels.max()}"
        )
    chosen = np.arange(labels.size) if nodes is None else np.asarray(nodes, dtype=np.int64)
    rng = np.random.default_rng(seed)
    count = round(rate * chosen.size)
    flipped = rng.choice(chosen, size=count, replace=False)
    noisy = labels.copy()
    if kind == "pair-flip":
        noisy[flipped] = (labels[flipped] + 1) % num_classes
    else:
        # A uniform draw from the K - 1 other classes: shift by 1..K-1.
        noisy[flipped] = (labels[flipped] + rng.integers(1, num_classes, size=count)) % num_classes
    return noisy
