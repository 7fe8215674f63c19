"""The ``snapshot-chaos`` benchmark: its spec parses and a tiny run reports zero failures."""

from __future__ import annotations

from pathlib import Path

from train_infra.benchmarks import SNAPSHOT_CHAOS
from train_infra.benchmarks.snapshot_chaos import FAILURE_NAMES, ChaosRun
from train_infra.snapshot import chaos
from unlearn_schema import NullProgress


def test_default_specs_parse_and_name_the_failure_kinds_of_the_drivers() -> None:
    for size in ("quick", "full"):
        parsed = SNAPSHOT_CHAOS.parse(SNAPSHOT_CHAOS.default_spec(size))
        assert parsed.params.kills >= 100  # the "at least 100 kills"
        assert parsed.params.metadata_flips is None  # every bit of meta.json and LATEST
    assert set(FAILURE_NAMES) < set(chaos.ChaosCounts().as_dict())  # counted by the drivers


def test_a_tiny_run_reports_every_count_and_no_failure(tmp_path: Path) -> None:
    spec = SNAPSHOT_CHAOS.default_spec("quick").model_copy(
        update={
            "params": ChaosRun(
                kills=6, shard_flips=10, metadata_flips=10, fragment_trials=0
            ).model_dump()
        }
    )
    parsed = SNAPSHOT_CHAOS.parse(spec)
    result = SNAPSHOT_CHAOS.run(parsed, NullProgress(), str(tmp_path))
    names = {m.name for m in result.metrics}
    assert names == SNAPSHOT_CHAOS.metric_names
    by_fault = {
        (m.labels.get("fault"), m.name): m.value for m in result.metrics if "fault" in m.labels
    }
    assert by_fault[("kill-in-persist", "trials")] == 6
    assert by_fault[("bit-flip", "trials")] == 30
    assert by_fault[("wrong-optimizer", "trials")] == 8
    assert ("fragment-loss", "trials") not in by_fault  # fragment_trials=0 skips it
    failures = [m for m in result.metrics if m.name == "failures"]
    assert [m.value for m in failures] == [0.0], result.notes
