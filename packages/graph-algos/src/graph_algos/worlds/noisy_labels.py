r"""A planted-partition graph whose block 0 is the target cluster, with noisy binary labels.

The world of "Local Graph Clustering with Noisy Labels" (Back de Luca, Fountoulakis,
Yang, arXiv:2310.08031): every node carries a label $\tilde y_u \in \{0, 1\}$, 1 for "in
the target cluster", drawn with a true positive rate inside the target and a false
positive rate outside it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from graph_algos.seeding import SeedLike, as_rng
from graph_algos.worlds.generators import stochastic_block_model


def noisy_labels(
    target: np.ndarray,
    n: int,
    true_positive_rate: float,
    false_positive_rate: float,
    seed: SeedLike = None,
) -> np.ndarray:
    """Binary labels: 1 with probability ``true_positive_rate`` inside the target cluster
    and with probability ``false_positive_rate`` outside it."""
    for name, value in (
        ("true_positive_rate", true_positive_rate),
        ("false_positive_rate", false_positive_rate),
    ):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be a probability in [0, 1], got {value}")
    rng = as_rng(seed)
    inside = np.zeros(n, dtype=bool)
    inside[target] = True
    draws = rng.random(n)
    return np.where(inside, draws < true_positive_rate, draws < false_positive_rate).astype(
        np.int64
    )


@dataclass(frozen=True)
class NoisyLabelWorld:
    """A planted-partition graph whose block 0 is the target cluster, with noisy labels."""

    adjacency: sp.csr_matrix
    target: np.ndarray
    labels: np.ndarray


def noisy_label_world(
    cluster_size: int,
    clusters: int,
    p_in: float,
    p_out: float,
    true_positive_rate: float,
    false_positive_rate: float,
    seed: SeedLike = None,
) -> NoisyLabelWorld:
    """``clusters`` blocks of ``cluster_size`` nodes (in-block p_in, across p_out); labels
    flag block 0 with the given true and false positive rates."""
    rng = as_rng(seed)
    matrix = np.full((clusters, clusters), p_out)
    np.fill_diagonal(matrix, p_in)
    adjacency, blocks = stochastic_block_model([cluster_size] * clusters, matrix, rng)
    target = np.flatnonzero(blocks == 0)
    labels = noisy_labels(target, len(blocks), true_positive_rate, false_positive_rate, rng)
    return NoisyLabelWorld(adjacency, target, labels)
