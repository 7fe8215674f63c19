"""The train/validation/test splits and deletion candidates, in numpy only.

``tasks.make_node_task``/``make_link_task`` and ``deletion.sample_edge_deletion`` build on
these; the benchmarks' spec check uses them too, so that ``unlearn-bench validate``
refuses a deletion the run would refuse (too few edges outside the test set's 2-hop
neighbourhood) without importing torch.
"""

from __future__ import annotations

from typing import Literal

import numpy as np


def node_split_order(
    num_nodes: int, rng: np.random.Generator, train_ratio: float = 0.6, val_ratio: float = 0.2
) -> tuple[np.ndarray, int, int]:
    """A random node order and the train and validation counts (the rest is test)."""
    if not (train_ratio > 0 and val_ratio >= 0 and train_ratio + val_ratio < 1):
        raise ValueError(
            f"need 0 < train_ratio, 0 <= val_ratio, sum < 1; got {train_ratio}, {val_ratio}"
        )
    order = rng.permutation(num_nodes)
    return order, max(1, int(train_ratio * num_nodes)), int(val_ratio * num_nodes)


def link_split_order(
    num_edges: int, rng: np.random.Generator, val_ratio: float = 0.05, test_ratio: float = 0.1
) -> tuple[np.ndarray, int, int]:
    """A random edge order and the test and validation counts (test first, the rest trains)."""
    if not (val_ratio >= 0 and test_ratio > 0 and val_ratio + test_ratio < 1):
        raise ValueError(
            f"need 0 <= val_ratio, 0 < test_ratio, sum < 1; got {val_ratio}, {test_ratio}"
        )
    order = rng.permutation(num_edges)
    return order, max(1, int(test_ratio * num_edges)), int(val_ratio * num_edges)


def nodes_within(edges: np.ndarray, num_nodes: int, sources: np.ndarray, hops: int) -> np.ndarray:
    """Boolean mask of the nodes at most ``hops`` edges away from ``sources`` (undirected)."""
    import scipy.sparse as sp

    reached = np.zeros(num_nodes, dtype=bool)
    reached[np.asarray(sources, dtype=np.int64)] = True
    if hops <= 0 or edges.shape[1] == 0:
        return reached
    adjacency = sp.coo_matrix(
        (np.ones(edges.shape[1] * 2), (np.r_[edges[0], edges[1]], np.r_[edges[1], edges[0]])),
        shape=(num_nodes, num_nodes),
    ).tocsr()
    frontier = reached.copy()
    for _ in range(hops):
        frontier = (adjacency @ frontier.astype(np.float64)) > 0
        frontier &= ~reached
        if not frontier.any():
            break
        reached |= frontier
    return reached


def edge_deletion_candidates(
    edges: np.ndarray, num_nodes: int, sources: np.ndarray, where: Literal["in", "out"]
) -> np.ndarray:
    """Indices of the training ``edges`` inside ("in") or outside ("out") the 2-hop
    neighbourhood of ``sources`` (GNNDelete's two ways of sampling $D_f$)."""
    if where not in ("in", "out"):
        raise ValueError(f"where must be 'in' or 'out', got {where!r}")
    near = nodes_within(edges, num_nodes, sources, 2)
    inside = near[edges[0]] & near[edges[1]]
    return np.flatnonzero(inside if where == "in" else ~inside)
