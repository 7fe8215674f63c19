"""Metrics of a node selection: dismantling, spreading, coverage, control.

Each takes the graph (and the selected nodes) and returns a share of nodes or a count,
so that selectors are compared on the same scale.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from graph_algos.kernels import as_csr, connected_components, largest_component_size
from graph_algos.methods.critical import (
    driver_nodes,
    exact_critical_nodes,
    greedy_critical_nodes,
)
from graph_algos.methods.influence import SpreadEstimator


def pairwise_connectivity(adjacency: sp.spmatrix, removed: list[int] | None = None) -> float:
    r"""Pairwise connectivity $\sum_C |C|(|C| - 1)/2$ over the components left after ``removed``."""
    matrix = as_csr(adjacency)
    keep = np.ones(matrix.shape[0], dtype=bool)
    if removed:
        keep[removed] = False
    _, labels = connected_components(matrix[keep][:, keep])
    sizes = np.bincount(labels).astype(np.float64)
    return float((sizes * (sizes - 1) / 2).sum())


def largest_component_after_removal(adjacency: sp.spmatrix, ranking: list[int], k: int) -> float:
    """Share of nodes in the largest component after deleting the first k of ``ranking``."""
    n = adjacency.shape[0]
    return largest_component_size(adjacency, ranking[:k]) / n


def cascade_spread(spread: SpreadEstimator, selected: list[int]) -> float:
    r"""Expected share of nodes a cascade from ``selected`` infects: $\sigma(S) / n$."""
    return spread(selected) / spread.n


def covered_targets(adjacency: sp.spmatrix, selected: list[int], steps: int = 2) -> int:
    """Number of nodes within ``steps`` hops of at least one selected node."""
    matrix = as_csr(adjacency)
    reach = np.zeros(matrix.shape[0], dtype=bool)
    reach[selected] = True
    for _ in range(steps):
        reach = reach | (matrix @ reach.astype(np.float64) > 0)
    return int(reach.sum())


def two_hop_coverage(adjacency: sp.spmatrix, selected: list[int]) -> float:
    """Share of nodes within two hops of a selected node (the targets an attack reaches)."""
    return covered_targets(adjacency, selected) / adjacency.shape[0]


def greedy_cnd_excess_pairs(adjacency: sp.spmatrix, k: int) -> float:
    """Connected pairs greedy deletion of k nodes leaves above the exact ILP optimum."""
    _, optimum = exact_critical_nodes(adjacency, k)
    return pairwise_connectivity(adjacency, greedy_critical_nodes(adjacency, k)) - optimum


def driver_node_share(adjacency: sp.spmatrix) -> float:
    """N_D / n: the share of nodes that must be driven to control the network."""
    return len(driver_nodes(adjacency)) / max(adjacency.shape[0], 1)
