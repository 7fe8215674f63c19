"""The registered benchmarks: default specs parse, small runs through parse + run."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import pytest
from train_infra.benchmarks import (
    DISKGNN_FEATURES,
    P2P_DISRUPTION,
    ROPE_FEASIBILITY,
    SNAPSHOT_RECOVERY,
    TRAIN_INFRA_SPEED,
)
from train_infra.benchmarks.speed import GOALS
from unlearn_schema.configs import BenchmarkSpec, MethodConfig, ModelSpec, WorldSpec
from unlearn_schema.errors import SpecError
from unlearn_schema.plugins import Benchmark, NullProgress
from unlearn_schema.results import BenchmarkResult

ALL = [SNAPSHOT_RECOVERY, ROPE_FEASIBILITY, DISKGNN_FEATURES, P2P_DISRUPTION, TRAIN_INFRA_SPEED]


def _run(benchmark: Benchmark[Any, Any, Any], spec: BenchmarkSpec, out: Path) -> BenchmarkResult:
    """Parse once and run, as the app does; every reported name must be declared."""
    parsed = benchmark.parse(spec)
    result = benchmark.select_metrics(parsed, benchmark.run(parsed, NullProgress(), str(out)))
    undeclared = {m.name for m in result.metrics} - benchmark.metric_names
    assert not undeclared, f"{benchmark.name} reports undeclared metrics {undeclared}"
    return result


@pytest.mark.parametrize("benchmark", ALL, ids=lambda b: b.name)
def test_default_specs_parse(benchmark: Benchmark[Any, Any, Any]) -> None:
    for size in ("quick", "full"):
        spec = benchmark.default_spec(size)
        assert spec.benchmark == benchmark.name and spec.size == size
        benchmark.parse(spec)


def test_bad_params_name_the_field() -> None:
    spec = SNAPSHOT_RECOVERY.default_spec("quick")
    with pytest.raises(SpecError, match="crash_after=40 must be < steps=30"):
        SNAPSHOT_RECOVERY.parse(
            spec.model_copy(update={"params": {**spec.params, "crash_after": 40}})
        )
    spec = ROPE_FEASIBILITY.default_spec("quick")
    with pytest.raises(SpecError, match="unknown configs"):
        ROPE_FEASIBILITY.parse(
            spec.model_copy(update={"params": {**spec.params, "configs": ["gpt-9"]}})
        )


def test_fields_that_were_ignored_are_read_or_refused() -> None:
    # The model's width was read from params (model.params.width: -5 passed), and the
    # gossip world's partition was overwritten by the sweep: both are errors now.
    spec = SNAPSHOT_RECOVERY.default_spec("quick")
    with pytest.raises(SpecError, match=r"model\.params\.width: .*greater than or equal to 8"):
        SNAPSHOT_RECOVERY.parse(
            spec.model_copy(update={"model": ModelSpec(name="mlp", params={"width": -5})})
        )
    with pytest.raises(SpecError, match=r"params\.width: Extra inputs"):
        SNAPSHOT_RECOVERY.parse(spec.model_copy(update={"params": {"width": 64}}))
    spec = P2P_DISRUPTION.default_spec("quick")
    world = WorldSpec(name="barabasi-albert-gossip", params={"partition": "non-iid"})
    with pytest.raises(SpecError, match=r"world\.params\.partition: Extra inputs"):
        P2P_DISRUPTION.parse(spec.model_copy(update={"world": world}))
    with pytest.raises(SpecError, match="p2p-disruption runs at most one method per spec"):
        P2P_DISRUPTION.parse(
            spec.model_copy(update={"methods": [MethodConfig(name="gossip-averaging")] * 2})
        )
    spec = SNAPSHOT_RECOVERY.default_spec("quick")
    for methods, problem in (([], "at least one"), (["copy-snapshot"] * 2, "given twice")):
        configs = [MethodConfig(name=name) for name in methods]
        with pytest.raises(SpecError, match=problem):
            SNAPSHOT_RECOVERY.parse(spec.model_copy(update={"methods": configs}))


def test_rope_benchmark_finds_the_precision_wall_and_selects_metrics(tmp_path: Path) -> None:
    spec = ROPE_FEASIBILITY.default_spec("quick")
    result = _run(ROPE_FEASIBILITY, spec, tmp_path)
    walls = {
        m.labels["dtype"]: m.value for m in result.metrics if m.name == "precision_wall_context"
    }
    assert walls["bfloat16"] < walls["float32"] <= 2**20
    assert {m.name for m in result.metrics} == ROPE_FEASIBILITY.metric_names
    selected = _run(
        ROPE_FEASIBILITY, spec.model_copy(update={"metrics": ["precision_wall_context"]}), tmp_path
    )
    assert {m.name for m in selected.metrics} == {"precision_wall_context"}
    assert len(selected.metrics) == len(walls)


def test_small_diskgnn_run_matches_in_memory_accuracy(tmp_path: Path) -> None:
    spec = DISKGNN_FEATURES.default_spec("quick")
    assert spec.world is not None
    world = {**spec.world.params, "num_nodes": 3000}
    spec = spec.model_copy(
        update={
            "world": spec.world.model_copy(update={"params": world}),
            "model": ModelSpec(name="graphsage-mean", params={"hidden": 32}),
            "params": {**spec.params, "epochs": 1},
        }
    )
    result = _run(DISKGNN_FEATURES, spec, tmp_path)
    by_name = {(m.name, m.labels.get("store")): m for m in result.metrics}
    packed = by_name[("bytes_read_per_useful_byte", "packed")]
    assert packed.reference is not None and packed.value < packed.reference
    acc = by_name[("test_accuracy", "packed+prefetch")]
    assert acc.value == acc.reference  # same bytes, same seed: the same model


def _tiny_snapshot_spec(methods: list[str]) -> BenchmarkSpec:
    spec = SNAPSHOT_RECOVERY.default_spec("quick")
    return spec.model_copy(
        update={
            "model": ModelSpec(name="mlp", params={"width": 32, "layers": 2}),
            "methods": [MethodConfig(name=name) for name in methods],
            "params": {**spec.params, "steps": 6, "crash_after": 3},
        }
    )


def test_tiny_snapshot_run_restores_both_paths_bit_identically(tmp_path: Path) -> None:
    spec = _tiny_snapshot_spec(["copy-snapshot", "pingpong-adamw"])
    result = _run(SNAPSHOT_RECOVERY, spec, tmp_path)
    by_name = {m.name: m.value for m in result.metrics}
    assert by_name["bit_identical_after_restore"] == 1.0
    # PingPongAdamW resumed after the crash equals the uninterrupted torch AdamW run.
    assert by_name["pingpong_bit_identical_after_restore"] == 1.0
    assert by_name["pingpong_max_loss_difference"] == 0.0
    assert len(result.curves[0].series) == 3
    assert {m.name for m in result.metrics} == SNAPSHOT_RECOVERY.metric_names


def test_snapshot_run_tests_only_the_strategies_named(tmp_path: Path) -> None:
    result = _run(SNAPSHOT_RECOVERY, _tiny_snapshot_spec(["pingpong-adamw"]), tmp_path)
    names = {m.name for m in result.metrics}
    assert "pingpong_bit_identical_after_restore" in names
    assert "bit_identical_after_restore" not in names
    assert [s.label for s in result.curves[0].series] == [
        "no snapshots",
        "every-step snapshot (PingPongAdamW)",
    ]


def test_p2p_run_averages_seeds_and_labels_each(tmp_path: Path) -> None:
    spec = P2P_DISRUPTION.default_spec("quick").model_copy(
        update={
            "seeds": [0, 1],
            "world": WorldSpec(
                name="barabasi-albert-gossip",
                params={"num_nodes": 20, "rounds": 8, "drop_round": 3},
            ),
            "params": {"partitions": ["non-iid"], "drop_kinds": ["connectivity"]},
        }
    )
    result = _run(P2P_DISRUPTION, spec, tmp_path)
    finals = {
        (m.labels["drop"], m.labels.get("seed")): m.value
        for m in result.metrics
        if m.name == "final_accuracy"
    }
    assert set(finals) == {(d, s) for d in ("none", "connectivity") for s in (None, "0", "1")}
    for drop in ("none", "connectivity"):
        mean = statistics.fmean([finals[(drop, "0")], finals[(drop, "1")]])
        assert finals[(drop, None)] == pytest.approx(mean)
    curve = result.curves[0].series[0]
    assert curve.y[-1] == pytest.approx(finals[("none", None)])


def test_quick_speed_run_reports_ratios_and_goal_flags(tmp_path: Path) -> None:
    result = _run(TRAIN_INFRA_SPEED, TRAIN_INFRA_SPEED.default_spec("quick"), tmp_path)
    by_name = {m.name: m for m in result.metrics if not m.labels}
    for goal in GOALS:
        if goal in by_name:  # encode_vs_zfec needs the zfec extra
            assert by_name[f"{goal}_met"].value in (0.0, 1.0)
            assert by_name[goal].reference == GOALS[goal].bound
    assert "gather_speedup_vs_naive_met" in by_name
    assert any(m.unit == "s" and m.name == "step_s_pingpong" for m in result.metrics)
    # Where the floor is: the out-of-place update alone, and the snapshot above it.
    assert any(m.unit == "s" and m.name == "step_s_pingpong_flip" for m in result.metrics)
    assert {"pingpong_floor_step_overhead", "snapshot_over_pingpong_floor"} <= set(by_name)
    assert any(note.startswith("the floor: the out-of-place update") for note in result.notes)
    assert any("load average" in note for note in result.notes)
