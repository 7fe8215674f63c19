"""``planted-quickstart``: the count and degree tests against planted patterns in G(n, q).

The README's main job. Per seed, each test's cut is calibrated on ``null_trials`` null
graphs to the level α, its false-alarm rate is measured on as many fresh null graphs,
and its power on ``trials`` planted graphs per (Γ, k).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Literal, get_args

import numpy as np
import scipy.sparse as sp
from pydantic import Field, model_validator
from unlearn_schema.base import StrictModel
from unlearn_schema.configs import BenchmarkSpec, Size
from unlearn_schema.plugins import NoParams, ParsedSpec, Progress
from unlearn_schema.recipes import spec_from_parts
from unlearn_schema.results import BenchmarkResult, Curve, MetricValue, Series

from graph_algos.benchmarks._common import mean_metric, mean_series
from graph_algos.methods.planted import boundary_size
from graph_algos.metrics.planted import detection_power, false_alarm_rate
from graph_algos.worlds.generators import Subgraph, erdos_renyi, make_subgraph, planted_subgraph

SubgraphName = Literal["clique", "star", "path", "cycle", "tree", "dense"]
TESTS = ("count-test", "degree-test")


class PlantedWorld(StrictModel):
    """G(n, q) with and without a planted Γ whose edges have probability p."""

    n: int = Field(ge=10, le=50_000)
    q: float = Field(gt=0.0, lt=1.0)
    p: float = Field(gt=0.0, le=1.0)
    subgraphs: list[SubgraphName] = Field(min_length=1)
    sizes: list[int] = Field(min_length=1, description="Numbers k of vertices of Γ.")

    @model_validator(mode="after")
    def _sizes_fit(self) -> PlantedWorld:
        bad = [k for k in self.sizes if not 3 <= k <= self.n]
        if bad:
            raise ValueError(f"sizes must lie in [3, n={self.n}], got {bad}")
        if self.p <= self.q:
            raise ValueError(f"need p > q for a detectable plant, got p={self.p}, q={self.q}")
        return self


class PlantedRun(StrictModel):
    """Test level and Monte Carlo budget (shared with ``planted-power``)."""

    level: float = Field(default=0.05, gt=0.0, lt=0.5)
    trials: int = Field(default=100, ge=10, description="Planted graphs per (Γ, k) and seed.")
    null_trials: int = Field(
        default=200, ge=20, description="Null graphs per seed, for calibration and again for FAR."
    )


def planted_spec(size: Size) -> BenchmarkSpec:
    if size == "quick":
        world = PlantedWorld(
            n=1000,
            q=0.1,
            p=0.5,
            subgraphs=["clique", "star", "cycle", "dense"],
            sizes=[8, 16, 24, 32, 48, 64, 96, 128, 192, 256],
        )
        run = PlantedRun(trials=100, null_trials=200)
        seeds = [0]
    else:
        world = PlantedWorld(
            n=2000,
            q=0.05,
            p=0.3,
            subgraphs=list(get_args(SubgraphName)),
            sizes=[8, 16, 32, 64, 128, 256, 512, 1024],
        )
        run = PlantedRun(trials=200, null_trials=400)
        seeds = [0, 1, 2]
    world_part = ("planted-gnq", world)
    return spec_from_parts(
        "planted-quickstart", size, seeds, world=world_part, methods=TESTS, params=run
    )


def power_grid(
    statistics: Mapping[str, Callable[[sp.spmatrix], float]],
    n: int,
    q: float,
    p: float,
    patterns: Iterable[Subgraph],
    run: PlantedRun,
    rng: np.random.Generator,
    progress: Progress,
    where: str,
) -> tuple[dict[tuple[str, str, int], float], dict[str, float]]:
    """Calibrate each statistic's cut on null G(n, q) graphs, then measure power per pattern.

    The cut is the ``1 - level`` quantile of ``null_trials`` null graphs; the false-alarm
    rate is measured on as many fresh null graphs, and the power of each pattern on
    ``trials`` planted graphs. ``patterns`` is read after the null graphs are drawn, so a
    lazy iterable draws each random pattern from ``rng`` just before its planted graphs.
    Returns power by (statistic, pattern name, k) and false-alarm rate by statistic.
    """
    null: dict[str, list[float]] = {name: [] for name in statistics}
    fresh: dict[str, list[float]] = {name: [] for name in statistics}
    for target in (null, fresh):
        for _ in range(run.null_trials):
            graph = erdos_renyi(n, q, rng)
            for name, statistic in statistics.items():
                target[name].append(statistic(graph))
        progress.advance(run.null_trials, f"null graphs, {where}")
    cuts = {
        name: float(np.quantile(values, 1 - run.level, method="higher"))
        for name, values in null.items()
    }
    alarms = {name: false_alarm_rate(np.array(fresh[name]) > cuts[name]) for name in statistics}
    power: dict[tuple[str, str, int], float] = {}
    for pattern in patterns:
        decisions: dict[str, list[bool]] = {name: [] for name in statistics}
        for _ in range(run.trials):
            graph = planted_subgraph(n, q, p, pattern, rng).adjacency
            for name, statistic in statistics.items():
                decisions[name].append(statistic(graph) > cuts[name])
        for name in statistics:
            power[(name, pattern.name, pattern.k)] = detection_power(decisions[name])
        progress.advance(run.trials, f"{pattern.name} k={pattern.k}, {where}")
    return power, alarms


def power_curve(
    name: str,
    title: str,
    series: list[Series],
    level: float,
    vlines: dict[str, float],
    log_x: bool = True,
) -> Curve:
    """A detection-power curve over k, with the test's level α drawn as a line."""
    return Curve(
        name=name,
        title=title,
        x_label="k (vertices of Γ)",
        y_label="detection power",
        series=series,
        hlines={"level α": level},
        vlines=vlines,
        log_x=log_x,
    )


def run_planted(
    parsed: ParsedSpec[PlantedWorld, NoParams, PlantedRun], progress: Progress, out_dir: str
) -> BenchmarkResult:
    """Power and false-alarm rate of the count and degree tests over planted patterns."""
    del out_dir  # this recipe writes no artifacts; its plots are returned as curves
    world, run, seeds = parsed.world, parsed.params, parsed.seeds
    statistics = {method.name: method.spec.function for method in parsed.methods}
    tests = list(statistics)
    combos = [(name, k) for name in world.subgraphs for k in world.sizes]
    progress.start(len(seeds) * (2 * run.null_trials + len(combos) * run.trials), "graphs")

    power: dict[tuple[str, str, int], list[float]] = {}
    alarms: dict[str, list[float]] = {test: [] for test in tests}
    for seed in seeds:
        rng = np.random.default_rng(seed)
        patterns = (make_subgraph(name, k, rng) for name, k in combos)
        seed_power, seed_alarms = power_grid(
            statistics, world.n, world.q, world.p, patterns, run, rng, progress, f"seed {seed}"
        )
        for key, value in seed_power.items():
            power.setdefault(key, []).append(value)
        for test, value in seed_alarms.items():
            alarms[test].append(value)

    metrics: list[MetricValue] = [
        mean_metric("detection_power", values, "higher", {"test": t, "subgraph": s, "k": str(k)})
        for (t, s, k), values in power.items()
    ]
    metrics += [
        mean_metric(
            "false_alarm_rate",
            values,
            "lower",
            {"test": test},
            reference=run.level,
            reference_name="nominal level",
        )
        for test, values in alarms.items()
    ]

    curves: list[Curve] = []
    notes: list[str] = []
    for name in world.subgraphs:
        series = []
        vlines: dict[str, float] = {}
        first_detected: dict[str, int | None] = {}
        for test in tests:
            ys = [power[(test, name, k)] for k in world.sizes]
            series.append(mean_series(test, world.sizes, ys, spread=len(seeds) > 1))
            boundary = boundary_size(name, world.n, world.q, world.p, test)
            if boundary is not None:
                vlines[f"{test} SNR=1"] = boundary
            detected = [k for k, v in zip(world.sizes, ys, strict=True) if np.mean(v) >= 0.8]
            first_detected[test] = detected[0] if detected else None
        title = f"Planted {name} in G(n={world.n}, q={world.q}), p={world.p}"
        curves.append(power_curve(f"power-{name}", title, series, run.level, vlines))
        reached = "; ".join(
            f"{test} from k={k}" if k is not None else f"{test} never"
            for test, k in first_detected.items()
        )
        mean_power = ", ".join(
            f"{test} {np.mean([np.mean(power[(test, name, k)]) for k in world.sizes]):.2f}"
            for test in tests
        )
        notes.append(
            f"{name}: power >= 0.8 reached by {reached} (k <= {max(world.sizes)}); "
            f"mean power over the k grid: {mean_power}."
        )
    return BenchmarkResult(metrics=metrics, curves=curves, notes=notes)
