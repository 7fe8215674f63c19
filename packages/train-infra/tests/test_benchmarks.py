"""The registered benchmarks: cheap valid default specs, clear spec errors, quick runs."""

from __future__ import annotations

import pytest
from train_infra.benchmarks import (
    DISKGNN_FEATURES,
    P2P_DISRUPTION,
    ROPE_FEASIBILITY,
    SNAPSHOT_RECOVERY,
)
from unlearn_schema import NullProgress, SpecError

ALL = [SNAPSHOT_RECOVERY, ROPE_FEASIBILITY, DISKGNN_FEATURES, P2P_DISRUPTION]


@pytest.mark.parametrize("benchmark", ALL, ids=lambda b: b.name)
def test_default_specs_are_valid(benchmark) -> None:  # type: ignore[no-untyped-def]
    for size in ("quick", "full"):
        spec = benchmark.default_spec(size)
        assert spec.benchmark == benchmark.name and spec.size == size
        benchmark.check(spec)


def test_bad_params_name_the_field() -> None:
    spec = SNAPSHOT_RECOVERY.default_spec("quick")
    with pytest.raises(SpecError, match="crash_after=40 must be < steps=30"):
        SNAPSHOT_RECOVERY.check(
            spec.model_copy(update={"params": {**spec.params, "crash_after": 40}})
        )
    spec = ROPE_FEASIBILITY.default_spec("quick")
    with pytest.raises(SpecError, match="unknown configs"):
        ROPE_FEASIBILITY.check(
            spec.model_copy(update={"params": {**spec.params, "configs": ["gpt-9"]}})
        )


def test_rope_benchmark_finds_the_precision_wall(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = ROPE_FEASIBILITY.run(
        ROPE_FEASIBILITY.default_spec("quick"), NullProgress(), str(tmp_path)
    )
    walls = {
        m.labels["dtype"]: m.value for m in result.metrics if m.name == "precision_wall_context"
    }
    assert walls["bfloat16"] < walls["float32"] <= 2**20


def test_small_diskgnn_run_matches_in_memory_accuracy(tmp_path) -> None:  # type: ignore[no-untyped-def]
    spec = DISKGNN_FEATURES.default_spec("quick")
    assert spec.world is not None
    world = {**spec.world.params, "num_nodes": 3000}
    spec = spec.model_copy(
        update={
            "world": spec.world.model_copy(update={"params": world}),
            "params": {**spec.params, "epochs": 1},
        }
    )
    result = DISKGNN_FEATURES.run(spec, NullProgress(), str(tmp_path))
    by_name = {(m.name, m.labels.get("store")): m for m in result.metrics}
    packed = by_name[("bytes_read_per_useful_byte", "packed")]
    assert packed.reference is not None and packed.value < packed.reference
    acc = by_name[("test_accuracy", "packed+prefetch")]
    assert acc.value == acc.reference  # same bytes, same seed: the same model


def test_tiny_snapshot_run_restores_both_paths_bit_identically(tmp_path) -> None:  # type: ignore[no-untyped-def]
    spec = SNAPSHOT_RECOVERY.default_spec("quick")
    small = {**spec.params, "width": 32, "layers": 2, "steps": 6, "crash_after": 3}
    result = SNAPSHOT_RECOVERY.run(
        spec.model_copy(update={"params": small}), NullProgress(), str(tmp_path)
    )
    by_name = {m.name: m.value for m in result.metrics}
    assert by_name["bit_identical_after_restore"] == 1.0
    # PingPongAdamW resumed after the crash equals the uninterrupted torch AdamW run.
    assert by_name["pingpong_bit_identical_after_restore"] == 1.0
    assert len(result.curves[0].series) == 3
