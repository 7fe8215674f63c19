from __future__ import annotations

import json
from typing import Any

import pytest
from unlearn_graph.benchmarks.speed import UNLEARN_GRAPH_SPEED
from unlearn_graph.benchmarks.unlearn import GRAPH_UNLEARN_FULL, GRAPH_UNLEARN_QUICK
from unlearn_schema.configs import BenchmarkSpec, MethodConfig, ModelSpec, WorldSpec
from unlearn_schema.errors import SpecError
from unlearn_schema.plugins import Benchmark, NullProgress
from unlearn_schema.requests import NodeDeletionRequest
from unlearn_schema.testing import heavy_modules_after

BENCHMARKS = [GRAPH_UNLEARN_QUICK, GRAPH_UNLEARN_FULL, UNLEARN_GRAPH_SPEED]
IDS = [b.name for b in BENCHMARKS]


def _with(spec: BenchmarkSpec, **update: Any) -> BenchmarkSpec:
    return spec.model_copy(update=update)


def _problems(benchmark: Benchmark[Any, Any, Any], spec: BenchmarkSpec) -> str:
    with pytest.raises(SpecError) as caught:
        benchmark.parse(spec)
    return "\n".join(caught.value.problems)


def test_import_of_benchmarks_is_light() -> None:
    code = "import unlearn_graph.benchmarks.unlearn, unlearn_graph.benchmarks.speed"
    assert heavy_modules_after(code) == []


@pytest.mark.parametrize("benchmark", BENCHMARKS, ids=IDS)
def test_default_specs_parse_into_typed_parts(benchmark: Benchmark[Any, Any, Any]) -> None:
    for size in ("quick", "full"):
        parsed = benchmark.parse(benchmark.default_spec(size))  # type: ignore[arg-type]
        assert parsed.world_name == "csbm" and parsed.model_name == "sage"
        assert parsed.methods and all(m.params is not None for m in parsed.methods)
        assert type(parsed.params) is benchmark.params_type


@pytest.mark.parametrize("benchmark", BENCHMARKS, ids=IDS)
def test_unknown_names_are_errors_naming_the_field(benchmark: Benchmark[Any, Any, Any]) -> None:
    spec = benchmark.default_spec("quick")
    text = _problems(benchmark, _with(spec, methods=[MethodConfig(name="unlearn-everything")]))
    assert "methods[0].name: unknown method 'unlearn-everything'" in text
    assert "accepted: " in text and "gnndelete" in text
    text = _problems(benchmark, _with(spec, metrics=["no-such-metric"]))
    assert "metrics: unknown metric 'no-such-metric'" in text
    text = _problems(benchmark, _with(spec, methods=[MethodConfig(name="gif", params={"lr": 1})]))
    assert "methods[0].params" in text and "lr" in text


@pytest.mark.parametrize("benchmark", BENCHMARKS, ids=IDS)
def test_fields_the_benchmark_does_not_read_are_errors(benchmark: Benchmark[Any, Any, Any]) -> None:
    spec = benchmark.default_spec("quick")
    assert spec.world is not None and spec.model is not None
    world = WorldSpec(name="csbm", params={**spec.world.params, "colour": "blue"})
    assert "world.params" in _problems(benchmark, _with(spec, world=world))
    # heads is GAT's knob only: a GraphSAGE spec that sets it is an error
    model = ModelSpec(name="sage", params={"hidden": 64, "heads": 4})
    assert "model.params" in _problems(benchmark, _with(spec, model=model))
    assert "model.name: unknown model 'transformer'" in _problems(
        benchmark, _with(spec, model=ModelSpec(name="transformer"))
    )
    checkpoint = ModelSpec(name="sage", checkpoint="/tmp/weights")
    assert "model.checkpoint" in _problems(benchmark, _with(spec, model=checkpoint))
    request = NodeDeletionRequest(nodes=[1])
    assert "requests[0].kind" in _problems(benchmark, _with(spec, requests=[request]))
    assert "params" in _problems(benchmark, _with(spec, params={**spec.params, "speed": 2}))


def test_world_and_model_params_are_typed_per_name() -> None:
    spec = GRAPH_UNLEARN_QUICK.default_spec("quick")
    karate = WorldSpec(name="karate", params={"num_nodes": 10})
    assert "world.params" in _problems(GRAPH_UNLEARN_QUICK, _with(spec, world=karate))
    parsed = GRAPH_UNLEARN_QUICK.parse(_with(spec, world=WorldSpec(name="karate")))
    assert parsed.world_name == "karate"
    planetoid = WorldSpec(name="planetoid", params={"folder": "/data/cora", "name": "cora"})
    # typed as a Planetoid folder, and checked like the run would: the folder must exist
    missing = _problems(GRAPH_UNLEARN_QUICK, _with(spec, world=planetoid))
    assert "world.params: Planetoid folder '/data/cora' does not exist" in missing
    gat = ModelSpec(name="gat", params={"hidden": 30, "heads": 4})
    assert "hidden divisible by heads" in _problems(GRAPH_UNLEARN_QUICK, _with(spec, model=gat))
    # the speed benchmark builds a contextual SBM only
    speed = UNLEARN_GRAPH_SPEED.default_spec("quick")
    text = _problems(UNLEARN_GRAPH_SPEED, _with(speed, world=WorldSpec(name="karate")))
    assert "world.name: unknown world 'karate'" in text


def test_cross_field_checks_name_the_field() -> None:
    spec = GRAPH_UNLEARN_QUICK.default_spec("quick")
    # the oracle always runs: retrain is not a method a spec lists
    text = _problems(GRAPH_UNLEARN_QUICK, _with(spec, methods=[MethodConfig(name="retrain")]))
    assert "methods[0].name: unknown method 'retrain'" in text
    twice = [MethodConfig(name="gif"), MethodConfig(name="gif")]
    assert "methods[1].name: 'gif' is given twice" in _problems(
        GRAPH_UNLEARN_QUICK, _with(spec, methods=twice)
    )
    edges_only = _with(
        spec, params={**spec.params, "scenarios": ["edges"]}, methods=[MethodConfig(name="egnn")]
    )
    assert "methods[0].name: egnn edits node classifiers" in _problems(
        GRAPH_UNLEARN_QUICK, edges_only
    )
    bad = _with(spec, params={**spec.params, "deletion_ratios": [0.9]})
    assert r"deletion ratios must lie in (0, 0.5], got [0.9]" in _problems(GRAPH_UNLEARN_QUICK, bad)
    gif = _with(spec, methods=[MethodConfig(name="gif", params={"scale": -1})])
    assert "methods[0].params.scale" in _problems(GRAPH_UNLEARN_QUICK, gif)


def test_validate_refuses_the_deletions_the_run_would_refuse() -> None:
    from unlearn_graph.deletion import sample_edge_deletion
    from unlearn_graph.tasks import make_link_task
    from unlearn_graph.worlds import CSBMConfig, contextual_sbm

    dense = {"num_nodes": 600, "average_degree": 8, "homophily": 0.7}
    spec = GRAPH_UNLEARN_QUICK.default_spec("quick")
    out = _with(
        spec,
        world=WorldSpec(name="csbm", params=dense),
        params={**spec.params, "scenarios": ["edges"], "edge_sampling": "out"},
        methods=[m for m in spec.methods if m.name != "egnn"],
    )
    text = _problems(GRAPH_UNLEARN_QUICK, out)
    assert "params.deletion_ratios:" in text and "outside the test set's 2-hop" in text
    # the count the check reports is the one the run meets
    count = int(text.split(" asks to delete ")[1].split()[0])
    available = int(text.split("but only ")[1].split()[0])
    task = make_link_task(contextual_sbm(CSBMConfig(**dense), seed=spec.seeds[0]), spec.seeds[0])
    with pytest.raises(ValueError, match=f"only {available} training edges lie outside"):
        sample_edge_deletion(task, count, "out", spec.seeds[0])
    inside = _with(out, params={**out.params, "edge_sampling": "in"})
    GRAPH_UNLEARN_QUICK.parse(inside)  # 'in' edges are plentiful: valid


def test_the_speed_benchmark_takes_one_seed() -> None:
    spec = UNLEARN_GRAPH_SPEED.default_spec("quick")
    assert "seeds: unlearn-graph-speed takes at most 1 seed" in _problems(
        UNLEARN_GRAPH_SPEED, _with(spec, seeds=[0, 1])
    )
    assert UNLEARN_GRAPH_SPEED.kind == "speed"
    assert "methods[0].name: unknown method 'egnn'" in _problems(
        UNLEARN_GRAPH_SPEED, _with(spec, methods=[MethodConfig(name="egnn")])
    )
    assert "needs at least one method, got []; accepted: gnndelete" in _problems(
        UNLEARN_GRAPH_SPEED, _with(spec, methods=[])
    )
    twice = [MethodConfig(name="gif"), MethodConfig(name="gif")]
    assert "methods[1].name: 'gif' is given twice" in _problems(
        UNLEARN_GRAPH_SPEED, _with(spec, methods=twice)
    )


def _tiny_spec() -> BenchmarkSpec:
    spec = GRAPH_UNLEARN_QUICK.default_spec("quick")
    assert spec.world is not None
    world = spec.world.model_copy(update={"params": {**spec.world.params, "num_nodes": 300}})
    params = {
        **spec.params,
        "deletion_ratios": [0.02, 0.05],
        "train": {"epochs": 20, "learning_rate": 0.01, "weight_decay": 5e-4},
        "resamples": 3,
        "egnn_edits": 3,
        "relearn_steps": [1, 3],
    }
    methods = [
        MethodConfig(name="gradient-ascent", params={"steps": 3}),
        MethodConfig(name="gnndelete", params={"epochs": 5}),
        MethodConfig(name="d2dgn", params={"epochs": 5, "destroyer_epochs": 3}),
        MethodConfig(name="grapheraser", params={"num_shards": 2, "epochs": 10}),
        MethodConfig(name="gif", params={"iterations": 5}),
        MethodConfig(name="egnn", params={"stitch_epochs": 5, "edit_steps": 20}),
    ]
    return _with(spec, world=world, params=params, methods=methods)


def test_a_tiny_run_reports_every_method_against_the_oracle() -> None:
    parsed = GRAPH_UNLEARN_QUICK.parse(_tiny_spec())
    result = GRAPH_UNLEARN_QUICK.run(parsed, NullProgress(), "unused")
    json.dumps(result.model_dump(mode="json"))
    found = {(m.name, m.labels["method"], m.labels.get("scenario")) for m in result.metrics}
    for method in ("gradient-ascent", "gnndelete", "d2dgn", "grapheraser", "gif"):
        for name in ("deleted_edge_auroc", "retained_test_auroc", "mi_auc", "kl_to_oracle"):
            assert (name, method, "edges") in found
        assert ("time_ratio_to_retrain", method, "edges") in found
        assert ("retained_test_accuracy", method, "nodes") in found
    assert ("edit_success", "egnn", "edit") in found
    # link stealing and relearning: every model, the oracle as the reference
    for method in ("original", "no-unlearning", "retrain", "gnndelete", "grapheraser", "gif"):
        for scenario in ("edges", "nodes"):
            assert ("link_stealing_auc", method, scenario) in found
    for method in ("no-unlearning", "gradient-ascent", "d2dgn", "gif"):
        for name in ("relearned_link_stealing_auc", "forget_accuracy", "relearned_forget_accuracy"):
            assert (name, method, "nodes") in found and (name, method, "edges") in found
        assert ("relearned_link_query_auc", method, "edges") in found
    relearned = next(
        m
        for m in result.metrics
        if m.name == "relearned_link_stealing_auc" and m.labels["method"] == "gif"
    )
    assert relearned.reference_name == "retrain oracle" and relearned.direction == "target"
    references = [m for m in result.metrics if m.labels["method"] == "gnndelete"]
    assert any(m.reference_name == "retrain oracle" for m in references)
    names = {c.name for c in result.curves}
    assert {"utility-vs-efficacy-edges", "time-vs-ratio-edges"} <= names
    assert {"link-stealing-nodes", "relearning-link-stealing-auc-edges"} <= names
    trace = next(c for c in result.curves if c.name == "relearning-forget-accuracy-nodes")
    assert trace.series[0].x == [0, 1, 3]
    assert result.notes
    # every reported name is declared, and a spec's metrics: keeps only what it selects
    reported = {m.name for m in result.metrics}
    assert reported == GRAPH_UNLEARN_QUICK.metric_names
    selected = GRAPH_UNLEARN_QUICK.parse(_with(_tiny_spec(), metrics=["mi_auc"]))
    kept = GRAPH_UNLEARN_QUICK.select_metrics(selected, result)
    assert kept.metrics and {m.name for m in kept.metrics} == {"mi_auc"}


def test_the_quick_speed_run_reports_ratios_goals_and_load() -> None:
    # Each measurement is a fresh subprocess; the quick size keeps them tiny.
    parsed = UNLEARN_GRAPH_SPEED.parse(UNLEARN_GRAPH_SPEED.default_spec("quick"))
    result = UNLEARN_GRAPH_SPEED.run(parsed, NullProgress(), "unused")
    json.dumps(result.model_dump(mode="json"))
    reported = {m.name for m in result.metrics}
    assert reported <= UNLEARN_GRAPH_SPEED.metric_names
    values = {(m.name, m.labels.get("method")): m for m in result.metrics}
    assert values[("deleted_edges", None)].value >= 1
    retrain_s = values[("wall_time", "retrain")].value
    for name in ("gnndelete", "d2dgn"):
        speedup = values[("speedup_at_matched_utility", name)]
        assert speedup.value > 0 and speedup.reference == 10.0 and speedup.direction == "higher"
        assert values[("wall_time", name)].unit == "s"
        assert values[("retrain_s_to_match", name)].value <= retrain_s + 1e-9
        # measured in a fresh process: a real peak, not the near-zero RSS growth of a
        # process whose allocator already holds freed memory
        assert values[("peak_memory", name)].value > 0.1
        met = values[("speedup_at_matched_utility_met", name)]
        assert met.value == float(speedup.value >= 10.0) and met.direction == "higher"
    assert values[("peak_memory", "retrain")].value > 0.1
    trace = next(c for c in result.curves if c.name == "retrain-auroc-trace")
    assert len(trace.series[0].x) == 5  # one point per retraining epoch
    assert any(note.startswith("baseline: exact retraining") for note in result.notes)
    assert any("machine load" in note for note in result.notes)
    selected = UNLEARN_GRAPH_SPEED.parse(
        _with(UNLEARN_GRAPH_SPEED.default_spec("quick"), metrics=["speedup_vs_full_retrain"])
    )
    kept = UNLEARN_GRAPH_SPEED.select_metrics(selected, result)
    assert {m.name for m in kept.metrics} == {"speedup_vs_full_retrain"}


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
        "train": {"epochs": 10, "learning_rate": 0.01, "weight_decay": 5e-4},
        "resamples": 2,
        "egnn_edits": 2,
    }
    methods = [
        m.model_copy(update={"params": {**m.params, "epochs": 5}})
        if m.name in ("gnndelete", "d2dgn", "grapheraser")
        else m
        for m in spec.methods
    ]
    spec = _with(spec, world=world, params=params, methods=methods, seeds=spec.seeds[:2])
    result = GRAPH_UNLEARN_FULL.run(GRAPH_UNLEARN_FULL.parse(spec), NullProgress(), "unused")
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
