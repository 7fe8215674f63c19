"""The checks and the result builder the unlearn-graph benchmarks share (`benchmarks._common`)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from unlearn_graph.benchmarks import _common
from unlearn_graph.worlds import CSBMConfig, PlanetoidConfig
from unlearn_schema.results import MetricValue, Table


def test_distinct_entries_keeps_the_order_and_names_the_field() -> None:
    assert _common.distinct_entries(["gat", "gcn"], "models") == ["gat", "gcn"]
    with pytest.raises(ValueError, match=r"models must be distinct, got \['gcn', 'gcn'\]"):
        _common.distinct_entries(["gcn", "gcn"], "models")


def test_distinct_shares_sorts_and_rejects_the_bounds_and_repeats() -> None:
    assert _common.distinct_shares([0.4, 0.1, 0.2], "rates") == [0.1, 0.2, 0.4]
    for bad in ([0.0, 0.5], [0.5, 1.0], [0.3, 0.3]):
        with pytest.raises(ValueError, match=r"rates must be distinct numbers in \(0, 1\)"):
            _common.distinct_shares(bad, "rates")


def test_check_node_split_needs_a_test_set() -> None:
    _common.check_node_split(0.6, 0.2)
    with pytest.raises(ValueError, match=r"got 0.8 \+ 0.2"):
        _common.check_node_split(0.8, 0.2)


def test_check_planetoid_world_names_the_missing_files(tmp_path: Path) -> None:
    _common.check_planetoid_world(CSBMConfig())
    world = PlanetoidConfig(folder=str(tmp_path), name="cora")
    with pytest.raises(ValueError, match=r"lacks ind\.cora\.x"):
        _common.check_planetoid_world(world)


def test_comparison_result_appends_the_run_notes_after_the_own() -> None:
    started = time.perf_counter()
    metrics = [MetricValue(name="test_accuracy", value=0.5)]
    summary = Table(title="t", header=["a"], rows=[["1"]])
    notes = ["own note"]
    before = (1.0, 2.0, 3.0)
    result = _common.comparison_result(metrics, [], summary, notes, before, started, threads=3)
    assert notes == ["own note"]
    assert len(result.notes) == 3 and result.notes[0] == "own note"
    assert result.notes[1].startswith(
        "machine load (1/5/15-minute load average) 1.00 / 2.00 / 3.00 before and "
    )
    assert result.notes[2].startswith("machine: ")
    assert result.notes[2].endswith(", 3 torch thread(s)")
    assert result.timings["total"] >= 0.0
    assert result.summary == summary and result.metrics == metrics
