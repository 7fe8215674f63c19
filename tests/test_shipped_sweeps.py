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
