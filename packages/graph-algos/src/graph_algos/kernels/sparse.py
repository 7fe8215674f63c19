"""Adjacency matrices as ``scipy.sparse`` CSR: conversions and checks every kernel shares."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def as_csr(adjacency: sp.spmatrix | sp.sparray | np.ndarray) -> sp.csr_matrix:
    """A float64 CSR view of a square adjacency matrix (no copy when it already is one).

    Raises on a non-square input. Callers must not modify the result in place.
    """
    if isinstance(adjacency, sp.csr_matrix) and adjacency.dtype == np.float64:
        matrix = adjacency
    else:
        matrix = sp.csr_matrix(adjacency, dtype=np.float64)
    if matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"adjacency must be square, got shape {matrix.shape}")
    return matrix


def unweighted(adjacency: sp.spmatrix | sp.sparray | np.ndarray) -> sp.csr_matrix:
    """A fresh CSR copy with every stored weight set to one."""
    matrix = as_csr(adjacency).copy()
    matrix.data[:] = 1.0
    return matrix


def check_node(adjacency: sp.spmatrix, node: int, name: str = "node") -> int:
    """``node`` as an int, or a ValueError naming it when it is not in the graph."""
    n = adjacency.shape[0]
    if not (isinstance(node, int | np.integer) and 0 <= int(node) < n):
        raise ValueError(f"{name} {node!r} is not in the graph: nodes are 0..{n - 1}")
    return int(node)


def degrees(adjacency: sp.spmatrix) -> np.ndarray:
    """Weighted degree (row sums) of every node."""
    return np.asarray(as_csr(adjacency).sum(axis=1)).ravel()
