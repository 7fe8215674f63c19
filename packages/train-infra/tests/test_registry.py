"""Registries and the benchmark contract: every name documented, every bad spec refused."""

from __future__ import annotations

from typing import Any

import pytest
from train_infra import benchmarks
from train_infra.methods import METHODS
from train_infra.metrics import METRICS
from unlearn_schema.configs import BenchmarkSpec, MethodConfig, ModelSpec, WorldSpec
from unlearn_schema.errors import SpecError
from unlearn_schema.plugins import Benchmark
from unlearn_schema.registry import Registry, UnknownNameError

ALL = [getattr(benchmarks, name) for name in benchmarks.__all__]


@pytest.mark.parametrize("registry", [METHODS, METRICS], ids=lambda r: r.kind)
def test_every_name_has_a_summary_a_paper_and_importable_parts(registry: Registry) -> None:
    assert len(registry) > 0
    for name, record in registry.items():
        assert record.summary.strip() and record.paper, name
        assert callable(record.function), name
        record.params_type()  # the defaults validate


def test_unknown_names_are_errors() -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'copy-snapshot'"):
        METHODS["copy-snapshots"]
    with pytest.raises(UnknownNameError, match="accepted: read-amplification, rope-feasibility"):
        METRICS.lookup("no-such-metric", "metrics[0]")


def test_every_benchmark_method_is_registered() -> None:
    for benchmark in ALL:
        for name in benchmark.accepted_methods():
            assert name in METHODS
    used = {name for benchmark in ALL for name in benchmark.accepted_methods()}
    assert used == set(METHODS)  # no registered name that no spec can use


def _refused(benchmark: Benchmark[Any, Any, Any], spec: BenchmarkSpec, field: str) -> None:
    with pytest.raises(SpecError) as caught:
        benchmark.parse(spec)
    assert any(problem.startswith(field) for problem in caught.value.problems), (
        field,
        caught.value.problems,
    )


@pytest.mark.parametrize("benchmark", ALL, ids=lambda b: b.name)
def test_unknown_method_or_any_method_where_none_is_taken(
    benchmark: Benchmark[Any, Any, Any],
) -> None:
    spec = benchmark.default_spec("quick")
    bad = spec.model_copy(update={"methods": [MethodConfig(name="no-such-method")]})
    _refused(benchmark, bad, "methods[0].name" if benchmark.methods is not None else "methods:")
    if benchmark.methods is not None:
        other = next(name for name in METHODS if name not in benchmark.accepted_methods())
        _refused(
            benchmark, spec.model_copy(update={"methods": [MethodConfig(name=other)]}), "methods"
        )


@pytest.mark.parametrize("benchmark", ALL, ids=lambda b: b.name)
def test_unknown_metric(benchmark: Benchmark[Any, Any, Any]) -> None:
    spec = benchmark.default_spec("quick").model_copy(update={"metrics": ["no-such-metric"]})
    _refused(benchmark, spec, "metrics: unknown metric 'no-such-metric'")


@pytest.mark.parametrize("benchmark", ALL, ids=lambda b: b.name)
def test_world_and_model_fields_the_benchmark_does_not_read(
    benchmark: Benchmark[Any, Any, Any],
) -> None:
    spec = benchmark.default_spec("quick")
    if benchmark.worlds:
        assert spec.world is not None
        world = spec.world.model_copy(update={"params": {**spec.world.params, "unread": 1}})
        _refused(benchmark, spec.model_copy(update={"world": world}), "world.params.unread")
    else:
        _refused(benchmark, spec.model_copy(update={"world": WorldSpec(name="any")}), "world:")
    if benchmark.models:
        assert spec.model is not None
        model = spec.model.model_copy(update={"params": {**spec.model.params, "unread": 1}})
        _refused(benchmark, spec.model_copy(update={"model": model}), "model.params.unread")
        checkpoint = spec.model.model_copy(update={"checkpoint": "/some/folder"})
        _refused(benchmark, spec.model_copy(update={"model": checkpoint}), "model.checkpoint")
    else:
        _refused(benchmark, spec.model_copy(update={"model": ModelSpec(name="any")}), "model:")
    _refused(benchmark, spec.model_copy(update={"params": {"unread": 1}}), "params.unread")


@pytest.mark.parametrize("benchmark", ALL, ids=lambda b: b.name)
def test_seeds_beyond_what_the_benchmark_takes(benchmark: Benchmark[Any, Any, Any]) -> None:
    spec = benchmark.default_spec("quick").model_copy(update={"seeds": [0, 1]})
    if benchmark.max_seeds == 1:
        _refused(benchmark, spec, "seeds:")
    else:
        assert benchmark.parse(spec).seeds == [0, 1]


def test_seeds_are_honoured_where_they_are_meaningful() -> None:
    # Random worlds loop over seeds; timing runs and pure maths take one.
    assert benchmarks.DISKGNN_FEATURES.max_seeds is None
    assert benchmarks.P2P_DISRUPTION.max_seeds is None
    assert benchmarks.SNAPSHOT_RECOVERY.max_seeds == benchmarks.ROPE_FEASIBILITY.max_seeds == 1
    assert benchmarks.TRAIN_INFRA_SPEED.max_seeds == 1
    assert benchmarks.TRAIN_INFRA_SPEED.kind == "speed"
