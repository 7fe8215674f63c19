"""Critical nodes: centralities, critical node deletion, influence maximisation, control.

Seed paper: "Critical Nodes Identification in Complex Networks: A Survey" (2025). One
function per family of the survey that a numpy/scipy core can do well:

* Centralities: degree, betweenness, closeness, PageRank, k-core, collective influence
  CI_ℓ(i) = (k_i − 1) Σ_{j ∈ ∂Ball(i, ℓ)} (k_j − 1) (Morone & Makse 2015), where
  ∂Ball(i, ℓ) are the nodes at distance exactly ℓ from i.
* Critical node deletion: delete k nodes to minimise the pairwise connectivity
  Σ_C |C|(|C| − 1)/2 over the remaining components. Greedy (remove the node whose
  deletion lowers it most, k times) and exact for small graphs by the ILP of
  Arulselvan et al. (2009): minimise Σ u_ij subject to u_ij + v_i + v_j ≥ 1 for each
  edge, u_ij + u_jk − u_ik ≤ 1 (and rotations) for each triple, Σ v_i ≤ k, binaries.
* Influence maximisation under independent cascade (each edge, in each direction,
  passes the infection once with probability p) and linear threshold (weights
  1/deg(v) into v): spread estimated on sampled live-edge graphs (Kempe, Kleinberg,
  Tardos 2003); CELF lazy greedy (Leskovec et al. 2007); reverse-reachable sets
  (Borgs et al. 2014): sample RR sets, pick seeds by greedy maximum coverage.
* Structural controllability (Liu, Slotine, Barabási 2011): driver nodes are the
  nodes left unmatched by a maximum matching of the out-copy → in-copy bipartite graph;
  N_D = max(n − |M*|, 1).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Literal

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph

from graph_algos.generators import SeedLike, as_rng
from graph_algos.kernels import (
    as_csr,
    betweenness,
    closeness,
    connected_components,
    core_numbers,
    largest_component_size,
    pagerank,
    unweighted,
)

Cascade = Literal["ic", "lt"]
CENTRALITIES = ("degree", "betweenness", "closeness", "pagerank", "k-core", "collective-influence")


def collective_influence(adjacency: sp.spmatrix, radius: int = 2) -> np.ndarray:
    """CI_ℓ of every node: (k_i − 1) times Σ (k_j − 1) over the nodes at distance exactly ℓ."""
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
    adjacency: sp.spmatrix, name: str, seed: SeedLike = None, samples: int | None = None
) -> np.ndarray:
    """A centrality by name (one of ``CENTRALITIES``); higher means more critical."""
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
        return collective_influence(adjacency)
    raise ValueError(f"unknown centrality {name!r}; accepted: {', '.join(CENTRALITIES)}")


def top_k(scores: np.ndarray, k: int) -> list[int]:
    """The k highest-scoring nodes, ties broken by the lower index."""
    order = np.lexsort((np.arange(len(scores)), -scores))
    return [int(i) for i in order[:k]]


def pairwise_connectivity(adjacency: sp.spmatrix, removed: list[int] | None = None) -> float:
    """Σ over components of |C|(|C| − 1)/2 after deleting ``removed``."""
    matrix = as_csr(adjacency)
    keep = np.ones(matrix.shape[0], dtype=bool)
    if removed:
        keep[removed] = False
    _, labels = connected_components(matrix[keep][:, keep])
    sizes = np.bincount(labels).astype(np.float64)
    return float((sizes * (sizes - 1) / 2).sum())


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


# ------------------------------------------------------------------ influence spread


def _check_cascade(model: str, probability: float) -> None:
    if model not in ("ic", "lt"):
        raise ValueError(f"unknown cascade model {model!r}; accepted: ic, lt")
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"probability must be in [0, 1], got {probability}")


def live_edge_graph(
    adjacency: sp.spmatrix, model: Cascade, probability: float, rng: np.random.Generator
) -> sp.csr_matrix:
    """One live-edge sample (directed u → v means 'u infects v').

    IC: each directed edge is live with ``probability``. LT with weights 1/deg(v): each
    node v keeps exactly one incoming edge, chosen uniformly (Kempe et al., Claim 2.6).
    """
    matrix = as_csr(adjacency)
    n = matrix.shape[0]
    coo = matrix.tocoo()  # rows u, cols v: the edge u -> v
    if model == "ic":
        live = rng.random(coo.nnz) < probability
        return sp.csr_matrix((np.ones(int(live.sum())), (coo.row[live], coo.col[live])), (n, n))
    incoming = matrix.T.tocsr()  # row v lists the in-neighbours of v
    in_degree = np.diff(incoming.indptr)
    has = np.flatnonzero(in_degree > 0)
    picks = incoming.indptr[has] + (rng.random(len(has)) * in_degree[has]).astype(np.int64)
    sources = incoming.indices[picks]
    return sp.csr_matrix((np.ones(len(has)), (sources, has)), (n, n))


class SpreadEstimator:
    """Monte Carlo spread σ(S) on a fixed set of sampled live-edge graphs (common random
    numbers, so that CELF's marginal gains are comparable).

    The samples are stacked into one block-diagonal graph plus a virtual source whose
    edges go to the seeds' copies, so one BFS evaluates σ(S) over every sample.
    """

    def __init__(
        self,
        adjacency: sp.spmatrix,
        model: Cascade = "ic",
        probability: float = 0.1,
        samples: int = 100,
        seed: SeedLike = None,
    ) -> None:
        _check_cascade(model, probability)
        if samples < 1:
            raise ValueError(f"samples must be positive, got {samples}")
        rng = as_rng(seed)
        self.n = adjacency.shape[0]
        self.samples = samples
        blocks = [live_edge_graph(adjacency, model, probability, rng) for _ in range(samples)]
        stacked = sp.block_diag([*blocks, sp.csr_matrix((1, 1))], format="csr")
        self._indptr = stacked.indptr
        self._indices = stacked.indices
        self.calls = 0

    def __call__(self, seeds: list[int]) -> float:
        for s in seeds:
            if not 0 <= s < self.n:
                raise ValueError(f"seed node {s} is not in the graph: nodes are 0..{self.n - 1}")
        self.calls += 1
        if not seeds:
            return 0.0
        size = self.n * self.samples + 1
        targets = (np.asarray(seeds)[None, :] + self.n * np.arange(self.samples)[:, None]).ravel()
        indptr = self._indptr.copy()
        indptr[-1] += len(targets)
        indices = np.concatenate([self._indices, targets]).astype(self._indices.dtype)
        graph = sp.csr_matrix((np.ones(len(indices)), indices, indptr), shape=(size, size))
        order = csgraph.breadth_first_order(graph, size - 1, return_predecessors=False)
        return (len(order) - 1) / self.samples


def celf(spread: Callable[[list[int]], float], n: int, k: int) -> list[int]:
    """CELF lazy greedy: re-evaluate a node's marginal gain only when it tops the queue."""
    if not 0 <= k <= n:
        raise ValueError(f"k must be in [0, n={n}], got k={k}")
    chosen: list[int] = []
    current = 0.0
    heap = [(-spread([v]), v, 0) for v in range(n)]
    heapq.heapify(heap)
    while len(chosen) < k and heap:
        negative_gain, node, round_seen = heapq.heappop(heap)
        if round_seen == len(chosen):
            chosen.append(node)
            current += -negative_gain
            continue
        gain = spread([*chosen, node]) - current
        heapq.heappush(heap, (-gain, node, len(chosen)))
    return chosen


def reverse_reachable_seeds(
    adjacency: sp.spmatrix,
    k: int,
    model: Cascade = "ic",
    probability: float = 0.1,
    sets: int = 2000,
    seed: SeedLike = None,
) -> tuple[list[int], float]:
    """Seeds by greedy maximum coverage of ``sets`` reverse-reachable sets.

    An RR set is the set of nodes that reach a uniformly random node in a live-edge
    sample; σ(S) ≈ n × (share of RR sets that S touches). Returns the seeds and that
    spread estimate.
    """
    _check_cascade(model, probability)
    matrix = as_csr(adjacency)
    n = matrix.shape[0]
    if not 0 <= k <= n:
        raise ValueError(f"k must be in [0, n={n}], got k={k}")
    rng = as_rng(seed)
    incoming = matrix.T.tocsr()  # row v lists the in-neighbours u of v (edges u -> v)
    indptr, indices = incoming.indptr, incoming.indices
    members: list[np.ndarray] = []
    for target in rng.integers(0, n, size=sets).tolist():
        # Reverse BFS that samples each in-edge only when it is reached (lazy live edges).
        visited = {target}
        frontier = [target]
        while frontier:
            v = frontier.pop()
            neighbours = indices[indptr[v] : indptr[v + 1]]
            if len(neighbours) == 0:
                continue
            if model == "ic":
                live = neighbours[rng.random(len(neighbours)) < probability].tolist()
            else:  # LT with weights 1/deg(v): v listens to exactly one in-neighbour
                live = [int(neighbours[rng.integers(len(neighbours))])]
            for u in live:
                if u not in visited:
                    visited.add(u)
                    frontier.append(u)
        members.append(np.fromiter(visited, dtype=np.int64, count=len(visited)))
    set_ids = np.repeat(np.arange(sets), [len(m) for m in members])
    incidence = sp.csr_matrix(
        (np.ones(len(set_ids)), (np.concatenate(members), set_ids)), shape=(n, sets)
    )
    covered = np.zeros(sets, dtype=bool)
    chosen: list[int] = []
    for _ in range(k):
        gains = incidence @ (~covered).astype(np.float64)
        gains[chosen] = -1.0
        best = int(np.argmax(gains))
        chosen.append(best)
        covered[incidence[best].indices] = True
    return chosen, float(n * covered.mean())


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


def largest_component_after_removal(adjacency: sp.spmatrix, ranking: list[int], k: int) -> float:
    """Share of nodes in the largest component after deleting the first k of ``ranking``."""
    n = adjacency.shape[0]
    return largest_component_size(adjacency, ranking[:k]) / n


def driver_node_share(adjacency: sp.spmatrix) -> float:
    """N_D / n: the share of nodes that must be driven to control the network."""
    return len(driver_nodes(adjacency)) / max(adjacency.shape[0], 1)
