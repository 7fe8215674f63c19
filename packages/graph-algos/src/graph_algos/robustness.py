"""Node selection for black-box attacks on GNNs: RWCS and GC-RWCS.

Seed paper: Ma, Ding, Mei, "Towards More Practical Adversarial Attacks on Graph Neural
Networks" (NeurIPS 2020, arXiv:2006.05057). The gradient of an L-layer GNN's loss with
respect to node j's features is, in expectation over the ReLU gates, proportional to
the j-th column sum of M^L, with M = D̃⁻¹Ã the random-walk matrix of the graph with
self-loops Ã = A + I. So

* RWCS (random walk column sum) scores node j by I_j = Σ_i [M^L]_ij and attacks the
  top r nodes among those the attacker can access;
* GC-RWCS corrects the diminishing return of attacking nodes that influence the same
  targets: it binarises M^L (B_ij = 1 when [M^L]_ij > 0, i.e. j within L hops of i),
  and greedily picks the accessible node that influences the most targets covered fewer
  than ``saturation`` times so far (ties broken by I_j), then increments the cover
  counts of the targets it influences.

The selection is the paper's; the binarisation threshold and the plain saturation
count are our reading of the greedy correction, and no GNN is trained here.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from graph_algos.kernels import as_csr


def random_walk_power(adjacency: sp.spmatrix, steps: int) -> sp.csr_matrix:
    """M^L with M = D̃⁻¹(A + I), as a sparse matrix (rows are the start nodes)."""
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    matrix = as_csr(adjacency)
    with_loops = matrix + sp.identity(matrix.shape[0], format="csr")
    inverse_degree = 1.0 / np.asarray(with_loops.sum(axis=1)).ravel()
    walk = sp.csr_matrix(sp.diags(inverse_degree) @ with_loops)
    power = walk
    for _ in range(steps - 1):
        power = sp.csr_matrix(power @ walk)
    return power


def _candidates(n: int, accessible: list[int] | None) -> np.ndarray:
    if accessible is None:
        return np.arange(n)
    array = np.unique(np.asarray(accessible, dtype=np.int64))
    bad = array[(array < 0) | (array >= n)]
    if bad.size:
        raise ValueError(
            f"accessible nodes {bad.tolist()} are not in the graph: nodes are 0..{n - 1}"
        )
    return array


def rwcs_scores(adjacency: sp.spmatrix, steps: int = 2) -> np.ndarray:
    """Importance I_j = Σ_i [M^L]_ij of every node."""
    return np.asarray(random_walk_power(adjacency, steps).sum(axis=0)).ravel()


def rwcs(
    adjacency: sp.spmatrix, budget: int, steps: int = 2, accessible: list[int] | None = None
) -> list[int]:
    """The ``budget`` accessible nodes of largest random-walk column sum."""
    scores = rwcs_scores(adjacency, steps)
    pool = _candidates(len(scores), accessible)
    if not 0 <= budget <= len(pool):
        raise ValueError(f"budget must be in [0, {len(pool)}] accessible nodes, got {budget}")
    order = pool[np.lexsort((pool, -scores[pool]))]
    return [int(v) for v in order[:budget]]


def gc_rwcs(
    adjacency: sp.spmatrix,
    budget: int,
    steps: int = 2,
    saturation: int = 1,
    accessible: list[int] | None = None,
) -> list[int]:
    """Greedy-corrected RWCS: cover as many targets as possible, each at most
    ``saturation`` times, before stacking more influence on the same targets."""
    if saturation < 1:
        raise ValueError(f"saturation must be at least 1, got {saturation}")
    power = random_walk_power(adjacency, steps)
    scores = np.asarray(power.sum(axis=0)).ravel()
    n = len(scores)
    pool = _candidates(n, accessible)
    if not 0 <= budget <= len(pool):
        raise ValueError(f"budget must be in [0, {len(pool)}] accessible nodes, got {budget}")
    influence = power.tocsc()[:, pool]  # column c: the targets candidate pool[c] reaches
    influence.data[:] = 1.0
    influence = sp.csc_matrix(influence)
    cover = np.zeros(n)
    taken = np.zeros(len(pool), dtype=bool)
    chosen: list[int] = []
    for _ in range(budget):
        open_targets = (cover < saturation).astype(np.float64)
        gains = influence.T @ open_targets
        gains[taken] = -1.0
        # Lexicographic: most open targets, then the larger importance score.
        best = int(np.lexsort((-scores[pool], -gains))[0])
        taken[best] = True
        chosen.append(int(pool[best]))
        cover[influence[:, best].indices] += 1.0
    return chosen


def covered_targets(adjacency: sp.spmatrix, selected: list[int], steps: int = 2) -> int:
    """Number of nodes within ``steps`` hops of at least one selected node."""
    matrix = as_csr(adjacency)
    reach = np.zeros(matrix.shape[0], dtype=bool)
    reach[selected] = True
    for _ in range(steps):
        reach = reach | (matrix @ reach.astype(np.float64) > 0)
    return int(reach.sum())
