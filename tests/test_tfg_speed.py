"""``tfg-detection-speed`` (unlearn-graph) on a small graph-algos TravelFraudBench world."""

from __future__ import annotations

import pytest
from unlearn_graph.benchmarks.fraud_speed import TFG_DETECTION_SPEED
from unlearn_schema import NullProgress
from unlearn_schema.errors import SpecError


def test_the_default_specs_are_at_the_goal_size_and_validate() -> None:
    for size in ("quick", "full"):
        parsed = TFG_DETECTION_SPEED.parse(TFG_DETECTION_SPEED.default_spec(size))
        assert parsed.world.nodes == 200_000
        assert "sage" in parsed.params.detectors
    assert TFG_DETECTION_SPEED.kind == "speed"


def test_a_small_world_reports_peak_memory_and_epoch_time_against_the_goals(
    tmp_path: object,
) -> None:
    spec = TFG_DETECTION_SPEED.default_spec("quick").model_copy(deep=True)
    assert spec.world is not None
    spec.world.params = {"nodes": 1500, "fraud_rate": 0.08}
    spec.params = {"detectors": ["sage"], "epochs": 2}
    result = TFG_DETECTION_SPEED.run(TFG_DETECTION_SPEED.parse(spec), NullProgress(), "")
    values = {(m.name, m.labels.get("method")): m for m in result.metrics}
    assert values[("nodes", None)].value == 1500
    peak = values[("peak_rss", "sage")]
    # a fresh process with torch imported holds tens of MB at least, and far below 8 GB here
    assert 0.02 < peak.value < 8.0 and peak.reference == 8.0 and peak.unit == "GB"
    assert values[("peak_rss_met", "sage")].value == 1.0
    epoch = values[("epoch_time", "sage")]
    assert 0.0 < epoch.value < 60.0 and epoch.reference == 60.0
    assert values[("epoch_time_met", "sage")].value == 1.0
    assert values[("epoch_time_median", "sage")].value <= epoch.value
    # a high-water mark: a small world can add nothing above the peak the imports set
    assert 0.0 <= values[("peak_rss_above_imports", "sage")].value < peak.value
    assert any("goals are stated at 200000 nodes" in note for note in result.notes)
    assert result.summary is not None and [r[0] for r in result.summary.rows] == ["sage"]


def test_duplicate_detectors_are_refused() -> None:
    spec = TFG_DETECTION_SPEED.default_spec("quick").model_copy(
        update={"params": {"detectors": ["sage", "sage"]}}
    )
    with pytest.raises(SpecError) as caught:
        TFG_DETECTION_SPEED.parse(spec)
    assert any("distinct" in problem for problem in caught.value.problems)
