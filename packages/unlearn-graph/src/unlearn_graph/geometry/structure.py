r"""Local structural descriptors of every node: what GraphShaper's fusion reads.

For node $i$ with degree $d_i$: $\log(1 + d_i)$; the local clustering coefficient
$C_i = 2 T_i / (d_i (d_i - 1))$ with $T_i$ the triangles through $i$ (0 when $d_i < 2$);
and the cycle density of its two-hop ball $B_i$, $(|E(B_i)| - |B_i| + 1) / |B_i|$, the
number of independent cycles of the induced subgraph per node (0 exactly when the ball is
a tree: a tree has $|E| = |V| - 1$). Trees give 0 and 0, ring lattices positive values of
both. numpy and scipy only.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

STRUCTURE_FEATURES = ("log_degree", "clustering", "two_hop_cycle_density")


def adjacency(num_nodes: int, edges: np.ndarray) -> sp.csr_matrix:
    """The symmetric 0/1 adjacency of unique undirected ``edges`` (shape ``(2, M)``)."""
    ones = np.ones(edges.shape[1] * 2)
    rows = np.concatenate([edges[0], edges[1]])
    cols = np.concatenate([edges[1], edges[0]])
    return sp.csr_matrix((ones, (rows, cols)), shape=(num_nodes, num_nodes))


def local_structure(num_nodes: int, edges: np.ndarray) -> np.ndarray:
    """``(num_nodes, 3)`` float32: `STRUCTURE_FEATURES` of every node."""
    a = adjacency(num_nodes, edges)
    degree = np.asarray(a.sum(axis=1)).ravel()
    triangles = np.asarray((a @ a).multiply(a).sum(axis=1)).ravel() / 2
    pairs = degree * (degree - 1) / 2
    clustering = np.divide(triangles, pairs, out=np.zeros_like(triangles), where=pairs > 0)
    ball = ((a + a @ a + sp.identity(num_nodes, format="csr")) > 0).tocsr()
    density = np.zeros(num_nodes)
    for node in range(num_nodes):
        members = ball.indices[ball.indptr[node] : ball.indptr[node + 1]]
        inside = a[members][:, members].nnz / 2
        density[node] = (inside - members.size + 1) / members.size
    return np.stack([np.log1p(degree), clustering, density], axis=1).astype(np.float32)
