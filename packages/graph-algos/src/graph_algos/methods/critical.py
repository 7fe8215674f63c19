r"""Critical nodes: centralities, critical node deletion, structural controllability.

Seed paper: "Critical Nodes Identification in Complex Networks: A Survey" (2025). One
function per family of the survey that a numpy/scipy core can do well (influence
maximisation is in ``influence``):

* Centralities: degree, betweenness, closeness, PageRank, k-core, collective influence
  $CI_\ell(i) = (k_i - 1) \sum_{j \in \partial B(i, \ell)} (k_j - 1)$ (Morone & Makse
  2015), where $\partial B(i, \ell)$ are the nodes at distance exactly $\ell$ from i.
* Critical node deletion: delete k nodes to minimise the pairwise connectivity
  $\sum_C |C|(|C| - 1)/2$ over the remaining components. Greedy (remove the node whose
  deletion lowers it most, k times) and exact for small graphs by the ILP of
  Arulselvan et al. (2009): minimise $\sum u_{ij}$ subject to $u_{ij} + v_i + v_j \ge 1$
  for each edge, $u_{ij} + u_{jk} - u_{ik} \le 1$ (and rotations) for each triple,
  $\sum v_i \le k$, binaries.
* Structural controllability (Liu, Slotine, Barabási 2011): driver nodes are the nodes
  left unmatched by a maximum matching of the out-copy → in-copy bipartite graph;
  $N_D = \max(n - |M^*|, 1)$.

Registry entries (selectors, ``select(adjacency, problem: NodeSelection, params, *,
seed=None) -> nodes``): one ``CentralitySelector`` per centrality, and
``select_greedy_cnd``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from pydantic import BaseModel, Field
from scipy.sparse import csgraph
from unlearn_schema import MethodParams, NoParams

from graph_algos.kernels import (
    as_csr,
    betweenness,
    closeness,
    core_numbers,
    pagerank,
    unweighted,
)
from graph_algos.methods.selection import NodeSelection
from graph_algos.seeding import SeedLike

CENTRALITIES = ("degree", "betweenness", "closeness", "pagerank", "k-core", "collective-influence")


def collective_influence(adjacency: sp.spmatrix, radius: int = 2) -> np.ndarray:
    r"""$CI_\ell(i) = (k_i - 1) \sum_j (k_j - 1)$ over the nodes j at distance exactly $\ell$."""
    if radius < 1:
        raise ValueError(f"radius must be at least 1, got {radius}")
    matrix = unweighted(adjacency)
    n = matrix.shape[0]
    degree = np.diff(matrix.indptr).astype(np.float64)
    within = sp.identity(n, format="csr", dtype=bool)
    step = matrix.astype(bool)
    reach = within
    previous = within
    for _ in range(radius):
        previous = reach
        reach = (reach + reach @ step).astype(bool)
    boundary = (reach.astype(np.int8) - previous.astype(np.int8)).tocsr()
    boundary.eliminate_zeros()
    return (degree - 1.0) * (boundary @ (degree - 1.0))


def centrality(
    adjacency: sp.spmatrix,
    name: str,
    seed: SeedLike = None,
    samples: int | None = None,
    radius: int = 2,
) -> np.ndarray:
    """A centrality by name (one of ``CENTRALITIES``); higher means more critical.

    ``samples`` (betweenness: sampled sources, None for exact) and ``radius``
    (collective influence) apply to those two only.
    """
    if name == "degree":
        return np.diff(as_csr(adjacency).indptr).astype(np.float64)
    if name == "betweenness":
        return betweenness(adjacency, samples=samples, seed=seed)
    if name == "closeness":
        return closeness(adjacency)
    if name == "pagerank":
        return pagerank(adjacency)
    if name == "k-core":
        return core_numbers(adjacency).astype(np.float64)
    if name == "collective-influence":
        return collective_influence(adjacency, radius)
    raise ValueError(f"unknown centrality {name!r}; accepted: {', '.join(CENTRALITIES)}")


def top_k(scores: np.ndarray, k: int) -> list[int]:
    """The k highest-scoring nodes, ties broken by the lower index."""
    order = np.lexsort((np.arange(len(scores)), -scores))
    return [int(i) for i in order[:k]]


def connectivity_after_removal(
    adjacency: sp.spmatrix, removed: list[int] | None = None
) -> np.ndarray:
    """Pairwise connectivity after additionally deleting each node, for every node at once.

    One depth-first search (Tarjan's low-links with subtree sizes) finds, for every node
    v, the pieces its removal cuts its component into: each DFS child c with
    low(c) ≥ disc(v) becomes a piece of size(c), the rest of the component another. So
    one greedy step costs O(n + m) instead of n component searches. Deleted nodes get +inf.
    """
    matrix = as_csr(adjacency)
    n = matrix.shape[0]
    alive = [True] * n
    for node in removed or []:
        alive[node] = False
    indptr = matrix.indptr.tolist()
    indices = matrix.indices.tolist()
    disc = [-1] * n
    low = [0] * n
    size = [0] * n
    parent = [-1] * n
    pointer = [0] * n
    cut_size = [0] * n  # nodes in the pieces split off below v
    cut_pairs = [0.0] * n  # pairs inside those pieces
    component_of = [-1] * n
    component_sizes: list[int] = []
    clock = 0
    for root in range(n):
        if not alive[root] or disc[root] >= 0:
            continue
        label = len(component_sizes)
        members = 0
        disc[root] = low[root] = clock
        clock += 1
        size[root] = 1
        pointer[root] = indptr[root]
        stack = [root]
        while stack:
            v = stack[-1]
            if pointer[v] < indptr[v + 1]:
                u = indices[pointer[v]]
                pointer[v] += 1
                if not alive[u] or u == v:
                    continue
                if disc[u] < 0:
                    parent[u] = v
                    disc[u] = low[u] = clock
                    clock += 1
                    size[u] = 1
                    pointer[u] = indptr[u]
                    stack.append(u)
                elif u != parent[v]:
                    low[v] = min(low[v], disc[u])
            else:
                stack.pop()
                component_of[v] = label
                members += 1
                p = parent[v]
                if p >= 0:
                    low[p] = min(low[p], low[v])
                    size[p] += size[v]
                    if low[v] >= disc[p]:
                        cut_size[p] += size[v]
                        cut_pairs[p] += size[v] * (size[v] - 1) / 2
        component_sizes.append(members)
    sizes = np.array(component_sizes, dtype=np.float64)
    base = float((sizes * (sizes - 1) / 2).sum())
    result = np.full(n, np.inf)
    for v in range(n):
        if not alive[v]:
            continue
        whole = component_sizes[component_of[v]]
        rest = whole - 1 - cut_size[v]
        result[v] = base - whole * (whole - 1) / 2 + cut_pairs[v] + rest * (rest - 1) / 2
    return result


def greedy_critical_nodes(adjacency: sp.spmatrix, k: int) -> list[int]:
    """Greedy critical node deletion: k times, delete the node that lowers pairwise
    connectivity most (ties to the lower index); each step is one O(n + m) search."""
    matrix = as_csr(adjacency)
    n = matrix.shape[0]
    if not 0 <= k <= n:
        raise ValueError(f"k must be in [0, n={n}], got {k}")
    removed: list[int] = []
    for _ in range(k):
        scores = connectivity_after_removal(matrix, removed)
        removed.append(int(np.argmin(scores)))
    return removed


EXACT_LIMIT = 30
"""Largest n for the exact ILP: n = 16 solves in seconds, n = 30 in about 4 minutes on 2 cores."""


def exact_critical_nodes(adjacency: sp.spmatrix, k: int) -> tuple[list[int], float]:
    """Optimal critical node deletion by the Arulselvan et al. ILP (scipy's HiGHS MILP).

    Has n + n(n−1)/2 binaries and 3·C(n, 3) triangle rows, so it is limited to
    n ≤ ``EXACT_LIMIT``. Returns the deleted nodes and the optimal pairwise connectivity.
    """
    from scipy.optimize import Bounds, LinearConstraint, milp

    matrix = as_csr(adjacency)
    n = matrix.shape[0]
    if n > EXACT_LIMIT:
        raise ValueError(
            f"the exact ILP is limited to n <= {EXACT_LIMIT} nodes, got n={n}; "
            "use greedy_critical_nodes for larger graphs"
        )
    if not 0 <= k <= n:
        raise ValueError(f"k must be in [0, n={n}], got k={k}")
    rows, cols = np.triu_indices(n, k=1)
    pair_id = np.full((n, n), -1, dtype=np.int64)
    pair_id[rows, cols] = np.arange(len(rows)) + n
    pair_id[cols, rows] = pair_id[rows, cols]
    variables = n + len(rows)
    cost = np.concatenate([np.zeros(n), np.ones(len(rows))])
    a_rows: list[np.ndarray] = []
    lower: list[float] = []
    upper: list[float] = []
    coo = sp.triu(matrix, k=1).tocoo()
    for i, j in zip(coo.row.tolist(), coo.col.tolist(), strict=True):
        row = np.zeros(variables)
        row[[i, j, pair_id[i, j]]] = 1.0
        a_rows.append(row)
        lower.append(1.0)
        upper.append(np.inf)
    for i in range(n):
        for j in range(i + 1, n):
            for m in range(j + 1, n):
                ij, jm, im = pair_id[i, j], pair_id[j, m], pair_id[i, m]
                for plus_a, plus_b, minus in ((ij, jm, im), (ij, im, jm), (jm, im, ij)):
                    row = np.zeros(variables)
                    row[[plus_a, plus_b]] = 1.0
                    row[minus] = -1.0
                    a_rows.append(row)
                    lower.append(-np.inf)
                    upper.append(1.0)
    budget = np.concatenate([np.ones(n), np.zeros(len(rows))])
    a_rows.append(budget)
    lower.append(-np.inf)
    upper.append(float(k))
    constraints = LinearConstraint(sp.csr_matrix(np.array(a_rows)), lower, upper)
    result = milp(
        cost,
        constraints=constraints,
        integrality=np.ones(variables),
        bounds=Bounds(0, 1),
    )
    if not result.success:
        raise RuntimeError(f"the critical-node ILP failed: {result.message}")
    chosen = [int(i) for i in np.flatnonzero(result.x[:n] > 0.5)]
    return chosen, float(round(result.fun))


# ---------------------------------------------------------------------- controllability


def driver_nodes(adjacency: sp.spmatrix) -> list[int]:
    """Driver nodes of a directed network (row u, column v = edge u → v).

    The nodes whose in-copy a maximum matching leaves unmatched; if the matching is
    perfect, one node (node 0) still has to be driven. An undirected graph counts every
    edge in both directions.
    """
    matrix = as_csr(adjacency)
    n = matrix.shape[0]
    # perm_type="row": entry v is the out-copy u matched to the in-copy v (or -1).
    matched_from = csgraph.maximum_bipartite_matching(matrix, perm_type="row")
    unmatched = [int(v) for v in np.flatnonzero(matched_from < 0)]
    return unmatched if unmatched else [0] if n else []


# ------------------------------------------------------------------ registry entries


class BetweennessParams(MethodParams):
    """Betweenness: Brandes from ``samples`` uniformly drawn sources (None: exact)."""

    samples: int | None = Field(default=None, ge=1, description="Sampled BFS sources.")


class CollectiveInfluenceParams(MethodParams):
    r"""Collective influence: the radius $\ell$ of the ball whose boundary is summed."""

    radius: int = Field(default=2, ge=1, le=6)


@dataclass(frozen=True)
class CentralitySelector:
    """Selector: the ``budget`` nodes of largest centrality ``name`` (ties to the lower index).

    The params' fields (``BetweennessParams.samples``, ``CollectiveInfluenceParams.radius``)
    are passed on to ``centrality``; the other centralities take ``NoParams``.
    """

    name: str

    def __call__(
        self,
        adjacency: sp.spmatrix,
        problem: NodeSelection,
        params: BaseModel,
        *,
        seed: SeedLike = None,
    ) -> list[int]:
        scores = centrality(adjacency, self.name, seed=seed, **params.model_dump())
        return top_k(scores, problem.budget)


select_by_degree = CentralitySelector("degree")
select_by_betweenness = CentralitySelector("betweenness")
select_by_closeness = CentralitySelector("closeness")
select_by_pagerank = CentralitySelector("pagerank")
select_by_k_core = CentralitySelector("k-core")
select_by_collective_influence = CentralitySelector("collective-influence")


def select_greedy_cnd(
    adjacency: sp.spmatrix, problem: NodeSelection, params: NoParams, *, seed: SeedLike = None
) -> list[int]:
    """Selector: greedy critical node deletion of ``budget`` nodes (deterministic)."""
    del params, seed
    return greedy_critical_nodes(adjacency, problem.budget)
