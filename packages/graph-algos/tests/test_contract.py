"""The benchmark contract for every graph-algos benchmark, and the registries' shape."""

from __future__ import annotations

import importlib.util
from importlib.metadata import entry_points
from typing import Any

import pytest
from graph_algos.benchmarks import (
    CRITICAL_NODES,
    GRAPH_ALGOS_SPEED,
    GRAPH_DB_TUTORIAL,
    HIERARCHY_PHASE,
    NOISY_LABEL_LOCAL,
    PLANTED_POWER,
    PLANTED_QUICKSTART,
)
from graph_algos.methods import METHODS
from graph_algos.metrics import METRICS
from unlearn_schema.configs import BenchmarkSpec, MethodConfig, ModelSpec, WorldSpec
from unlearn_schema.errors import SpecError
from unlearn_schema.plugins import Benchmark, NullProgress
from unlearn_schema.registry import UnknownNameError
from unlearn_schema.testing import heavy_modules_after

QUALITY: list[Benchmark[Any, Any, Any]] = [
    PLANTED_QUICKSTART,
    PLANTED_POWER,
    HIERARCHY_PHASE,
    NOISY_LABEL_LOCAL,
    CRITICAL_NODES,
]
ALL = [*QUALITY, GRAPH_DB_TUTORIAL, GRAPH_ALGOS_SPEED]
BASELINES = {"labels-only", "random"}  # our own baselines: no paper to cite


def _quick(benchmark: Benchmark[Any, Any, Any], **update: Any) -> BenchmarkSpec:
    return benchmark.default_spec("quick").model_copy(update=update)


def _problems(benchmark: Benchmark[Any, Any, Any], spec: BenchmarkSpec) -> str:
    with pytest.raises(SpecError) as info:
        benchmark.parse(spec)
    return str(info.value)


@pytest.mark.parametrize("benchmark", ALL, ids=lambda b: b.name)
def test_default_specs_parse(benchmark: Benchmark[Any, Any, Any]) -> None:
    for size in ("quick", "full"):
        parsed = benchmark.parse(benchmark.default_spec(size))
        assert parsed.metrics is None  # the default specs report every metric


@pytest.mark.parametrize("benchmark", ALL, ids=lambda b: b.name)
def test_unknown_method_is_named(benchmark: Benchmark[Any, Any, Any]) -> None:
    text = _problems(benchmark, _quick(benchmark, methods=[MethodConfig(name="no-such-method")]))
    if benchmark.methods is None:
        assert f"methods: {benchmark.name} takes no methods" in text
    else:
        assert "methods[0].name: unknown method 'no-such-method'" in text
        assert ", ".join(benchmark.accepted_methods()) in text


@pytest.mark.parametrize("benchmark", QUALITY, ids=lambda b: b.name)
def test_a_method_of_another_benchmark_is_refused(benchmark: Benchmark[Any, Any, Any]) -> None:
    other = next(name for name in METHODS if name not in benchmark.accepted_methods())
    text = _problems(benchmark, _quick(benchmark, methods=[MethodConfig(name=other)]))
    assert f"methods[0].name: unknown method {other!r} for {benchmark.name}" in text


@pytest.mark.parametrize("benchmark", ALL, ids=lambda b: b.name)
def test_unknown_metric_is_named(benchmark: Benchmark[Any, Any, Any]) -> None:
    text = _problems(benchmark, _quick(benchmark, metrics=["no_such_metric"]))
    assert "metrics: unknown metric 'no_such_metric'" in text


@pytest.mark.parametrize("benchmark", ALL, ids=lambda b: b.name)
def test_unread_world_field_and_a_model_are_named(benchmark: Benchmark[Any, Any, Any]) -> None:
    spec = benchmark.default_spec("quick")
    assert spec.world is not None
    world = WorldSpec(name=spec.world.name, params={**spec.world.params, "width": -5})
    assert "world.params.width" in _problems(benchmark, _quick(benchmark, world=world))
    renamed = WorldSpec(name="no-such-world", params=spec.world.params)
    assert "world.name: unknown world 'no-such-world'" in _problems(
        benchmark, _quick(benchmark, world=renamed)
    )
    model = ModelSpec(name="tiny", params={"width": -5})
    assert f"model: {benchmark.name} takes no model" in _problems(
        benchmark, _quick(benchmark, model=model)
    )
    assert "params.no_such_knob" in _problems(
        benchmark, _quick(benchmark, params={**spec.params, "no_such_knob": 1})
    )


@pytest.mark.parametrize("benchmark", ALL, ids=lambda b: b.name)
def test_seeds(benchmark: Benchmark[Any, Any, Any]) -> None:
    spec = _quick(benchmark, seeds=[0, 1])
    if benchmark.max_seeds == 1:
        assert f"seeds: {benchmark.name} takes at most 1 seed(s)" in _problems(benchmark, spec)
    else:
        assert benchmark.max_seeds is None  # the quality recipes loop over every seed
        assert benchmark.parse(spec).seeds == [0, 1]


def test_registries_have_summary_and_paper_and_refuse_unknown_names() -> None:
    for registry in (METHODS, METRICS):
        for record in registry.values():
            assert record.summary.strip() and "\n" not in record.summary
            if record.name in BASELINES:
                assert record.paper is None
            else:
                assert record.paper is not None and record.paper.startswith(("arXiv:", "doi:"))
            record.params_type.model_validate({})  # every option has a default
            assert callable(record.function)
    with pytest.raises(UnknownNameError, match=r"unknown method 'degre'.*did you mean 'degree'"):
        METHODS["degre"]
    with pytest.raises(UnknownNameError, match=r"metrics\[0\]: unknown metric 'f2'"):
        METRICS.lookup("f2", "metrics[0]")


def test_every_registered_name_is_usable_by_a_benchmark() -> None:
    accepted = {name for benchmark in QUALITY for name in benchmark.accepted_methods()}
    assert accepted == set(METHODS)
    reported = set().union(*(benchmark.metric_names for benchmark in QUALITY))
    assert set(METRICS) <= reported
    assert all(benchmark.methods is METHODS for benchmark in QUALITY)


def test_entry_points_name_the_registries_and_every_benchmark() -> None:
    ours = [
        ep for ep in entry_points(group="unlearn.benchmarks") if ep.value.startswith("graph_algos")
    ]
    assert {ep.name: ep.load() for ep in ours} == {b.name: b for b in ALL}
    (methods,) = [ep for ep in entry_points(group="unlearn.methods") if ep.name == "graph-algos"]
    (metrics,) = [ep for ep in entry_points(group="unlearn.metrics") if ep.name == "graph-algos"]
    assert methods.load() is METHODS and metrics.load() is METRICS


def test_registry_modules_import_nothing_heavy_and_nothing_imports_torch() -> None:
    heavy = ("numpy", "scipy", "torch", "networkx")
    assert heavy_modules_after("import graph_algos.methods, graph_algos.metrics", heavy) == []
    every_module = ", ".join(
        f"graph_algos.{name}"
        for name in (
            "worlds",
            "kernels",
            "methods.critical",
            "methods.hierarchy",
            "methods.influence",
            "methods.local",
            "methods.planted",
            "methods.robustness",
            "metrics.critical",
            "metrics.hierarchy",
            *(f"benchmarks.{b.run.__module__.rsplit('.', 1)[1]}" for b in ALL),
        )
    )
    assert heavy_modules_after(f"import {every_module}", ("torch", "diffusers")) == []


def test_speed_benchmark_quick_run_reports_ratios_goals_and_load(tmp_path: object) -> None:
    parsed = GRAPH_ALGOS_SPEED.parse(GRAPH_ALGOS_SPEED.default_spec("quick"))
    result = GRAPH_ALGOS_SPEED.run(parsed, NullProgress(), str(tmp_path))
    names = {m.name for m in result.metrics}
    assert names <= GRAPH_ALGOS_SPEED.metric_names
    assert {"kernel_time", "speedup", "pagerank_vs_networkx_ge_50_met"} <= names
    travel = [m for m in result.metrics if m.name == "travel_world_within_10s"]
    assert len(travel) == 1 and travel[0].unit == "s" and 0 < travel[0].value < 10
    flags = [m for m in result.metrics if m.name.endswith("_met")]
    assert flags and all(m.value in (0.0, 1.0) and m.direction == "higher" for m in flags)
    assert all(m.unit == "s" and m.value > 0 for m in result.metrics if m.name == "kernel_time")
    assert any("machine load" in note for note in result.notes)
    assert any("networkx" in note for note in result.notes)
    # with numba installed both Louvain engines run and must find one partition
    agree = [m.value for m in result.metrics if m.name == "louvain_engines_agree"]
    assert agree == ([1.0] if importlib.util.find_spec("numba") else [])
    # metrics: [x] keeps only x
    selected = GRAPH_ALGOS_SPEED.parse(
        GRAPH_ALGOS_SPEED.default_spec("quick").model_copy(update={"metrics": ["speedup"]})
    )
    kept = GRAPH_ALGOS_SPEED.select_metrics(selected, result)
    assert kept.metrics and {m.name for m in kept.metrics} == {"speedup"}
