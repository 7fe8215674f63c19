from __future__ import annotations

import json

import pytest
from graph_algos.benchmarks import CRITICAL_NODES, HIERARCHY_PHASE, NOISY_LABEL_LOCAL, PLANTED_POWER
from unlearn_schema.configs import BenchmarkSpec, MethodConfig, WorldSpec
from unlearn_schema.errors import SpecError
from unlearn_schema.plugins import Benchmark, NullProgress
from unlearn_schema.results import BenchmarkResult

NEW = [HIERARCHY_PHASE, NOISY_LABEL_LOCAL, PLANTED_POWER, CRITICAL_NODES]


@pytest.mark.parametrize("benchmark", NEW, ids=lambda b: b.name)
def test_default_specs_are_valid(benchmark: Benchmark) -> None:
    for size in ("quick", "full"):
        spec = benchmark.default_spec(size)
        assert spec.benchmark == benchmark.name and spec.size == size
        benchmark.parse(spec)


def _run(benchmark: Benchmark, spec: BenchmarkSpec, out: object) -> BenchmarkResult:
    """Parse and run; every metric the run reports must be one the benchmark declares."""
    result = benchmark.run(benchmark.parse(spec), NullProgress(), str(out))
    assert {m.name for m in result.metrics} <= benchmark.metric_names
    return result


def _with(spec: BenchmarkSpec, world: dict, params: dict | None = None) -> BenchmarkSpec:
    assert spec.world is not None
    update: dict = {"world": WorldSpec(name=spec.world.name, params={**spec.world.params, **world})}
    if params is not None:
        update["params"] = {**spec.params, **params}
    return spec.model_copy(update=update)


def _metric(result, name: str, **labels: str) -> float:  # type: ignore[no-untyped-def]
    for metric in result.metrics:
        if metric.name == name and all(metric.labels.get(k) == v for k, v in labels.items()):
            return float(metric.value)
    raise KeyError((name, labels))


def test_hierarchy_benchmark_shows_bottom_up_recovering_first(tmp_path: object) -> None:
    spec = _with(
        HIERARCHY_PHASE.default_spec("quick"),
        {
            "community_size": 100,
            "depth": 2,
            "cousin_probability": 0.03,
            "gaps": [0.005, 0.0075, 0.08],
            "leaf_probabilities": [0.2],
        },
        {"trials": 4},
    )
    result = _run(HIERARCHY_PHASE, spec, tmp_path)
    small = ("0.005", "0.0075")
    bottom = [
        _metric(result, "exact_recovery", method="bottom-up", gap=g, level="1") for g in small
    ]
    top = [_metric(result, "exact_recovery", method="top-down", gap=g, level="1") for g in small]
    assert min(bottom) >= 0.75 and sum(bottom) > sum(top)
    assert _metric(result, "dendrogram_inversions", method="bottom-up") == 0.0
    assert {c.name for c in result.curves} >= {"phase-level1-bottom-up", "phase-level1-top-down"}
    phase = {h.name: h for h in result.heatmaps}
    diagram = phase["phase-diagram-level1-bottom-up"]
    assert diagram.z[0][:2] == bottom and diagram.y == [0.2]
    # The linkage boundary sqrt(2q(1-q))/s = 0.0024 lies left of the swept gaps: not drawn.
    assert diagram.contours == {}
    assert any("signal-to-noise reaches one at gap 0.0024" in note for note in result.notes)
    # one graph per method (the last one, gap 0.08), coloured by the communities found,
    # the planted leaf (100 nodes each) in the hover text
    plots = {g.name: g for g in result.graphs}
    assert set(plots) == {"communities-bottom-up", "communities-top-down"}
    found = plots["communities-bottom-up"]
    assert found.node_count == 400 and found.positions is not None
    assert found.groups is not None and len(set(found.groups)) >= 2
    assert found.labels is not None
    planted = [int(text.rsplit(" ", 1)[1]) for text in found.labels]
    assert sorted(planted.count(leaf) for leaf in set(planted)) == [100] * 4
    json.dumps(result.model_dump(mode="json"))


def test_noisy_label_benchmark_weighted_flow_wins_at_moderate_noise(tmp_path: object) -> None:
    spec = _with(
        NOISY_LABEL_LOCAL.default_spec("quick"),
        {"noise_levels": [0.0, 0.1]},
        {"trials": 3},
    )
    result = _run(NOISY_LABEL_LOCAL, spec, tmp_path)
    weighted = _metric(result, "f1", method="weighted-flow", noise="0.1")
    assert weighted > _metric(result, "f1", method="unweighted-flow", noise="0.1") + 0.2
    assert weighted > _metric(result, "f1", method="labels-only", noise="0.1")
    assert _metric(result, "f1", method="labels-only", noise="0.0") == 1.0
    assert result.curves[0].name == "f1-vs-noise" and len(result.curves[0].series) == 3


def test_planted_power_benchmark_has_thresholds_and_scan(tmp_path: object) -> None:
    spec = _with(
        PLANTED_POWER.default_spec("quick"),
        {"ns": [200], "qs": [0.05], "subgraphs": ["star"], "sizes": [5, 100], "scan_sizes": [4]},
        {"trials": 20, "null_trials": 40},
    )
    result = _run(PLANTED_POWER, spec, tmp_path)
    assert _metric(result, "detection_power", test="degree-test", subgraph="star", k="100") > 0.9
    assert _metric(result, "detection_power", test="count-test", subgraph="star", k="100") < 0.5
    curve = next(c for c in result.curves if c.name == "power-star-n200-q0.05")
    assert "degree-test SNR=1" in curve.vlines and "count-test SNR=1" in curve.vlines
    scan = _metric(result, "detection_power", test="scan-test", subgraph="cycle", k="4")
    assert scan >= _metric(result, "detection_power", test="count-test", subgraph="cycle", k="4")


def test_critical_benchmark_targets_beat_random(tmp_path: object) -> None:
    spec = _with(CRITICAL_NODES.default_spec("quick"), {"n": 200, "ilp_n": 10})
    methods = [
        MethodConfig(
            name=m.name, params={"sets": 2000} if m.name == "reverse-reachable-sets" else {}
        )
        for m in spec.methods
    ]
    spec = spec.model_copy(
        update={"params": {"budgets": [10], "spread_samples": 50}, "methods": methods}
    )
    result = _run(CRITICAL_NODES, spec, tmp_path)
    random_lcc = _metric(result, "largest_component_after_removal", method="random", k="10")
    for method in ("degree", "collective-influence", "greedy-cnd"):
        assert (
            _metric(result, "largest_component_after_removal", method=method, k="10") < random_lcc
        )
    random_spread = _metric(result, "cascade_spread", method="random", k="10")
    assert _metric(result, "cascade_spread", method="celf", k="10") > random_spread
    assert _metric(result, "greedy_cnd_excess_pairs") >= 0.0


@pytest.mark.parametrize(
    ("benchmark", "world", "expected"),
    [
        (HIERARCHY_PHASE, {"leaf_probabilities": [0.01]}, "must exceed the sibling probability"),
        (HIERARCHY_PHASE, {"gaps": [0.0, 1.0]}, "outside [0, 1]"),
        (NOISY_LABEL_LOCAL, {"noise_levels": [0.1, 0.9]}, "noise_levels must lie in [0, 0.5]"),
        (NOISY_LABEL_LOCAL, {"p_out": 0.5}, "need p_out < p_in"),
        (PLANTED_POWER, {"qs": [0.7]}, "each q must lie in (0, p=0.5), got 0.7"),
        (PLANTED_POWER, {"scan_sizes": [9]}, "scan_sizes must lie in [3, min(6, scan_n)]"),
        (CRITICAL_NODES, {"family": "lattice"}, "family: Input should be 'barabasi-albert'"),
        (CRITICAL_NODES, {"nn": 3}, "did you mean 'n'?"),
    ],
)
def test_bad_specs_are_rejected_before_running(
    benchmark: Benchmark, world: dict, expected: str
) -> None:
    with pytest.raises(SpecError) as info:
        benchmark.parse(_with(benchmark.default_spec("quick"), world))
    assert expected in str(info.value)


def test_unknown_method_and_bad_method_params_are_named() -> None:
    spec = NOISY_LABEL_LOCAL.default_spec("quick")
    bad = spec.model_copy(update={"methods": [MethodConfig(name="magic")]})
    with pytest.raises(SpecError, match=r"methods\[0\].name: unknown method 'magic'"):
        NOISY_LABEL_LOCAL.parse(bad)
    weighted = MethodConfig(name="weighted-flow", params={"epsilon": 2})
    bad = spec.model_copy(update={"methods": [weighted]})
    with pytest.raises(SpecError, match=r"methods\[0\].params.epsilon"):
        NOISY_LABEL_LOCAL.parse(bad)
    # A field of another method's params is an error, not silently ignored.
    labels_only = MethodConfig(name="labels-only", params={"epsilon": 0.1})
    with pytest.raises(SpecError, match=r"methods\[0\].params"):
        NOISY_LABEL_LOCAL.parse(spec.model_copy(update={"methods": [labels_only]}))
    twice = [MethodConfig(name="labels-only"), MethodConfig(name="labels-only")]
    with pytest.raises(SpecError, match=r"methods\[1\].name: 'labels-only' is given twice"):
        NOISY_LABEL_LOCAL.parse(spec.model_copy(update={"methods": twice}))
    with pytest.raises(SpecError, match="needs at least one method"):
        NOISY_LABEL_LOCAL.parse(spec.model_copy(update={"methods": []}))
    bad = CRITICAL_NODES.default_spec("quick")
    bad = bad.model_copy(update={"params": {**bad.params, "budgets": [0]}})
    with pytest.raises(
        SpecError, match=r"params.budgets: must lie in \[1, world.params.n=500\), got \[0\]"
    ):
        CRITICAL_NODES.parse(bad)
    many = MethodConfig(name="betweenness", params={"samples": 900})
    with pytest.raises(SpecError, match=r"methods\[0\].params.samples: 900 sources exceed"):
        CRITICAL_NODES.parse(
            CRITICAL_NODES.default_spec("quick").model_copy(update={"methods": [many]})
        )


def test_hierarchy_method_params_are_validated_and_used(tmp_path: object) -> None:
    spec = HIERARCHY_PHASE.default_spec("quick")
    bad = spec.model_copy(
        update={"methods": [MethodConfig(name="top-down", params={"min_size": 0})]}
    )
    with pytest.raises(SpecError, match=r"methods\[0\].params.min_size"):
        HIERARCHY_PHASE.parse(bad)
    forced = _with(
        spec,
        {"community_size": 60, "depth": 2, "gaps": [0.0, 0.1], "leaf_probabilities": [0.4]},
        {"trials": 1},
    ).model_copy(update={"methods": [MethodConfig(name="bottom-up", params={"communities": 2})]})
    result = _run(HIERARCHY_PHASE, forced, tmp_path)
    # Two forced communities: the finest level (four leaves) cannot be recovered.
    assert _metric(result, "exact_recovery", method="bottom-up", gap="0.1", level="2") == 0.0


@pytest.mark.parametrize("family", ["erdos-renyi", "sbm"])
def test_critical_benchmark_runs_on_other_families(family: str, tmp_path: object) -> None:
    # n = 152: the SBM's five blocks hold 150 nodes; selectors and metrics use the graph's n.
    spec = _with(CRITICAL_NODES.default_spec("quick"), {"family": family, "n": 152, "ilp_n": 8})
    methods = [MethodConfig(name="degree"), MethodConfig(name="random"), MethodConfig(name="celf")]
    spec = spec.model_copy(
        update={"params": {"budgets": [10], "spread_samples": 20}, "methods": methods}
    )
    result = _run(CRITICAL_NODES, spec, tmp_path)
    degree = _metric(result, "largest_component_after_removal", method="degree", k="10")
    assert degree <= _metric(result, "largest_component_after_removal", method="random", k="10")


def test_moved_critical_knobs_are_named_when_given_the_old_way() -> None:
    spec = CRITICAL_NODES.default_spec("quick")
    old = spec.model_copy(update={"params": {**spec.params, "rr_sets": 500}})
    with pytest.raises(SpecError, match=r"params.rr_sets"):
        CRITICAL_NODES.parse(old)
    rr = MethodConfig(name="reverse-reachable-sets", params={"sets": 500})
    parsed = CRITICAL_NODES.parse(spec.model_copy(update={"methods": [rr]}))
    assert parsed.methods[0].params.sets == 500  # type: ignore[attr-defined]
