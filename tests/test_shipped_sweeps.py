"""Every sweep the app ships plans against the installed packages (all its cells parse)."""

from __future__ import annotations

import pytest
from unlearn_bench.sweep import plan_sweep, read_sweep, shipped_sweeps


@pytest.mark.parametrize("name", sorted(shipped_sweeps()))
def test_shipped_sweep_plans(name: str) -> None:
    sweep = read_sweep(name)
    plan = plan_sweep(sweep, name)
    assert len(plan.cells) == sweep.cell_count() and plan.merged == 0


def test_llm_sweep_gives_every_cell_one_method_with_its_grid_values() -> None:
    plan = plan_sweep(read_sweep("llm-lr-steps"), "llm-lr-steps")
    assert all(len(cell.spec.methods) == 1 for cell in plan.cells)
    names = {cell.spec.methods[0].name for cell in plan.cells}
    assert {"gradient-ascent", "npo", "rmu", "task-vector", "sani"} <= names
    first = plan.cells[0].spec.methods[0].params
    assert first["learning_rate"] == 2.5e-4 and first["steps"] == 12
    assert plan.cells[0].spec.params["attacks"] == []


def test_the_spec_a_worker_receives_parses_to_the_same_spec() -> None:
    from unlearn_schema import BenchmarkSpec

    plan = plan_sweep(read_sweep("llm-lr-steps"), "llm-lr-steps")
    for cell in plan.cells[:3]:
        copy = BenchmarkSpec.model_validate_json(cell.spec.model_dump_json())
        assert plan.benchmark.parse(copy).spec == cell.spec  # world and model spelled out
        assert copy.world is not None and copy.model is not None
