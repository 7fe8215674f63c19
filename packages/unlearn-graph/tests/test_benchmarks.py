from __future__ import annotations

import json
import subprocess
import sys

import pytest
from unlearn_graph.benchmarks import GRAPH_UNLEARN_FULL, GRAPH_UNLEARN_QUICK
from unlearn_schema import MethodConfig, NodeDeletionRequest, NullProgress, SpecError


def test_import_of_benchmarks_is_light() -> None:
    code = "import sys, unlearn_graph.benchmarks; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_default_specs_are_valid() -> None:
    for benchmark in (GRAPH_UNLEARN_QUICK, GRAPH_UNLEARN_FULL):
        for size in ("quick", "full"):
            spec = benchmark.default_spec(size)  # type: ignore[arg-type]
            assert spec.benchmark == benchmark.name and spec.size == size
            assert benchmark.check is not None
            benchmark.check(spec)


def test_check_names_bad_values() -> None:
    assert GRAPH_UNLEARN_QUICK.check is not None
    spec = GRAPH_UNLEARN_QUICK.default_spec("quick")
    bad = spec.model_copy(update={"methods": [MethodConfig(name="unlearn-everything")]})
    with pytest.raises(ValueError, match="unknown method 'unlearn-everything'; accepted: retrain"):
        GRAPH_UNLEARN_QUICK.check(bad)
    bad = spec.model_copy(update={"methods": [MethodConfig(name="gif", params={"scale": -1})]})
    with pytest.raises(SpecError, match="scale"):
        GRAPH_UNLEARN_QUICK.check(bad)
    bad = spec.model_copy(update={"params": {**spec.params, "deletion_ratios": [0.9]}})
    with pytest.raises(SpecError, match=r"deletion ratios must lie in \(0, 0.5\], got \[0.9\]"):
        GRAPH_UNLEARN_QUICK.check(bad)
    bad = spec.model_copy(update={"requests": [NodeDeletionRequest(nodes=[1])]})
    with pytest.raises(ValueError, match="leave requests empty"):
        GRAPH_UNLEARN_QUICK.check(bad)
    assert spec.model is not None
    bad = spec.model_copy(update={"model": spec.model.model_copy(update={"name": "transformer"})})
    with pytest.raises(ValueError, match=r"model\.name must be one of gcn, sage, gat, gin"):
        GRAPH_UNLEARN_QUICK.check(bad)


def test_a_tiny_run_reports_every_method_against_the_oracle() -> None:
    spec = GRAPH_UNLEARN_QUICK.default_spec("quick")
    assert spec.world is not None
    world = spec.world.model_copy(update={"params": {**spec.world.params, "num_nodes": 300}})
    params = {
        **spec.params,
        "deletion_ratios": [0.02, 0.05],
        "train": {"epochs": 20, "lr": 0.01, "weight_decay": 5e-4},
        "resamples": 3,
        "egnn_edits": 3,
    }
    methods = [
        MethodConfig(name="gradient-ascent", params={"steps": 3}),
        MethodConfig(name="gnndelete", params={"epochs": 5}),
        MethodConfig(name="d2dgn", params={"epochs": 5, "destroyer_epochs": 3}),
        MethodConfig(name="grapheraser", params={"num_shards": 2, "epochs": 10}),
        MethodConfig(name="gif", params={"iterations": 5}),
        MethodConfig(name="egnn", params={"stitch_epochs": 5, "edit_steps": 20}),
    ]
    spec = spec.model_copy(update={"world": world, "params": params, "methods": methods})
    result = GRAPH_UNLEARN_QUICK.run(spec, NullProgress(), "unused")
    json.dumps(result.model_dump(mode="json"))
    found = {(m.name, m.labels["method"], m.labels.get("scenario")) for m in result.metrics}
    for method in ("gradient-ascent", "gnndelete", "d2dgn", "grapheraser", "gif"):
        for name in ("deleted_edge_auroc", "retained_test_auroc", "mi_auc", "kl_to_oracle"):
            assert (name, method, "edges") in found
        assert ("time_ratio_to_retrain", method, "edges") in found
        assert ("retained_test_accuracy", method, "nodes") in found
    assert ("edit_success", "egnn", "edit") in found
    references = [m for m in result.metrics if m.labels["method"] == "gnndelete"]
    assert any(m.reference_name == "retrain oracle" for m in references)
    names = {c.name for c in result.curves}
    assert {"utility-vs-efficacy-edges", "time-vs-ratio-edges"} <= names
    assert result.notes


@pytest.mark.slow
def test_the_full_spec_runs_end_to_end_when_shrunk() -> None:
    """The nightly recipe's code path (several seeds, several ratios, both scenarios) on
    a 300-node graph with short trainings."""
    spec = GRAPH_UNLEARN_FULL.default_spec("full")
    assert len(spec.seeds) >= 2 and len(spec.params["deletion_ratios"]) >= 3
    assert spec.world is not None
    world = spec.world.model_copy(update={"params": {**spec.world.params, "num_nodes": 300}})
    ratios = spec.params["deletion_ratios"][-2:]
    params = {
        **spec.params,
        "deletion_ratios": ratios,
        "train": {"epochs": 10, "lr": 0.01, "weight_decay": 5e-4},
        "resamples": 2,
        "egnn_edits": 2,
    }
    methods = [
        m.model_copy(update={"params": {**m.params, "epochs": 5}})
        if m.name in ("gnndelete", "d2dgn", "grapheraser")
        else m
        for m in spec.methods
    ]
    spec = spec.model_copy(
        update={"world": world, "params": params, "methods": methods, "seeds": spec.seeds[:2]}
    )
    GRAPH_UNLEARN_FULL.check(spec)
    result = GRAPH_UNLEARN_FULL.run(spec, NullProgress(), "unused")
    json.dumps(result.model_dump(mode="json"))
    for scenario in ("edges", "nodes"):
        for ratio in ratios:
            rows = [
                m
                for m in result.metrics
                if m.labels.get("scenario") == scenario
                and m.labels.get("deletion_ratio") == f"{ratio:g}"
            ]
            assert {m.labels["method"] for m in rows} >= {"retrain", "gnndelete", "gif"}
    time_curves = [c for c in result.curves if c.name.startswith("time-vs-ratio")]
    assert time_curves and all(s.x == sorted(ratios) for c in time_curves for s in c.series)
