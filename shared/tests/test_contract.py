"""The registry records and the benchmark contract (Benchmark.parse)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from unlearn_schema import (
    AttackSpec,
    Benchmark,
    BenchmarkResult,
    BenchmarkSpec,
    MethodConfig,
    MethodParams,
    MethodSpec,
    MetricSpec,
    MetricValue,
    ModelSpec,
    NullProgress,
    ParsedSpec,
    Registry,
    SpecError,
    StrictModel,
    UnknownNameError,
    WorldSpec,
)


class StepParams(MethodParams):
    steps: int = 2
    learning_rate: float = 1e-3


def double_steps(model: list[int], data: None, params: StepParams) -> int:
    del data
    model.append(params.steps)
    return 2 * params.steps


class GridWorld(StrictModel):
    size: int = 4


class TinyModel(StrictModel):
    width: int = 8


class RunKnobs(StrictModel):
    trials: int = 1


METHODS = Registry(
    "method",
    [
        MethodSpec(
            name="double",
            params=f"{__name__}:StepParams",
            entry=f"{__name__}:double_steps",
            summary="Doubles its steps.",
            paper="arXiv:1234.56789",
        ),
        MethodSpec(
            name="twice",
            params=f"{__name__}:StepParams",
            entry=f"{__name__}:double_steps",
            summary="The same, under another name.",
        ),
    ],
)


def _default(size: str) -> BenchmarkSpec:
    return BenchmarkSpec(
        benchmark="grid",
        size=size,  # type: ignore[arg-type]
        world=WorldSpec(name="grid", params={"size": 4 if size == "quick" else 16}),
        model=ModelSpec(name="tiny"),
        methods=[MethodConfig(name="double")],
        params={"trials": 3},
    )


def _run(parsed: ParsedSpec[GridWorld, TinyModel, RunKnobs], progress: object, out: str):  # type: ignore[no-untyped-def]
    del progress, out
    values = [float(m.spec.function([], None, m.params)) for m in parsed.methods]
    return BenchmarkResult(
        metrics=[MetricValue(name="value", value=v) for v in values]
        + [MetricValue(name="size", value=parsed.world.size)]
    )


GRID: Benchmark[GridWorld, TinyModel, RunKnobs] = Benchmark(
    name="grid",
    summary="A toy grid benchmark.",
    default_spec=_default,
    run=_run,
    params_type=RunKnobs,
    worlds={"grid": GridWorld},
    models={"tiny": TinyModel},
    methods=METHODS,
    method_names=("double",),
    metric_names=frozenset({"value", "size"}),
    request_kinds=frozenset({"graph_nodes"}),
    max_seeds=2,
)


def _problems(data: dict[str, object]) -> str:
    spec = BenchmarkSpec.model_validate({"benchmark": "grid", **data})
    with pytest.raises(SpecError) as info:
        GRID.parse(spec)
    return str(info.value)


def test_registry_resolves_references_lazily_and_caches() -> None:
    record = METHODS["double"]
    assert record.params_type is StepParams and record.function is double_steps
    assert record.describe() == {
        "name": "double",
        "kind": "method",
        "summary": "Doubles its steps.",
        "paper": "arXiv:1234.56789",
    }
    assert list(METHODS) == ["double", "twice"] and len(METHODS) == 2


def test_unknown_name_is_an_error_with_a_suggestion() -> None:
    with pytest.raises(UnknownNameError) as info:
        METHODS["doubel"]
    assert "did you mean 'double'?" in str(info.value) and "accepted: double, twice" in str(
        info.value
    )
    with pytest.raises(UnknownNameError, match="methods\\[3\\]: unknown method"):
        METHODS.lookup("nope", "methods[3]")


def test_registry_refuses_duplicates_and_mixed_kinds() -> None:
    record = METHODS["double"]
    with pytest.raises(ValueError, match="registered twice"):
        Registry("method", [record, record])
    attack = AttackSpec(name="relearn", params=record.params, entry=record.entry, summary="s")
    with pytest.raises(TypeError, match="cannot hold attack"):
        Registry("method", [attack])
    assert Registry("metric", [MetricSpec(name="m", params="a:b", entry="a:c", summary="s")])


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", "two words"), ("params", "no_colon"), ("entry", "a:b:c"), ("summary", " ")],
)
def test_records_reject_malformed_fields(field: str, value: str) -> None:
    fields = {"name": "ok", "params": "a:b", "entry": "a:c", "summary": "s", field: value}
    with pytest.raises(ValueError):
        MethodSpec(**fields)


def test_params_errors_name_the_path_and_the_bad_value() -> None:
    with pytest.raises(SpecError) as info:
        METHODS.validate_params("double", {"steps": "many"}, "methods[0].params")
    assert "methods[0].params.steps" in str(info.value) and "(got 'many')" in str(info.value)


def test_parse_gives_typed_parts_and_fills_left_out_parts_from_the_default() -> None:
    parsed = GRID.parse(BenchmarkSpec(benchmark="grid", size="full", seeds=[1, 2]))
    assert isinstance(parsed.world, GridWorld) and parsed.world.size == 16
    assert isinstance(parsed.model, TinyModel) and parsed.params.trials == 3
    assert [m.name for m in parsed.methods] == ["double"]
    assert isinstance(parsed.methods[0].params, StepParams)
    assert parsed.seeds == [1, 2] and parsed.metrics is None
    result = GRID.run(parsed, NullProgress(), "")
    assert [m.value for m in result.metrics] == [4.0, 16.0]


def test_explicit_parts_are_not_overridden_by_the_default() -> None:
    spec = BenchmarkSpec(
        benchmark="grid",
        world=WorldSpec(name="grid", params={}),
        methods=[MethodConfig(name="double", params={"steps": 5})],
        params={},
    )
    parsed = GRID.parse(spec)
    assert parsed.world.size == 4 and parsed.params.trials == 1
    assert parsed.methods[0].params == StepParams(steps=5)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"methods": [{"name": "nope"}]}, "methods[0].name: unknown method 'nope' for grid"),
        ({"methods": [{"name": "twice"}]}, "accepted: double"),
        ({"methods": [{"name": "double", "params": {"stepz": 1}}]}, "did you mean 'steps'?"),
        ({"metrics": ["auc"]}, "metrics: unknown metric 'auc' for grid; accepted: size, value"),
        ({"world": {"name": "grid", "params": {"width": -5}}}, "world.params.width"),
        ({"world": {"name": "torus"}}, "world.name: unknown world 'torus'; accepted: grid"),
        ({"world": None}, "world: required; accepted names: grid"),
        ({"model": {"name": "tiny", "params": {"width": -5, "depth": 2}}}, "model.params.depth"),
        ({"model": {"name": "tiny", "checkpoint": "/ckpt"}}, "model.checkpoint"),
        ({"params": {"trials": "x"}}, "params.trials"),
        ({"seeds": [1, 2, 3]}, "seeds: grid takes at most 2 seed(s)"),
        ({"requests": [{"kind": "graph_edges", "edges": [[0, 1]]}]}, "requests[0].kind"),
    ],
)
def test_parse_names_each_field_the_benchmark_does_not_read(
    data: dict[str, object], expected: str
) -> None:
    assert expected in _problems(data)


def test_every_problem_is_reported_at_once() -> None:
    text = _problems({"metrics": ["auc"], "methods": [{"name": "nope"}], "seeds": [1, 2, 3]})
    assert text.count("\n  - ") == 3


def test_a_benchmark_without_world_model_or_methods_refuses_them() -> None:
    bare: Benchmark[StrictModel, StrictModel, StrictModel] = Benchmark(
        name="bare",
        summary="s",
        default_spec=lambda size: BenchmarkSpec(benchmark="bare", size=size),
        run=lambda parsed, progress, out: BenchmarkResult(),
    )
    spec = BenchmarkSpec.model_validate(
        {
            "benchmark": "bare",
            "world": {"name": "w"},
            "model": {"name": "m", "params": {"width": -5}},
            "methods": [{"name": "no-such-method"}],
            "params": {"x": 1},
        }
    )
    with pytest.raises(SpecError) as info:
        bare.parse(spec)
    text = str(info.value)
    for expected in ("world: bare takes no world", "model: bare takes no model"):
        assert expected in text
    assert "methods: bare takes no methods" in text and "params.x" in text


def test_check_errors_become_spec_errors_and_metrics_are_selected() -> None:
    import dataclasses

    def check(parsed: ParsedSpec[GridWorld, TinyModel, RunKnobs]) -> None:
        if parsed.world.size > parsed.params.trials * 100:
            raise ValueError("world.params.size must be at most 100 x params.trials")

    strict = dataclasses.replace(GRID, check=check)
    with pytest.raises(SpecError, match="at most 100"):
        strict.parse(
            BenchmarkSpec(benchmark="grid", world=WorldSpec(name="grid", params={"size": 999}))
        )
    parsed = GRID.parse(BenchmarkSpec(benchmark="grid", metrics=["size"]))
    kept = GRID.select_metrics(parsed, GRID.run(parsed, NullProgress(), ""))
    assert [m.name for m in kept.metrics] == ["size"]


def test_registry_module_imports_nothing_heavy() -> None:
    code = (
        "import sys, unlearn_schema.registry, unlearn_schema.plugins; print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_membership_is_a_plain_question_and_the_checkpoint_hint_is_said() -> None:
    import dataclasses

    assert "double" in METHODS and "nope" not in METHODS
    hinted = dataclasses.replace(GRID, checkpoint_hint="use my_pkg.unlearn_own(path)")
    spec = BenchmarkSpec.model_validate(
        {"benchmark": "grid", "model": {"name": "tiny", "checkpoint": "/ckpt"}}
    )
    with pytest.raises(SpecError, match=r"use my_pkg\.unlearn_own"):
        hinted.parse(spec)
