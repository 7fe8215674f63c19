"""The ``graph-edge-dht`` benchmark: specs, a tiny run, the scaling fit."""

from __future__ import annotations

import math

import pytest
from unlearn_graph.benchmarks.edge_dht import GRAPH_EDGE_DHT, scaling_exponent
from unlearn_schema.configs import WorldSpec
from unlearn_schema.errors import SpecError
from unlearn_schema.plugins import NullProgress
from unlearn_schema.testing import heavy_modules_after


def test_benchmark_import_is_light() -> None:
    assert heavy_modules_after("import unlearn_graph.benchmarks.edge_dht") == []


def test_scaling_exponent_is_the_log_log_slope() -> None:
    # 10x the edges for 10x the time: slope 1; for 100x the time: slope 2.
    assert scaling_exponent([10, 100, 1000], [1.0, 10.0, 100.0]) == pytest.approx(1.0)
    assert scaling_exponent([10, 100], [1.0, 100.0]) == pytest.approx(2.0)
    assert math.isnan(scaling_exponent([10], [1.0]))


def test_default_specs_parse_and_bad_params_are_named() -> None:
    for size in ("quick", "full"):
        parsed = GRAPH_EDGE_DHT.parse(GRAPH_EDGE_DHT.default_spec(size))
        assert parsed.world_name == "edge-patterns"
        assert parsed.params.scaling_edges[:3] == [10_000, 100_000, 1_000_000]
    spec = GRAPH_EDGE_DHT.default_spec("quick").model_copy(update={"params": {"ratios": [0.0]}})
    with pytest.raises(SpecError, match="ratios"):
        GRAPH_EDGE_DHT.parse(spec)


def test_a_tiny_run_reports_every_cell_and_the_timing(tmp_path: object) -> None:
    spec = GRAPH_EDGE_DHT.default_spec("quick").model_copy(
        update={
            "world": WorldSpec(name="edge-patterns", params={"graphs_per_class": 6}),
            "params": {
                "ratios": [0.5, 1.0],
                "epochs": 2,
                "hidden": 8,
                "scaling_edges": [200, 2000],
                "repeats": 2,
            },
        }
    )
    result = GRAPH_EDGE_DHT.run(GRAPH_EDGE_DHT.parse(spec), NullProgress(), str(tmp_path))
    accuracy = [m for m in result.metrics if m.name == "test_accuracy"]
    # two pooled models at two ratios, two unpooled models
    assert len(accuracy) == 2 * 2 + 2 and all(0.0 <= m.value <= 1.0 for m in accuracy)
    errors = [m for m in result.metrics if m.name == "reconstruction_error"]
    assert len(errors) == 6 and all(0.0 <= m.value <= 1.0 for m in errors)
    assert {m.labels["edges"] for m in result.metrics if m.name == "dht_time"} == {"200", "2000"}
    assert any(m.name == "dht_scaling_exponent" for m in result.metrics)
    assert {c.name for c in result.curves} == {
        "edge-dht-test-accuracy-vs-ratio",
        "edge-dht-reconstruction-error-vs-ratio",
        "edge-dht-scaling",
    }
    assert result.summary is not None and len(result.summary.rows) == 6
    assert any("linear-time check" in note for note in result.notes)
