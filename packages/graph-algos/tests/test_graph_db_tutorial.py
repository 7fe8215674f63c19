"""The graph-db-tutorial benchmark on a tiny graph: every answer agrees with ours."""

from __future__ import annotations

import importlib.util

import pytest
from graph_algos.benchmarks import GRAPH_DB_TUTORIAL
from graph_algos.benchmarks.graph_db_tutorial import TutorialGraph, tutorial_graph
from unlearn_schema.configs import WorldSpec
from unlearn_schema.errors import SpecError
from unlearn_schema.plugins import NullProgress
from unlearn_schema.results import BenchmarkResult


def _tiny_run(tmp_path: object, **params: object) -> BenchmarkResult:
    spec = GRAPH_DB_TUTORIAL.default_spec("quick")
    assert spec.world is not None
    world = WorldSpec(name=spec.world.name, params={"nodes": 1500, "blocks": 5})
    spec = spec.model_copy(
        update={"world": world, "params": {"sources": 2, "networkx_louvain": False, **params}}
    )
    result = GRAPH_DB_TUTORIAL.run(GRAPH_DB_TUTORIAL.parse(spec), NullProgress(), str(tmp_path))
    assert {m.name for m in result.metrics} <= GRAPH_DB_TUTORIAL.metric_names
    return result


def test_every_answer_agrees_and_is_timed(tmp_path: object) -> None:
    result = _tiny_run(tmp_path)
    agree = {
        (m.labels["op"], m.labels["implementation"]): m.value
        for m in result.metrics
        if m.name == "answers_agree"
    }
    ops = {"degree", "two-hop", "shortest-paths", "point-to-point", "pagerank"}
    assert {op for op, impl in agree if impl == "networkx"} == ops
    assert all(value == 1.0 for value in agree.values()), agree
    timed = {
        (m.labels["op"], m.labels["implementation"]) for m in result.metrics if m.name == "op_time"
    }
    assert {(op, "ours") for op in ops | {"load", "louvain"}} <= timed
    modularity = {
        m.labels["implementation"]: m.value for m in result.metrics if m.name == "modularity"
    }
    assert modularity["ours"] > 0.5  # five planted blocks, 80 % of edges inside
    if importlib.util.find_spec("ladybug") is None:
        assert any("database not timed" in note for note in result.notes)
    else:
        assert ("read-back", "database") in agree and ("load", "database") in timed


@pytest.mark.requires("ladybug")
def test_the_database_answers_agree_with_ours(tmp_path: object) -> None:
    result = _tiny_run(tmp_path, networkx=False)
    agree = {
        m.labels["op"]: m.value
        for m in result.metrics
        if m.name == "answers_agree" and m.labels["implementation"] == "database"
    }
    assert set(agree) == {
        "degree",
        "two-hop",
        "shortest-paths",
        "point-to-point",
        "pagerank",
        "read-back",
    }
    assert all(value == 1.0 for value in agree.values()), agree


def test_the_graph_is_seeded_and_weighted() -> None:
    world = TutorialGraph(nodes=2000, blocks=4, max_weight=3.0)
    first, again = tutorial_graph(world, 1), tutorial_graph(world, 1)
    assert (first != again).nnz == 0 and (first != first.T).nnz == 0
    assert first.diagonal().sum() == 0
    assert first.data.min() >= 1.0 and first.data.max() <= 3.0
    assert abs(first.nnz / 2000 - world.mean_degree) < 2.0


def test_bad_world_is_named() -> None:
    spec = GRAPH_DB_TUTORIAL.default_spec("quick")
    assert spec.world is not None
    bad = spec.model_copy(update={"world": WorldSpec(name=spec.world.name, params={"nodes": 10})})
    with pytest.raises(SpecError, match="nodes"):
        GRAPH_DB_TUTORIAL.parse(bad)
