r"""``graph-db-tutorial``: the graph-database tutorial's operations three ways on one graph.

The seed *Understanding Graph Databases: A Comprehensive Tutorial and Survey* teaches
graph queries (Cypher in Neo4j) next to NetworkX: load a graph, degrees, neighbourhoods,
shortest paths, centralities, communities. Here each runs on one generated graph (a
planted-partition block model, mean degree ``mean_degree``, weights uniform in
[1, ``max_weight``]) by

* **ours**: the CSR kernels (`graph_algos.kernels`);
* **networkx**: the library the tutorial uses;
* **database**: Cypher queries on LadybugDB (`graph_algos.store`, extra
  ``graph-algos[db]``): ``COPY`` bulk load, ``count`` for degrees, ``SHORTEST 1..2``
  for the 2-hop neighbourhood, ``WSHORTEST(weight)`` for single-source and
  point-to-point shortest paths. PageRank and communities are not in LadybugDB's core
  (its ``algo`` extension is downloaded on first use), so for those the database's row
  is the time to read the graph back (`to_csr`) and our kernel on it.

Each operation reports its time per implementation (``op_time``), the ratios
baseline / ours (``speedup``, above one: ours is faster) and ``answers_agree`` (1.0 when
the implementation's answer equals ours: same degrees and neighbour sets, distances
within $10^{-9}$ relative, PageRank within $10^{-6}$ per node). Louvain reports the
``modularity`` each implementation reaches (ours, networkx, igraph, Leiden by
leidenalg where the ``igraph`` extra is installed).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field
from unlearn_schema.base import StrictModel
from unlearn_schema.configs import BenchmarkSpec, Size
from unlearn_schema.plugins import NoParams, ParsedSpec, Progress
from unlearn_schema.recipes import machine_load_note, spec_from_parts
from unlearn_schema.results import BenchmarkResult, MetricValue

from graph_algos.kernels import astar, dijkstra, louvain, modularity, pagerank
from graph_algos.worlds.generators import stochastic_block_model


class TutorialGraph(StrictModel):
    """A planted-partition graph: ``blocks`` equal blocks, ``mixing`` of each node's
    edges leaving its block, weights uniform in [1, ``max_weight``]."""

    nodes: int = Field(ge=1000, le=2_000_000, description="Nodes of the graph.")
    mean_degree: float = Field(default=20.0, gt=1.0, le=200.0, description="Expected degree.")
    blocks: int = Field(default=100, ge=2, le=1000, description="Planted communities.")
    mixing: float = Field(default=0.2, ge=0.0, lt=1.0, description="Share of edges between blocks.")
    max_weight: float = Field(default=10.0, ge=1.0, description="Largest edge weight.")


class TutorialRun(StrictModel):
    """How many sources the path and neighbourhood operations start from, the engine,
    and which baselines to time."""

    sources: int = Field(default=3, ge=1, le=100, description="Path and 2-hop sources.")
    engine: Literal["ladybug"] = Field(default="ladybug", description="Graph database engine.")
    networkx: bool = Field(default=True, description="Time networkx too.")
    networkx_louvain: bool = Field(
        default=True, description="Time networkx's Louvain too (the slowest baseline)."
    )


METRIC_NAMES = frozenset({"op_time", "speedup", "answers_agree", "modularity", "edges"})


def tutorial_spec(size: Size) -> BenchmarkSpec:
    if size == "quick":
        graph = TutorialGraph(nodes=10_000, blocks=20)
    else:
        graph = TutorialGraph(nodes=100_000, blocks=100)
    return spec_from_parts(
        "graph-db-tutorial", size, world=("planted-partition", graph), params=TutorialRun()
    )


def tutorial_graph(world: TutorialGraph, seed: int) -> sp.csr_matrix:
    """The weighted symmetric adjacency of ``world`` (no self-loops)."""
    size = world.nodes // world.blocks
    sizes = [size] * (world.blocks - 1) + [world.nodes - size * (world.blocks - 1)]
    inside = (1.0 - world.mixing) * world.mean_degree / (size - 1)
    between = world.mixing * world.mean_degree / (world.nodes - size)
    probabilities = np.full((world.blocks, world.blocks), between)
    np.fill_diagonal(probabilities, min(1.0, inside))
    adjacency, _ = stochastic_block_model(sizes, probabilities, seed)
    upper = sp.triu(adjacency, k=1).tocsr()
    upper.data = np.random.default_rng(seed).uniform(1.0, world.max_weight, upper.nnz)
    return (upper + upper.T).tocsr()


def _timed(function: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def _two_hop(matrix: sp.csr_matrix, node: int) -> np.ndarray:
    """Nodes within two edges of ``node`` (itself excluded), from the CSR arrays."""
    first = matrix.indices[matrix.indptr[node] : matrix.indptr[node + 1]]
    second = matrix[first].indices
    reached = np.union1d(first, second)
    return reached[reached != node]


def _same_distances(a: np.ndarray, b: np.ndarray) -> bool:
    finite = np.isfinite(a)
    return bool(
        np.array_equal(finite, np.isfinite(b)) and np.allclose(a[finite], b[finite], rtol=1e-9)
    )


def warm_up_louvain() -> None:
    """Run `louvain` once on two triangles joined by an edge: with numba installed the
    first call compiles (or loads numba's cache), which no timed call should include."""
    edges = np.array([(0, 1), (1, 2), (0, 2), (3, 4), (4, 5), (3, 5), (2, 3)])
    rows, cols = np.r_[edges[:, 0], edges[:, 1]], np.r_[edges[:, 1], edges[:, 0]]
    louvain(sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(6, 6)), seed=0)


def _ours(matrix: sp.csr_matrix, sources: np.ndarray, targets: np.ndarray) -> dict[str, Any]:
    upper = sp.triu(matrix).tocoo()
    times: dict[str, float] = {}
    times["load"], _ = _timed(
        lambda: (
            sp.coo_matrix((upper.data, (upper.row, upper.col)), shape=matrix.shape)
            + sp.coo_matrix((upper.data, (upper.col, upper.row)), shape=matrix.shape)
        ).tocsr()
    )
    answers: dict[str, Any] = {}
    times["degree"], answers["degree"] = _timed(lambda: np.diff(matrix.indptr))
    times["two-hop"], answers["two-hop"] = _timed(lambda: [_two_hop(matrix, s) for s in sources])
    times["shortest-paths"], answers["shortest-paths"] = _timed(
        lambda: [dijkstra(matrix, s).distances for s in sources]
    )
    times["point-to-point"], answers["point-to-point"] = _timed(
        lambda: [astar(matrix, s, t)[0] for s, t in zip(sources, targets, strict=True)]
    )
    times["pagerank"], answers["pagerank"] = _timed(lambda: pagerank(matrix, 0.85, tol=1e-10))
    warm_up_louvain()
    times["louvain"], found = _timed(lambda: louvain(matrix, seed=0))
    return {"times": times, "answers": answers, "modularity": found.modularity}


def _networkx(
    matrix: sp.csr_matrix, sources: np.ndarray, targets: np.ndarray, with_louvain: bool
) -> dict[str, Any]:
    import networkx as nx

    upper = sp.triu(matrix).tocoo()
    times: dict[str, float] = {}

    def build() -> Any:
        graph = nx.Graph()
        graph.add_nodes_from(range(matrix.shape[0]))
        graph.add_weighted_edges_from(
            zip(upper.row.tolist(), upper.col.tolist(), upper.data.tolist(), strict=True)
        )
        return graph

    times["load"], graph = _timed(build)
    n = matrix.shape[0]
    answers: dict[str, Any] = {}
    times["degree"], answers["degree"] = _timed(
        lambda: np.fromiter((d for _, d in graph.degree), dtype=np.int64, count=n)
    )

    def two_hop(node: int) -> np.ndarray:
        reached = nx.single_source_shortest_path_length(graph, int(node), cutoff=2)
        return np.sort([v for v in reached if v != node])

    times["two-hop"], answers["two-hop"] = _timed(lambda: [two_hop(s) for s in sources])

    def distances(node: int) -> np.ndarray:
        result = np.full(n, np.inf)
        for v, d in nx.single_source_dijkstra_path_length(graph, int(node)).items():
            result[v] = d
        return result

    times["shortest-paths"], answers["shortest-paths"] = _timed(
        lambda: [distances(s) for s in sources]
    )
    times["point-to-point"], answers["point-to-point"] = _timed(
        lambda: [
            nx.astar_path_length(graph, int(s), int(t))
            for s, t in zip(sources, targets, strict=True)
        ]
    )

    def rank() -> np.ndarray:
        found = nx.pagerank(graph, alpha=0.85, tol=1e-10)
        return np.array([found[v] for v in range(n)])

    times["pagerank"], answers["pagerank"] = _timed(rank)
    result: dict[str, Any] = {"times": times, "answers": answers}
    if with_louvain:
        times["louvain"], parts = _timed(lambda: nx.community.louvain_communities(graph, seed=0))
        labels = np.empty(n, dtype=np.int64)
        for index, part in enumerate(parts):
            labels[list(part)] = index
        result["modularity"] = modularity(matrix, labels)
    return result


def _database(
    matrix: sp.csr_matrix, sources: np.ndarray, targets: np.ndarray, engine: str
) -> dict[str, Any]:
    from graph_algos.store import (
        degrees,
        neighbourhood,
        open_store,
        shortest_path_lengths,
        to_csr,
    )

    times: dict[str, float] = {}
    answers: dict[str, Any] = {}
    with open_store(engine) as store:
        times["load"], _ = _timed(lambda: store.load(matrix))
        times["degree"], answers["degree"] = _timed(lambda: degrees(store))
        times["two-hop"], answers["two-hop"] = _timed(
            lambda: [neighbourhood(store, int(s), hops=2) for s in sources]
        )
        times["shortest-paths"], answers["shortest-paths"] = _timed(
            lambda: [shortest_path_lengths(store, int(s)) for s in sources]
        )

        def point_to_point(source: int, target: int) -> float:
            found = store.query(
                "MATCH (a:Node {id: $s})-[e:Edge* WSHORTEST(weight)]-(b:Node {id: $t}) "
                "RETURN cost(e) AS length",
                {"s": source, "t": target},
            )
            return float(found["length"][0]) if found["length"].size else float("inf")

        times["point-to-point"], answers["point-to-point"] = _timed(
            lambda: [point_to_point(int(s), int(t)) for s, t in zip(sources, targets, strict=True)]
        )
        read_s, stored = _timed(lambda: to_csr(store))
    times["read-back"] = read_s
    rank_s, answers["pagerank"] = _timed(lambda: pagerank(stored, 0.85, tol=1e-10))
    times["pagerank"] = read_s + rank_s
    louvain_s, found = _timed(lambda: louvain(stored, seed=0))
    times["louvain"] = read_s + louvain_s
    identical = stored.shape == matrix.shape and abs(stored - matrix).max() == 0.0
    return {
        "times": times,
        "answers": answers,
        "modularity": found.modularity,
        "read_back": identical,
    }


def _igraph(matrix: sp.csr_matrix) -> dict[str, Any] | None:
    try:
        from graph_algos.kernels.communities import igraph_graph, leiden, louvain_igraph

        graph = igraph_graph(matrix)
    except ImportError:
        return None
    times: dict[str, float] = {}
    times["louvain"], found = _timed(lambda: louvain_igraph(graph, seed=0))
    result: dict[str, Any] = {"times": times, "modularity": found.modularity}
    try:
        result["leiden_s"], by_leiden = _timed(lambda: leiden(graph, seed=0))
    except ImportError:  # igraph without leidenalg
        return result
    result["leiden"] = by_leiden.modularity
    return result


def _agree(op: str, ours: Any, theirs: Any) -> bool:
    if op == "degree":
        return bool(np.array_equal(ours, theirs))
    if op == "two-hop":
        return all(np.array_equal(a, b) for a, b in zip(ours, theirs, strict=True))
    if op == "shortest-paths":
        return all(_same_distances(a, b) for a, b in zip(ours, theirs, strict=True))
    if op == "point-to-point":
        return _same_distances(np.asarray(ours, float), np.asarray(theirs, float))
    if op == "pagerank":
        return bool(np.abs(np.asarray(ours) - np.asarray(theirs)).max() <= 1e-6)
    raise ValueError(f"no answer check for operation {op!r}")


def _op_time(op: str, implementation: str, seconds: float) -> MetricValue:
    labels = {"op": op, "implementation": implementation}
    return MetricValue(name="op_time", value=seconds, direction="lower", unit="s", labels=labels)


def _agreement(op: str, implementation: str, agrees: bool) -> MetricValue:
    return MetricValue(
        name="answers_agree",
        value=1.0 if agrees else 0.0,
        direction="higher",
        reference=1.0,
        reference_name="ours",
        labels={"op": op, "implementation": implementation},
    )


def _modularity(implementation: str, value: float) -> MetricValue:
    labels = {"implementation": implementation}
    return MetricValue(name="modularity", value=value, direction="higher", labels=labels)


def _metrics(runs: dict[str, dict[str, Any]]) -> list[MetricValue]:
    metrics: list[MetricValue] = []
    ours = runs["ours"]
    for implementation, run in runs.items():
        for op, seconds in run["times"].items():
            metrics.append(_op_time(op, implementation, seconds))
            if implementation != "ours" and op in ours["times"] and ours["times"][op] > 0:
                metrics.append(
                    MetricValue(
                        name="speedup",
                        value=seconds / ours["times"][op],
                        direction="higher",
                        unit="x",
                        labels={"op": op, "baseline": implementation},
                    )
                )
        if implementation != "ours":
            for op, answer in run.get("answers", {}).items():
                metrics.append(
                    _agreement(op, implementation, _agree(op, ours["answers"][op], answer))
                )
        if "modularity" in run:
            metrics.append(_modularity(implementation, run["modularity"]))
        if "leiden" in run:
            metrics.append(_modularity("leiden", run["leiden"]))
            metrics.append(_op_time("leiden", "leidenalg", run["leiden_s"]))
    if "database" in runs:
        metrics.append(_agreement("read-back", "database", runs["database"]["read_back"]))
    return metrics


def run_tutorial(
    parsed: ParsedSpec[TutorialGraph, NoParams, TutorialRun], progress: Progress, out_dir: str
) -> BenchmarkResult:
    """Every operation by each implementation; times, ratios, agreement, modularity."""
    del out_dir
    world, run, seed = parsed.world, parsed.params, parsed.seeds[0]
    load_before = os.getloadavg()
    started = time.perf_counter()
    progress.start(5, "implementations")
    matrix = tutorial_graph(world, seed)
    rng = np.random.default_rng(seed)
    sources = rng.choice(matrix.shape[0], size=run.sources, replace=False)
    targets = rng.choice(matrix.shape[0], size=run.sources, replace=False)
    progress.advance(1, f"graph: {matrix.shape[0]} nodes, {matrix.nnz // 2} edges")
    runs: dict[str, dict[str, Any]] = {"ours": _ours(matrix, sources, targets)}
    progress.advance(1, "ours")
    notes = []
    if run.networkx:
        runs["networkx"] = _networkx(matrix, sources, targets, run.networkx_louvain)
    progress.advance(1, "networkx")
    try:
        runs["database"] = _database(matrix, sources, targets, run.engine)
    except ImportError as error:
        notes.append(f"database not timed: {error}")
    progress.advance(1, "database")
    by_igraph = _igraph(matrix)
    if by_igraph is None:
        notes.append("igraph/leidenalg not installed (extra graph-algos[igraph]): not timed.")
    else:
        runs["igraph"] = by_igraph
    progress.advance(1, "igraph")
    wall = time.perf_counter() - started
    metrics = _metrics(runs)
    metrics.append(MetricValue(name="edges", value=float(matrix.nnz // 2)))
    disagree = [
        f"{m.labels['op']} ({m.labels['implementation']})"
        for m in metrics
        if m.name == "answers_agree" and m.value < 1.0
    ]
    notes += [
        f"planted partition: {matrix.shape[0]} nodes, {matrix.nnz // 2} edges, "
        f"{world.blocks} blocks; {run.sources} path/2-hop sources.",
        "answers that differ from ours: " + (", ".join(disagree) if disagree else "none") + ".",
        "database pagerank/louvain = read the graph back (to_csr) + our kernel: "
        "LadybugDB's algo extension is not installed offline.",
        machine_load_note(load_before, after=os.getloadavg()),
    ]
    return BenchmarkResult(metrics=metrics, notes=notes, timings={"measure": wall})
