from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from unlearn_schema import (
    Benchmark,
    BenchmarkResult,
    BenchmarkSpec,
    MethodConfig,
    MethodSpec,
    NoParams,
    ParsedSpec,
    Registry,
    SpecError,
)
from unlearn_schema.recipes import (
    Goal,
    check_methods,
    machine_load_note,
    met_flag,
    spec_from_parts,
)


@pytest.mark.parametrize(
    ("comparison", "below", "at", "above", "direction"),
    [
        ("<", True, False, False, "lower"),
        ("<=", True, True, False, "lower"),
        (">=", False, True, True, "higher"),
        (">", False, False, True, "higher"),
    ],
)
def test_a_goal_is_met_on_its_side_of_the_bound(
    comparison: str, below: bool, at: bool, above: bool, direction: str
) -> None:
    goal = Goal(comparison, 2.0)  # type: ignore[arg-type]
    assert [goal.met(1.0), goal.met(2.0), goal.met(3.0)] == [below, at, above]
    assert goal.direction == direction
    assert str(goal) == f"{comparison} 2.0"


def test_a_goal_names_an_unknown_comparison() -> None:
    with pytest.raises(ValueError, match="one of <, <=, >=, >, got '=='"):
        Goal("==", 1.0)  # type: ignore[arg-type]


def test_a_met_flag_is_one_or_zero_and_keeps_its_labels_and_reference() -> None:
    met = met_flag("speedup_met", True, {"method": "uce"})
    assert (met.name, met.value, met.direction, met.labels) == (
        "speedup_met",
        1.0,
        "higher",
        {"method": "uce"},
    )
    assert met.reference is None and met.reference_name is None
    missed = met_flag("encode_vs_zfec_met", False, reference=1.0, reference_name=">= 1.0")
    assert (missed.value, missed.labels, missed.reference, missed.reference_name) == (
        0.0,
        {},
        1.0,
        ">= 1.0",
    )


def test_the_machine_load_note_gives_both_loads_and_the_cores() -> None:
    note = machine_load_note((0.5, 0.25, 0.125), after=(1.0, 2.0, 3.0), cores=2)
    assert note.startswith(
        "machine load (1/5/15-minute load average) 0.50 / 0.25 / 0.12 before and "
        "1.00 / 2.00 / 3.00 after, on 2 cores: "
    )
    alone = machine_load_note((0.5, 0.25, 0.125), cores=2)
    assert "0.50 / 0.25 / 0.12 before, on 2 cores" in alone and "after" not in alone
    with pytest.raises(ValueError, match=r"after must hold the 1-, 5- and 15-minute"):
        machine_load_note((0.5, 0.25, 0.125), after=(1.0,))


def test_recipes_import_nothing_heavy() -> None:
    code = (
        "import sys, unlearn_schema.recipes; "
        "print(sorted(m for m in ('torch', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _parsed(*names: str) -> ParsedSpec[Any, Any, Any]:
    registry = Registry(
        "method",
        [
            MethodSpec(name=n, params="unlearn_schema:NoParams", entry="os:getcwd", summary=n)
            for n in ("a", "b")
        ],
    )
    benchmark: Benchmark[NoParams, NoParams, NoParams] = Benchmark(
        name="toy",
        summary="A toy.",
        default_spec=lambda size: BenchmarkSpec(benchmark="toy", size=size),
        run=lambda parsed, progress, out_dir: BenchmarkResult(),
        methods=registry,
    )
    spec = BenchmarkSpec(benchmark="toy", methods=[MethodConfig(name=n) for n in names])
    return benchmark.parse(spec)


def test_check_methods_names_too_few_too_many_and_repeats() -> None:
    check_methods(_parsed("a", "b"), ("a", "b"))
    check_methods(_parsed(), at_least=0)
    with pytest.raises(SpecError, match=r"toy needs at least one method, got \[\]; accepted: a, b"):
        check_methods(_parsed(), ("a", "b"))
    with pytest.raises(SpecError, match=r"toy runs at most one method per spec, got \['a', 'b'\]"):
        check_methods(_parsed("a", "b"), at_most=1)
    with pytest.raises(SpecError) as error:
        check_methods(_parsed("a", "b", "a", "a"))
    assert error.value.problems == [
        f"methods[{index}].name: 'a' is given twice (first at methods[0]); give each method "
        "once (results are labelled by method name: one spec per setting)"
        for index in (2, 3)
    ]


class _Knobs(NoParams):
    pair: tuple[int, int] = (10, 5)
    rate: float = 0.5


def test_spec_from_parts_dumps_every_part_to_json_values() -> None:
    spec = spec_from_parts(
        "toy",
        "full",
        [0, 1],
        world=("grid", _Knobs(rate=0.25)),
        model=("mlp", _Knobs()),
        methods=["a", "b", "c"],
        method_params={"a": _Knobs(), "b": {"rate": 2.0}},
        params=_Knobs(pair=(1, 2)),
    )
    assert spec.seeds == [0, 1] and spec.size == "full"
    assert spec.world is not None and spec.world.name == "grid"
    assert spec.world.params == {"pair": [10, 5], "rate": 0.25}
    assert spec.model is not None and spec.model.params == {"pair": [10, 5], "rate": 0.5}
    assert [(m.name, m.params) for m in spec.methods] == [
        ("a", {"pair": [10, 5], "rate": 0.5}),
        ("b", {"rate": 2.0}),
        ("c", {}),
    ]
    assert spec.params == {"pair": [1, 2], "rate": 0.5}
    bare = spec_from_parts("toy", "quick")
    assert (bare.seeds, bare.world, bare.model, bare.methods, bare.params) == (
        [0],
        None,
        None,
        [],
        {},
    )
