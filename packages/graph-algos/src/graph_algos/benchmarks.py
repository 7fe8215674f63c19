"""Benchmark recipes of graph-algos, registered under the ``unlearn.benchmarks`` group."""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np
from pydantic import Field, model_validator
from unlearn_schema import (
    Benchmark,
    BenchmarkResult,
    BenchmarkSpec,
    Curve,
    MethodConfig,
    MetricValue,
    Progress,
    Series,
    Size,
    StrictModel,
    WorldSpec,
    validate_or_raise,
)

from graph_algos.generators import erdos_renyi, make_subgraph, planted_subgraph
from graph_algos.planted import (
    STATISTICS,
    count_signal_to_noise,
    degree_signal_to_noise,
    detection_power,
    false_alarm_rate,
)

SubgraphName = Literal["clique", "star", "path", "cycle", "tree", "dense"]
TestName = Literal["count-test", "degree-test"]


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
    """Test level and Monte Carlo budget."""

    level: float = Field(default=0.05, gt=0.0, lt=0.5)
    trials: int = Field(default=100, ge=10, description="Planted graphs per (Γ, k) and seed.")
    null_trials: int = Field(
        default=200, ge=20, description="Null graphs per seed, for calibration and again for FAR."
    )


def _planted_spec(size: Size) -> BenchmarkSpec:
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
    return BenchmarkSpec(
        benchmark="planted-quickstart",
        size=size,
        seeds=seeds,
        world=WorldSpec(name="planted-gnq", params=world.model_dump()),
        methods=[MethodConfig(name="count-test"), MethodConfig(name="degree-test")],
        metrics=["detection-power", "false-alarm-rate"],
        params=run.model_dump(),
    )


def _parse(spec: BenchmarkSpec) -> tuple[PlantedWorld, PlantedRun, list[TestName]]:
    if spec.world is None or spec.world.name != "planted-gnq":
        raise ValueError("planted-quickstart needs world.name = 'planted-gnq'")
    world = validate_or_raise(PlantedWorld, spec.world.params, "world.params")
    run = validate_or_raise(PlantedRun, spec.params, "params")
    tests: list[TestName] = []
    for method in spec.methods or [
        MethodConfig(name="count-test"),
        MethodConfig(name="degree-test"),
    ]:
        if method.name not in STATISTICS:
            raise ValueError(
                f"unknown method {method.name!r} for planted-quickstart; "
                f"accepted: {', '.join(STATISTICS)}"
            )
        tests.append(method.name)  # type: ignore[arg-type]
    return world, run, tests


def _check_planted(spec: BenchmarkSpec) -> None:
    _parse(spec)


def _boundary_k(name: str, world: PlantedWorld, test: TestName) -> float | None:
    """Smallest k whose signal-to-noise ratio reaches 1 (the predicted boundary)."""
    for k in np.unique(np.geomspace(3, world.n, 80).astype(int)):
        pattern = make_subgraph(name, int(k), seed=0)
        if test == "count-test":
            snr = count_signal_to_noise(world.n, world.q, world.p, pattern.num_edges)
        else:
            snr = degree_signal_to_noise(world.n, world.q, world.p, pattern.max_degree)
        if snr >= 1.0:
            return float(k)
    return None


def run_planted(spec: BenchmarkSpec, progress: Progress, out_dir: str) -> BenchmarkResult:
    """Power and false-alarm rate of the count and degree tests over planted patterns.

    Per seed, each test's cut is calibrated on ``null_trials`` null graphs to the level
    α, its false-alarm rate is measured on as many fresh null graphs, and its power on
    ``trials`` planted graphs per (Γ, k).
    """
    del out_dir  # this recipe writes no artifacts; its plots are returned as curves
    world, run, tests = _parse(spec)
    combos = [(name, k) for name in world.subgraphs for k in world.sizes]
    progress.start(len(spec.seeds) * (2 * run.null_trials + len(combos) * run.trials), "graphs")

    power: dict[tuple[TestName, SubgraphName, int], list[float]] = {}
    alarms: dict[TestName, list[float]] = {test: [] for test in tests}
    for seed in spec.seeds:
        rng = np.random.default_rng(seed)
        null_values = {test: [] for test in tests}  # type: dict[TestName, list[float]]
        fresh_values = {test: [] for test in tests}  # type: dict[TestName, list[float]]
        for target in (null_values, fresh_values):
            for _ in range(run.null_trials):
                graph = erdos_renyi(world.n, world.q, rng)
                for test in tests:
                    target[test].append(STATISTICS[test](graph))
            progress.advance(run.null_trials, f"null graphs, seed {seed}")
        cuts = {
            test: float(np.quantile(null_values[test], 1 - run.level, method="higher"))
            for test in tests
        }
        for test in tests:
            alarms[test].append(false_alarm_rate(np.array(fresh_values[test]) > cuts[test]))
        for name, k in combos:
            pattern = make_subgraph(name, k, rng)
            decisions = {test: [] for test in tests}  # type: dict[TestName, list[bool]]
            for _ in range(run.trials):
                graph = planted_subgraph(world.n, world.q, world.p, pattern, rng).adjacency
                for test in tests:
                    decisions[test].append(STATISTICS[test](graph) > cuts[test])
            for test in tests:
                power.setdefault((test, name, k), []).append(detection_power(decisions[test]))
            progress.advance(run.trials, f"{name} k={k}, seed {seed}")

    metrics: list[MetricValue] = []
    for (test, subgraph, k), values in power.items():
        metrics.append(
            MetricValue(
                name="detection_power",
                value=float(np.mean(values)),
                direction="higher",
                labels={"test": test, "subgraph": subgraph, "k": str(k)},
            )
        )
    for test, values in alarms.items():
        metrics.append(
            MetricValue(
                name="false_alarm_rate",
                value=float(np.mean(values)),
                direction="lower",
                reference=run.level,
                reference_name="nominal level",
                labels={"test": test},
            )
        )

    curves: list[Curve] = []
    notes: list[str] = []
    for name in world.subgraphs:
        series = []
        vlines: dict[str, float] = {}
        first_detected: dict[str, int | None] = {}
        for test in tests:
            ys = [power[(test, name, k)] for k in world.sizes]
            series.append(
                Series(
                    label=test,
                    x=[float(k) for k in world.sizes],
                    y=[float(np.mean(v)) for v in ys],
                    y_err=[float(np.std(v)) for v in ys] if len(spec.seeds) > 1 else None,
                )
            )
            boundary = _boundary_k(name, world, test)
            if boundary is not None:
                vlines[f"{test} SNR=1"] = boundary
            detected = [k for k, v in zip(world.sizes, ys, strict=True) if np.mean(v) >= 0.8]
            first_detected[test] = detected[0] if detected else None
        curves.append(
            Curve(
                name=f"power-{name}",
                title=f"Planted {name} in G(n={world.n}, q={world.q}), p={world.p}",
                x_label="k (vertices of Γ)",
                y_label="detection power",
                series=series,
                hlines={"level α": run.level},
                vlines=vlines,
                log_x=True,
            )
        )
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


PLANTED_QUICKSTART = Benchmark(
    name="planted-quickstart",
    summary="Count vs degree test for planted cliques, stars, cycles, dense subgraphs in G(n, q).",
    default_spec=_planted_spec,
    run=run_planted,
    check=_check_planted,
    quick_budget_s=60.0,
)
