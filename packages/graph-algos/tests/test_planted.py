from __future__ import annotations

import numpy as np
import pytest
from graph_algos.benchmarks import PLANTED_QUICKSTART
from graph_algos.methods.planted import (
    calibrate_threshold,
    count_test,
    count_threshold,
    degree_test,
    edge_count,
    max_degree,
)
from graph_algos.worlds.generators import clique, erdos_renyi, planted_subgraph, star
from scipy import stats
from unlearn_schema.configs import BenchmarkSpec, MethodConfig, WorldSpec
from unlearn_schema.errors import SpecError
from unlearn_schema.plugins import NullProgress
from unlearn_schema.results import BenchmarkResult


def test_count_threshold_has_the_stated_level() -> None:
    n, q, level = 100, 0.1, 0.05
    cut = count_threshold(n, q, level)
    assert stats.binom.sf(cut, n * (n - 1) // 2, q) <= level
    assert stats.binom.sf(cut - 1, n * (n - 1) // 2, q) > level


def test_null_false_alarm_rate_is_near_level() -> None:
    rng = np.random.default_rng(0)
    alarms = [count_test(erdos_renyi(150, 0.1, rng), 0.1, 0.1) for _ in range(300)]
    assert 0.05 < np.mean(alarms) < 0.16  # level 0.1, 300 draws


def test_degree_test_sees_a_large_star_that_the_count_test_misses() -> None:
    rng = np.random.default_rng(1)
    graphs = [planted_subgraph(400, 0.05, 1.0, star(40), rng).adjacency for _ in range(30)]
    assert np.mean([degree_test(g, 0.05) for g in graphs]) > 0.9
    assert np.mean([count_test(g, 0.05) for g in graphs]) < 0.5


def test_count_test_sees_a_dense_clique() -> None:
    rng = np.random.default_rng(2)
    graphs = [planted_subgraph(300, 0.1, 1.0, clique(60), rng).adjacency for _ in range(20)]
    assert all(count_test(g, 0.1) for g in graphs)


def test_statistics_and_calibration() -> None:
    adjacency = planted_subgraph(50, 0.0, 1.0, star(10), seed=0).adjacency
    assert edge_count(adjacency) == 9 and max_degree(adjacency) == 9
    cut = calibrate_threshold(edge_count, 80, 0.1, 0.05, 100, seed=0)
    assert 0.1 * 80 * 79 / 2 < cut < 0.1 * 80 * 79 / 2 + 4 * np.sqrt(316 * 0.9)


def _tiny_spec() -> BenchmarkSpec:
    spec = PLANTED_QUICKSTART.default_spec("quick")
    world = {"n": 200, "q": 0.05, "p": 0.6, "subgraphs": ["star", "clique"], "sizes": [5, 100]}
    return spec.model_copy(
        update={
            "world": WorldSpec(name="planted-gnq", params=world),
            "params": {"level": 0.05, "trials": 30, "null_trials": 60},
        }
    )


def _run(spec: BenchmarkSpec, out: object) -> BenchmarkResult:
    return PLANTED_QUICKSTART.run(PLANTED_QUICKSTART.parse(spec), NullProgress(), str(out))


def test_planted_benchmark_reports_power_and_false_alarm(tmp_path: object) -> None:
    result = _run(_tiny_spec(), tmp_path)
    power = {
        (m.labels["test"], m.labels["subgraph"], m.labels["k"]): m.value
        for m in result.metrics
        if m.name == "detection_power"
    }
    assert len(power) == 2 * 2 * 2
    assert power[("degree-test", "star", "100")] > power[("count-test", "star", "100")]
    assert power[("count-test", "clique", "100")] == 1.0
    alarms = [m for m in result.metrics if m.name == "false_alarm_rate"]
    assert {m.labels["test"] for m in alarms} == {"count-test", "degree-test"}
    assert all(m.value <= 0.2 and m.reference == 0.05 for m in alarms)
    assert [c.name for c in result.curves] == ["power-star", "power-clique"]
    assert any("star" in note for note in result.notes)
    assert {m.name for m in result.metrics} <= PLANTED_QUICKSTART.metric_names


def test_planted_benchmark_is_reproducible_and_honours_every_seed(tmp_path: object) -> None:
    first = _run(_tiny_spec(), tmp_path)
    second = _run(_tiny_spec(), tmp_path)
    assert first.metrics == second.metrics
    two_seeds = _run(_tiny_spec().model_copy(update={"seeds": [0, 1]}), tmp_path)
    assert two_seeds.metrics != first.metrics
    assert two_seeds.curves[0].series[0].y_err is not None  # spread over the two seeds


def test_one_method_runs_only_that_test(tmp_path: object) -> None:
    spec = _tiny_spec().model_copy(update={"methods": [MethodConfig(name="degree-test")]})
    result = _run(spec, tmp_path)
    assert {m.labels["test"] for m in result.metrics} == {"degree-test"}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"sizes": [500]}, "sizes must lie in [3, n=200]"),
        ({"p": 0.01}, "need p > q"),
        ({"subgraphs": ["blob"]}, "world.params.subgraphs[0]"),
        ({"nn": 3}, "did you mean 'n'?"),
    ],
)
def test_bad_world_params_are_rejected_before_running(params: dict, expected: str) -> None:
    spec = _tiny_spec()
    assert spec.world is not None
    world = {**spec.world.params, **params}
    bad = spec.model_copy(update={"world": WorldSpec(name="planted-gnq", params=world)})
    with pytest.raises(SpecError) as info:
        PLANTED_QUICKSTART.parse(bad)
    assert expected in str(info.value)
