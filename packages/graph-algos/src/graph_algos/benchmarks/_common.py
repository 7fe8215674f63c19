"""Pieces every graph-algos benchmark shares: the method check, metrics, and the lines of
its curves (default specs come from `unlearn_schema.recipes.spec_from_parts`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from unlearn_schema.plugins import ParsedSpec
from unlearn_schema.recipes import check_methods
from unlearn_schema.results import Direction, GraphPlot, MetricValue, Series

Check = Callable[[ParsedSpec[Any, Any, Any]], None]


def method_check(accepted: Sequence[str], then: Check | None = None) -> Check:
    """A benchmark's ``check``: `check_methods` (at least one of ``accepted``, each given
    once), then ``then``."""

    def check(parsed: ParsedSpec[Any, Any, Any]) -> None:
        check_methods(parsed, accepted)
        if then is not None:
            then(parsed)

    return check


def mean_metric(
    name: str,
    values: Sequence[float] | np.ndarray,
    direction: Direction,
    labels: dict[str, str],
    **fields: Any,
) -> MetricValue:
    """A metric whose value is the mean of ``values`` over seeds and trials."""
    return MetricValue(
        name=name, value=float(np.mean(values)), direction=direction, labels=labels, **fields
    )


def mean_series(
    label: str,
    xs: Sequence[float],
    values: Sequence[Sequence[float]],
    spread: bool = False,
) -> Series:
    """One line of a curve: at each x the mean of that x's ``values`` (over seeds and
    trials), with their standard deviation as the error bar when ``spread``."""
    return Series(
        label=label,
        x=[float(x) for x in xs],
        y=[float(np.mean(row)) for row in values],
        y_err=[float(np.std(row)) for row in values] if spread else None,
    )


def graph_plot(
    adjacency: sp.spmatrix,
    groups: np.ndarray,
    name: str,
    title: str,
    labels: list[str] | None = None,
    seed: int = 0,
) -> GraphPlot:
    """A `GraphPlot` of a small undirected graph, nodes coloured by ``groups`` (community
    ids), laid out by networkx's seeded spring layout."""
    import networkx as nx

    n = adjacency.shape[0]
    upper = sp.triu(adjacency, k=1).tocoo()
    edges = list(zip(upper.row.tolist(), upper.col.tolist(), strict=True))
    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    graph.add_edges_from(edges)
    layout = nx.spring_layout(graph, seed=seed)
    ids = np.asarray(groups, dtype=np.int64).tolist()
    return GraphPlot(
        name=name,
        title=title,
        node_count=n,
        edges=edges,
        groups=ids,
        group_names={g: f"community {g}" for g in sorted(set(ids))},
        labels=labels,
        positions=[(float(layout[i][0]), float(layout[i][1])) for i in range(n)],
    )
