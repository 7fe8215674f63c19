"""The ``graph-hyper-conhd`` benchmark: specs, checks and a tiny end-to-end run."""

from __future__ import annotations

import pytest
from unlearn_graph.benchmarks.conhd import GRAPH_HYPER_CONHD
from unlearn_schema.configs import WorldSpec
from unlearn_schema.errors import SpecError
from unlearn_schema.plugins import NullProgress
from unlearn_schema.testing import heavy_modules_after


def test_benchmark_import_is_light() -> None:
    assert heavy_modules_after("import unlearn_graph.benchmarks.conhd") == []


def test_default_specs_parse() -> None:
    quick = GRAPH_HYPER_CONHD.parse(GRAPH_HYPER_CONHD.default_spec("quick"))
    full = GRAPH_HYPER_CONHD.parse(GRAPH_HYPER_CONHD.default_spec("full"))
    assert quick.world_name == full.world_name == "hyper-roles"
    assert full.params.layers == [1, 2, 4, 8] and full.seeds == [0, 1, 2]
    assert "conhd" in quick.params.models and "whatsnet" in quick.params.models


def test_bad_specs_are_named() -> None:
    spec = GRAPH_HYPER_CONHD.default_spec("quick").model_copy(
        update={"params": {"hidden": 10, "heads": 4}}
    )
    with pytest.raises(SpecError, match=r"params.heads \(4\) must divide params.hidden \(10\)"):
        GRAPH_HYPER_CONHD.parse(spec)
    spec = GRAPH_HYPER_CONHD.default_spec("quick").model_copy(
        update={"params": {"models": ["conhd", "conhd"]}}
    )
    with pytest.raises(SpecError, match="models must be distinct"):
        GRAPH_HYPER_CONHD.parse(spec)


def test_a_tiny_run_reports_every_cell() -> None:
    spec = GRAPH_HYPER_CONHD.default_spec("quick").model_copy(
        update={
            "world": WorldSpec(name="hyper-roles", params={"num_nodes": 40, "num_hyperedges": 20}),
            "params": {"layers": [1, 2], "epochs": 3, "hidden": 8, "heads": 2},
        }
    )
    result = GRAPH_HYPER_CONHD.run(GRAPH_HYPER_CONHD.parse(spec), NullProgress(), "")
    micro = [m for m in result.metrics if m.name == "micro_f1"]
    assert len(micro) == 5 * 2  # models x depths
    assert all(0.0 <= m.value <= 1.0 for m in micro)
    margins = [m for m in result.metrics if m.name == "conhd_margin"]
    assert len(margins) == 2 and all(m.labels["best_other"] != "conhd" for m in margins)
    best = {
        d: max(
            m.value for m in micro if m.labels["layers"] == d and "conhd" not in m.labels["model"]
        )
        for d in ("1", "2")
    }
    conhd = {m.labels["layers"]: m.value for m in micro if m.labels["model"] == "conhd"}
    for margin in margins:
        d = margin.labels["layers"]
        assert margin.value == pytest.approx(conhd[d] - best[d])
    assert {c.name for c in result.curves} == {
        "conhd-micro-f1-vs-layers",
        "conhd-epoch-time-vs-layers",
    }
    assert result.summary is not None and len(result.summary.rows) == 5
    assert all(m.value > 0 for m in result.metrics if m.name == "epoch_time")
