r"""Node selection for black-box attacks on GNNs: RWCS and GC-RWCS.

Seed paper: Ma, Ding, Mei, "Towards More Practical Adversarial Attacks on Graph Neural
Networks" (NeurIPS 2020, arXiv:2006.05057). The gradient of an L-layer GNN's loss with
respect to node j's features is, in expectation over the ReLU gates, proportional to
the j-th column sum of $M^L$, with $M = \tilde D^{-1} \tilde A$ the random-walk matrix of
the graph with self-loops $\tilde A = A + I$. So

* RWCS (random walk column sum) scores node j by $I_j = \sum_i [M^L]_{ij}$ and attacks
  the top r nodes among those the attacker can access;
* GC-RWCS corrects the diminishing return of attacking nodes that influence the same
  targets: it binarises $M^L$ ($B_{ij} = 1$ when j is among the ``top_per_target``
  largest entries of row i, or anywhere in its support), and greedily picks the
  candidate that is a top influencer of the most targets covered fewer than
  ``saturation`` times so far (ties broken by $I_j$), then drops the picked node's
  neighbours from the candidates. Both selectors may skip nodes above a degree limit
  (``max_degree``), as the paper does to keep the attacked nodes inconspicuous.

The scores are the paper's; the default binarisation (the support of $M^L$) and the
saturation count are our reading of the greedy correction, and no GNN is trained here
(selections are judged by coverage, dismantling and spreading in ``critical-nodes``).

Registry entries (selectors, see ``graph_algos.methods.selection``): ``select_rwcs``,
``select_gc_rwcs``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from pydantic import Field
from unlearn_schema import MethodParams

from graph_algos.kernels import as_csr
from graph_algos.methods.selection import NodeSelection
from graph_algos.seeding import SeedLike


def random_walk_power(adjacency: sp.spmatrix, steps: int) -> sp.csr_matrix:
    r"""$M^L$ with $M = \tilde D^{-1}(A + I)$, as a sparse matrix (rows are the start nodes)."""
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


def _candidates(
    adjacency: sp.csr_matrix, accessible: list[int] | None, max_degree: int | None
) -> np.ndarray:
    n = adjacency.shape[0]
    if accessible is None:
        array = np.arange(n)
    else:
        array = np.unique(np.asarray(accessible, dtype=np.int64))
        bad = array[(array < 0) | (array >= n)]
        if bad.size:
            raise ValueError(
                f"accessible nodes {bad.tolist()} are not in the graph: nodes are 0..{n - 1}"
            )
    if max_degree is not None:
        if max_degree < 0:
            raise ValueError(f"max_degree must be non-negative, got {max_degree}")
        array = array[np.diff(adjacency.indptr)[array] <= max_degree]
    return array


def _check_budget(budget: int, pool: np.ndarray) -> None:
    if not 0 <= budget <= len(pool):
        raise ValueError(
            f"budget must be in [0, {len(pool)}] (the accessible nodes within the degree "
            f"limit), got {budget}"
        )


def rwcs_scores(adjacency: sp.spmatrix, steps: int = 2) -> np.ndarray:
    r"""Importance $I_j = \sum_i [M^L]_{ij}$ of every node."""
    return np.asarray(random_walk_power(adjacency, steps).sum(axis=0)).ravel()


def rwcs(
    adjacency: sp.spmatrix,
    budget: int,
    steps: int = 2,
    accessible: list[int] | None = None,
    max_degree: int | None = None,
) -> list[int]:
    """The ``budget`` accessible nodes (of degree ≤ ``max_degree``) of largest $I_j$."""
    matrix = as_csr(adjacency)
    scores = rwcs_scores(matrix, steps)
    pool = _candidates(matrix, accessible, max_degree)
    _check_budget(budget, pool)
    order = pool[np.lexsort((pool, -scores[pool]))]
    return [int(v) for v in order[:budget]]


def _binarised_influence(power: sp.csr_matrix, top_per_target: int | None) -> sp.csr_matrix:
    r"""$B_{ij} = 1$ where j is among the ``top_per_target`` largest entries of row i of $M^L$."""
    binary = power.copy()
    if top_per_target is not None:
        for i in range(binary.shape[0]):
            lo, hi = binary.indptr[i], binary.indptr[i + 1]
            if hi - lo > top_per_target:
                row = binary.data[lo:hi]
                cut = np.argpartition(-row, top_per_target)[top_per_target:]
                row[cut] = 0.0
        binary.eliminate_zeros()
    binary.data[:] = 1.0
    return binary


def gc_rwcs(
    adjacency: sp.spmatrix,
    budget: int,
    steps: int = 2,
    saturation: int = 1,
    accessible: list[int] | None = None,
    max_degree: int | None = None,
    top_per_target: int | None = None,
    exclude_neighbours: bool = True,
) -> list[int]:
    """Greedy-corrected RWCS.

    Each step picks the candidate that is a top influencer (binarised M^L) of the most
    targets covered fewer than ``saturation`` times so far (ties: larger I_j, then lower
    index), adds one to the cover count of those targets and, with
    ``exclude_neighbours``, drops the picked node's neighbours from the candidates so
    that the attacked nodes spread out.
    """
    if saturation < 1:
        raise ValueError(f"saturation must be at least 1, got {saturation}")
    if top_per_target is not None and top_per_target < 1:
        raise ValueError(f"top_per_target must be at least 1, got {top_per_target}")
    matrix = as_csr(adjacency)
    power = random_walk_power(matrix, steps)
    scores = np.asarray(power.sum(axis=0)).ravel()
    n = len(scores)
    pool = _candidates(matrix, accessible, max_degree)
    _check_budget(budget, pool)
    influence = sp.csc_matrix(_binarised_influence(power, top_per_target))
    open_candidate = np.zeros(n, dtype=bool)
    open_candidate[pool] = True
    cover = np.zeros(n)
    chosen: list[int] = []
    for _ in range(budget):
        if not open_candidate.any():
            # Excluding neighbours used up the candidates: fall back to any unpicked one.
            open_candidate[pool] = True
            open_candidate[chosen] = False
        candidates = np.flatnonzero(open_candidate)
        open_targets = (cover < saturation).astype(np.float64)
        gains = influence[:, candidates].T @ open_targets
        best = int(candidates[np.lexsort((candidates, -scores[candidates], -gains))[0]])
        chosen.append(best)
        cover[influence[:, best].indices] += 1.0
        open_candidate[best] = False
        if exclude_neighbours:
            open_candidate[matrix.indices[matrix.indptr[best] : matrix.indptr[best + 1]]] = False
    return chosen


# ------------------------------------------------------------------ registry entries


class RWCSParams(MethodParams):
    """RWCS: the walk length L (GNN layers) and the degree limit of attacked nodes."""

    steps: int = Field(default=2, ge=1, le=8, description="Walk length L (GNN layers).")
    max_degree: int | None = Field(default=None, ge=0, description="Skip nodes above it.")


class GCRWCSParams(RWCSParams):
    """GC-RWCS: also the cover count, the binarisation and the neighbour exclusion."""

    saturation: int = Field(default=1, ge=1, description="Covers after which a target is done.")
    top_per_target: int | None = Field(
        default=None, ge=1, description="Top influencers kept per target (None: support)."
    )
    exclude_neighbours: bool = True


def select_rwcs(
    adjacency: sp.spmatrix, problem: NodeSelection, params: RWCSParams, *, seed: SeedLike = None
) -> list[int]:
    """Selector: the ``budget`` nodes of largest random-walk column sum (deterministic)."""
    del seed
    return rwcs(adjacency, problem.budget, steps=params.steps, max_degree=params.max_degree)


def select_gc_rwcs(
    adjacency: sp.spmatrix, problem: NodeSelection, params: GCRWCSParams, *, seed: SeedLike = None
) -> list[int]:
    """Selector: greedy-corrected RWCS of ``budget`` nodes (deterministic)."""
    del seed
    return gc_rwcs(
        adjacency,
        problem.budget,
        steps=params.steps,
        saturation=params.saturation,
        max_degree=params.max_degree,
        top_per_target=params.top_per_target,
        exclude_neighbours=params.exclude_neighbours,
    )
