r"""Influence maximisation: spread on live-edge graphs, CELF and reverse-reachable sets.

Under independent cascade (each edge, in each direction, passes the infection once with
probability p) and linear threshold (weights 1/deg(v) into v), the spread $\sigma(S)$ of
a seed set S is estimated on sampled live-edge graphs (Kempe, Kleinberg, Tardos 2003);
CELF (Leskovec et al. 2007) is the lazy greedy on that estimate; reverse-reachable sets
(Borgs et al. 2014, arXiv:1212.0884) sample RR sets and pick seeds by greedy maximum
coverage.

Registry entries (selectors, see ``graph_algos.methods.selection``): ``select_celf``,
``select_reverse_reachable``.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from pydantic import Field
from scipy.sparse import csgraph
from unlearn_schema import MethodParams, NoParams

from graph_algos.kernels import as_csr
from graph_algos.methods.selection import Cascade, NodeSelection
from graph_algos.seeding import SeedLike, as_rng


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
    r"""Monte Carlo spread $\sigma(S)$ on a fixed set of sampled live-edge graphs (common random
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
    r"""Seeds by greedy maximum coverage of ``sets`` reverse-reachable sets.

    An RR set is the set of nodes that reach a uniformly random node in a live-edge
    sample; $\sigma(S) \approx n \times$ (share of RR sets that S touches). Returns the
    seeds and that spread estimate.
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


# ------------------------------------------------------------------ registry entries


def select_celf(
    adjacency: sp.spmatrix, problem: NodeSelection, params: NoParams, *, seed: SeedLike = None
) -> list[int]:
    """Selector: CELF on ``problem.spread`` (or on a fresh 100-sample estimator from ``seed``).

    Pass the estimator the selections are judged by as ``problem.spread``: CELF then
    maximises exactly that estimate (common random numbers).
    """
    del params
    spread = problem.spread
    if spread is None:
        spread = SpreadEstimator(adjacency, problem.cascade, problem.probability, seed=seed)
    return celf(spread, adjacency.shape[0], problem.budget)


class ReverseReachableParams(MethodParams):
    """Reverse-reachable sets: how many RR sets to sample."""

    sets: int = Field(default=3000, ge=100, le=1_000_000, description="RR sets sampled.")


def select_reverse_reachable(
    adjacency: sp.spmatrix,
    problem: NodeSelection,
    params: ReverseReachableParams,
    *,
    seed: SeedLike = None,
) -> list[int]:
    """Selector: greedy maximum coverage of ``params.sets`` reverse-reachable sets."""
    chosen, _ = reverse_reachable_seeds(
        adjacency, problem.budget, problem.cascade, problem.probability, params.sets, seed
    )
    return chosen
