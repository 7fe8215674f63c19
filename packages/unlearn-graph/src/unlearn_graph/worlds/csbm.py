"""Contextual stochastic block model: communities in the edges and in the features.

Deshpande, Sen, Montanari, Mossel, "Contextual Stochastic Block Models" (NeurIPS 2018,
arXiv:1807.09596). Node ``i`` has community ``y_i``; an edge lands inside a community
with probability ``homophily`` and between communities otherwise, and the features are
``x_i = feature_signal * mu_{y_i} + noise`` with unit Gaussian noise and random unit
community means ``mu``. Pure numpy, so specs can be checked without torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import Field
from unlearn_schema import StrictModel


class CSBMConfig(StrictModel):
    """Size and difficulty knobs of a contextual SBM."""

    num_nodes: int = Field(default=2000, ge=10, le=2_000_000)
    num_classes: int = Field(default=4, ge=2, le=100)
    average_degree: float = Field(default=10.0, gt=0.0, le=1000.0)
    homophily: float = Field(
        default=0.8, ge=0.0, le=1.0, description="Fraction of edges inside a community."
    )
    num_features: int = Field(default=32, ge=1, le=10_000)
    feature_signal: float = Field(
        default=1.0, ge=0.0, le=100.0, description="Norm of the community mean in the features."
    )


@dataclass(frozen=True)
class GraphArrays:
    """A graph as numpy arrays: features, labels and unique undirected edges (u < v)."""

    x: np.ndarray
    y: np.ndarray
    edges: np.ndarray  # shape (2, M), u < v, sorted, unique

    @property
    def num_nodes(self) -> int:
        return int(self.x.shape[0])


def contextual_sbm(config: CSBMConfig | None = None, seed: int = 0) -> GraphArrays:
    """Sample a contextual SBM; the same (config, seed) always gives the same graph."""
    config = config or CSBMConfig()
    rng = np.random.default_rng(seed)
    n, k = config.num_nodes, config.num_classes
    y = rng.integers(0, k, size=n)
    members = [np.flatnonzero(y == c) for c in range(k)]
    # Draw a few more pairs than needed: self-loops and duplicates are dropped below.
    num_pairs = int(np.ceil(config.average_degree * n / 2 * 1.1)) + 1
    source = rng.integers(0, n, size=num_pairs)
    inside = rng.random(num_pairs) < config.homophily
    target = rng.integers(0, n, size=num_pairs)
    for c in range(k):
        pick = inside & (y[source] == c)
        if members[c].size and pick.any():
            target[pick] = members[c][rng.integers(0, members[c].size, size=int(pick.sum()))]
    lo, hi = np.minimum(source, target), np.maximum(source, target)
    keep = lo != hi
    keys = np.unique(lo[keep].astype(np.int64) * n + hi[keep])
    wanted = round(config.average_degree * n / 2)
    if keys.size > wanted:
        keys = np.sort(rng.choice(keys, size=wanted, replace=False))
    edges = np.stack([keys // n, keys % n]).astype(np.int64)
    means = rng.normal(size=(k, config.num_features))
    means /= np.linalg.norm(means, axis=1, keepdims=True)
    x = config.feature_signal * means[y] + rng.normal(size=(n, config.num_features))
    return GraphArrays(x=x.astype(np.float32), y=y.astype(np.int64), edges=edges)
