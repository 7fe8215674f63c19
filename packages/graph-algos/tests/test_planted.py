from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from graph_algos.benchmarks import PLANTED_QUICKSTART, run_planted
from graph_algos.generators import clique, erdos_renyi, planted_subgraph, star
from graph_algos.planted import (
    calibrate_threshold,
    count_test,
    count_threshold,
    degree_test,
    edge_count,
    max_degree,
)
from scipy import stats
from unlearn_schema import NullProgress, SpecError, WorldSpec


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


def _tiny_spec() -> object:
    spec = PLANTED_QUICKSTART.default_spec("quick")
    world = {"n": 200, "q": 0.05, "p": 0.6, "subgraphs": ["star", "clique"], "sizes": [5, 100]}
    return spec.model_copy(
        update={
            "world": WorldSpec(name="planted-gnq", params=world),
            "params": {"level": 0.05, "trials": 30, "null_trials": 60},
        }
    )


def test_planted_benchmark_reports_power_and_false_alarm(tmp_path: object) -> None:
    result = run_planted(_tiny_spec(), NullProgress(), str(tmp_path))  # type: ignore[arg-type]
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


def test_planted_benchmark_is_reproducible(tmp_path: object) -> None:
    first = run_planted(_tiny_spec(), NullProgress(), str(tmp_path))  # type: ignore[arg-type]
    second = run_planted(_tiny_spec(), NullProgress(), str(tmp_path))  # type: ignore[arg-type]
    assert first.metrics == second.metrics


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"sizes": [500]}, "sizes must lie in [3, n=200]"),
        ({"p": 0.01}, "need p > q"),
        ({"subgraphs": ["blob"]}, "subgraphs[0]"),
        ({"nn": 3}, "did you mean 'n'?"),
    ],
)
def test_bad_world_params_are_rejected_before_running(params: dict, expected: str) -> None:
    spec = _tiny_spec()
    world = {**spec.world.params, **params}  # type: ignore[attr-defined]
    bad = spec.model_copy(update={"world": WorldSpec(name="planted-gnq", params=world)})  # type: ignore[attr-defined]
    with pytest.raises((SpecError, ValueError)) as info:
        PLANTED_QUICKSTART.check(bad)  # type: ignore[misc]
    assert expected in str(info.value)


def test_package_is_torch_free() -> None:
    code = "import sys, graph_algos.benchmarks; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
