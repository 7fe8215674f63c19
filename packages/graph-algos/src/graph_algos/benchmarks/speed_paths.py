r"""Shortest paths and Louvain in ``graph-algos-speed``: ours against igraph and networkx.

On the planted-partition graph of ``graph-db-tutorial`` with about ``edges`` edges
(mean degree 20, blocks of 1 000 nodes, 20 % of edges between blocks, weights uniform
in [1, 10]):

* single-source weighted shortest paths from ``sources`` nodes: our `dijkstra`,
  igraph's ``distances(source, weights=...)``, networkx's
  ``single_source_dijkstra_path_length``;
* Louvain: our colour-class `louvain`, igraph's ``community_multilevel``, networkx's
  ``louvain_communities``, and the modularity each reaches. Ours runs compiled by numba
  when the extra ``graph-algos[fast]`` is installed (its first call, which compiles or
  loads numba's cache, is made on a tiny graph before the timer and reported as
  ``louvain-warmup``); then the numpy engine is timed too (implementation
  ``ours-numpy``) and ``louvain_engines_agree`` says whether both found one partition.

Goals (issue 19): both ours no slower than igraph and at least 50x faster than networkx,
our modularity within 1 % of igraph's. The igraph graph is built once, outside the timer.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from unlearn_schema.recipes import Goal
from unlearn_schema.results import MetricValue

from graph_algos.benchmarks.graph_db_tutorial import TutorialGraph, tutorial_graph, warm_up_louvain
from graph_algos.kernels import dijkstra, louvain, modularity

GOALS: dict[str, Goal] = {
    "shortest_paths_vs_networkx_ge_50": Goal(">=", 50.0),
    "shortest_paths_vs_igraph_ge_1": Goal(">=", 1.0),
    "louvain_vs_networkx_ge_50": Goal(">=", 50.0),
    "louvain_vs_igraph_ge_1": Goal(">=", 1.0),
    "louvain_modularity_vs_igraph_ge_0.99": Goal(">=", 0.99),
}


def paths_and_communities(
    edges: int, sources: int, seed: int, networkx: bool, timed: Any
) -> dict[str, Any]:
    """Times (``<implementation>_s``), speedups and modularities; ``timed(f)`` is the
    speed benchmark's best-of timer, returning (seconds, result)."""
    nodes = max(2000, edges // 10)
    matrix = tutorial_graph(TutorialGraph(nodes=nodes, blocks=max(2, nodes // 1000)), seed)
    chosen = np.random.default_rng(seed).choice(nodes, size=min(sources, nodes), replace=False)
    result: dict[str, Any] = {"n": nodes, "edges": int(matrix.nnz // 2)}
    paths_s, _ = timed(lambda: [dijkstra(matrix, int(s)) for s in chosen])
    warmup_s, _ = timed(warm_up_louvain)
    louvain_s, ours = timed(lambda: louvain(matrix, seed=seed))
    result["ours_s"] = {"shortest_paths": paths_s, "louvain": louvain_s}
    result["modularity"] = {"ours": ours.modularity}
    result["louvain_engine"] = ours.engine
    if ours.engine == "numba":
        numpy_s, plain = timed(lambda: louvain(matrix, seed=seed, engine="numpy"))
        result["ours_numpy_s"] = {"louvain": numpy_s}
        result["louvain_warmup_s"] = warmup_s
        result["louvain_engines_agree"] = bool(np.array_equal(plain.membership, ours.membership))
    if networkx:
        import networkx as nx

        graph = nx.from_scipy_sparse_array(matrix)
        theirs_paths, _ = timed(
            lambda: [nx.single_source_dijkstra_path_length(graph, int(s)) for s in chosen]
        )
        theirs_louvain, parts = timed(lambda: nx.community.louvain_communities(graph, seed=seed))
        labels = np.empty(nodes, dtype=np.int64)
        for index, part in enumerate(parts):
            labels[list(part)] = index
        result["networkx_s"] = {"shortest_paths": theirs_paths, "louvain": theirs_louvain}
        result["modularity"]["networkx"] = modularity(matrix, labels)
    try:
        from graph_algos.kernels.communities import igraph_graph, louvain_igraph

        graph = igraph_graph(matrix)
    except ImportError:
        result["igraph"] = "not installed (optional extra graph-algos[igraph])"
    else:
        ig_paths, _ = timed(
            lambda: [graph.distances(source=int(s), weights="weight") for s in chosen]
        )
        ig_louvain, by_igraph = timed(lambda: louvain_igraph(graph, seed=seed))
        result["igraph_s"] = {"shortest_paths": ig_paths, "louvain": ig_louvain}
        result["modularity"]["igraph"] = by_igraph.modularity
    for baseline in ("networkx", "igraph"):
        if f"{baseline}_s" in result:
            theirs = result[f"{baseline}_s"]
            result[f"speedup_vs_{baseline}"] = {
                k: theirs[k] / v for k, v in result["ours_s"].items()
            }
    return result


_GOAL_OF = {
    ("networkx", "shortest_paths"): "shortest_paths_vs_networkx_ge_50",
    ("igraph", "shortest_paths"): "shortest_paths_vs_igraph_ge_1",
    ("networkx", "louvain"): "louvain_vs_networkx_ge_50",
    ("igraph", "louvain"): "louvain_vs_igraph_ge_1",
}


def goal_ratios(report: dict[str, Any]) -> dict[str, float]:
    """The measured ratio of each goal of `GOALS` the report measured."""
    ratios = {
        goal: report[f"speedup_vs_{baseline}"][kernel]
        for (baseline, kernel), goal in _GOAL_OF.items()
        if f"speedup_vs_{baseline}" in report
    }
    if "igraph" in report["modularity"]:
        ratios["louvain_modularity_vs_igraph_ge_0.99"] = (
            report["modularity"]["ours"] / report["modularity"]["igraph"]
        )
    return ratios


def metrics(report: dict[str, Any], time: Any, speedup: Any) -> list[MetricValue]:
    """Times, speedups and modularities as metrics (``time`` and ``speedup`` are the
    speed benchmark's metric makers)."""
    found: list[MetricValue] = []
    for implementation in ("ours", "ours_numpy", "networkx", "igraph"):
        for kernel, value in report.get(f"{implementation}_s", {}).items():
            found.append(time(value, kernel, implementation.replace("_", "-")))
    if "louvain_warmup_s" in report:
        found.append(time(report["louvain_warmup_s"], "louvain-warmup", "ours"))
        agree = 1.0 if report["louvain_engines_agree"] else 0.0
        found.append(MetricValue(name="louvain_engines_agree", value=agree, direction="higher"))
    for baseline in ("networkx", "igraph"):
        for kernel, value in report.get(f"speedup_vs_{baseline}", {}).items():
            found.append(speedup(value, kernel, baseline))
    for implementation, value in report["modularity"].items():
        labels = {"kernel": "louvain", "implementation": implementation}
        found.append(MetricValue(name="modularity", value=value, direction="higher", labels=labels))
    return found
