"""``planted-power``: power curves of the count, degree and scan tests over (n, q, Γ, k).

``planted-quickstart`` fixes one (n, q, p); this recipe sweeps a grid of (n, q) and
patterns Γ, draws the signal-to-noise = 1 boundaries of the count and degree tests on
every curve, and adds the exhaustive scan test on tiny graphs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import scipy.sparse as sp
from pydantic import Field, model_validator
from unlearn_schema import (
    Benchmark,
    BenchmarkResult,
    BenchmarkSpec,
    Curve,
    MetricValue,
    NoParams,
    ParsedSpec,
    Progress,
    Series,
    Size,
    StrictModel,
)

from graph_algos.benchmarks._common import mean_metric, method_check, spec_from_parts
from graph_algos.benchmarks.planted_quickstart import PlantedRun, SubgraphName
from graph_algos.methods import METHODS
from graph_algos.methods.planted import boundary_size, scan_signal_to_noise
from graph_algos.worlds.generators import Subgraph, erdos_renyi, make_subgraph, planted_subgraph

POWER_TESTS = ("count-test", "degree-test", "scan-test")


class PlantedPowerWorld(StrictModel):
    """A grid over (n, q) for the count and degree tests, and a small-n scan grid.

    Every (Γ, n, q) gets a power curve over ``sizes``; the scan test runs only on the
    ``scan_n`` graphs, over ``scan_sizes`` (its cost is n!/(n−k)! placements).
    """

    ns: list[int] = Field(min_length=1)
    qs: list[float] = Field(min_length=1)
    p: float = Field(gt=0.0, le=1.0)
    subgraphs: list[SubgraphName] = Field(min_length=1)
    sizes: list[int] = Field(min_length=2)
    scan_n: int = Field(default=12, ge=5, le=16)
    scan_q: float = Field(default=0.08, gt=0.0, lt=1.0)
    scan_p: float = Field(default=1.0, gt=0.0, le=1.0)
    scan_subgraphs: list[SubgraphName] = Field(default=["cycle", "clique"], min_length=1)
    scan_sizes: list[int] = Field(default=[3, 4, 5], min_length=1)

    @model_validator(mode="after")
    def _fits(self) -> PlantedPowerWorld:
        for n in self.ns:
            if not 10 <= n <= 50_000:
                raise ValueError(f"ns must lie in [10, 50000], got {n}")
            bad = [k for k in self.sizes if not 3 <= k <= n]
            if bad:
                raise ValueError(f"sizes must lie in [3, n={n}], got {bad}")
        for q in self.qs:
            if not 0.0 < q < self.p:
                raise ValueError(f"each q must lie in (0, p={self.p}), got {q}")
        bad = [k for k in self.scan_sizes if not 3 <= k <= min(6, self.scan_n)]
        if bad:
            raise ValueError(f"scan_sizes must lie in [3, min(6, scan_n)], got {bad}")
        if self.scan_q >= self.scan_p:
            raise ValueError(f"need scan_q < scan_p, got {self.scan_q} >= {self.scan_p}")
        return self


def _planted_power_spec(size: Size) -> BenchmarkSpec:
    if size == "quick":
        world = PlantedPowerWorld(
            ns=[300, 1000],
            qs=[0.05, 0.2],
            p=0.5,
            subgraphs=["clique", "star"],
            sizes=[8, 16, 32, 64, 128],
        )
        run = PlantedRun(trials=40, null_trials=80)
        seeds = [0]
    else:
        # Sized for the nightly run: about 10 minutes on 2 cores.
        world = PlantedPowerWorld(
            ns=[1000, 3000],
            qs=[0.02, 0.1],
            p=0.5,
            subgraphs=["clique", "star", "tree", "dense"],
            sizes=[8, 16, 32, 64, 128, 256, 512],
            scan_n=13,
        )
        run = PlantedRun(trials=100, null_trials=200)
        seeds = [0]
    return spec_from_parts("planted-power", size, seeds, ("planted-grid", world), run, POWER_TESTS)


def _power_grid(
    statistics: Mapping[str, Callable[[sp.spmatrix], float]],
    n: int,
    q: float,
    p: float,
    patterns: list[Subgraph],
    run: PlantedRun,
    rng: np.random.Generator,
) -> tuple[dict[tuple[str, str, int], float], dict[str, float]]:
    """Calibrate each statistic on null graphs, then measure power per pattern."""
    null: dict[str, list[float]] = {name: [] for name in statistics}
    fresh: dict[str, list[float]] = {name: [] for name in statistics}
    for target in (null, fresh):
        for _ in range(run.null_trials):
            graph = erdos_renyi(n, q, rng)
            for name, statistic in statistics.items():
                target[name].append(statistic(graph))
    cuts = {
        name: float(np.quantile(values, 1 - run.level, method="higher"))
        for name, values in null.items()
    }
    alarms = {name: float(np.mean(np.array(fresh[name]) > cuts[name])) for name in statistics}
    power: dict[tuple[str, str, int], float] = {}
    for pattern in patterns:
        hits = {name: 0 for name in statistics}
        for _ in range(run.trials):
            graph = planted_subgraph(n, q, p, pattern, rng).adjacency
            for name, statistic in statistics.items():
                hits[name] += statistic(graph) > cuts[name]
        for name in statistics:
            power[(name, pattern.name, pattern.k)] = hits[name] / run.trials
    return power, alarms


def run_planted_power(
    parsed: ParsedSpec[PlantedPowerWorld, NoParams, PlantedRun], progress: Progress, out_dir: str
) -> BenchmarkResult:
    """Power curves of the count, degree and scan tests over (n, q, Γ, k) at level α.

    Thresholds drawn on each curve: the k at which the count and degree signal-to-noise
    ratios of the paper's dense-regime analysis reach one (and, for the scan grid, our
    union-bound scan boundary).
    """
    del out_dir
    world, run, seeds = parsed.world, parsed.params, parsed.seeds
    functions = {method.name: method.spec.function for method in parsed.methods}
    tests = list(functions)
    big = [t for t in tests if t != "scan-test"]
    cells = [(n, q) for n in world.ns for q in world.qs] if big else []
    scan_on = "scan-test" in tests
    per_cell = 2 * run.null_trials + len(world.subgraphs) * len(world.sizes) * run.trials
    per_scan = 2 * run.null_trials + len(world.scan_subgraphs) * len(world.scan_sizes) * run.trials
    total = len(seeds) * (len(cells) * per_cell + (per_scan if scan_on else 0))
    progress.start(total, "graphs")
    base_statistics = {t: functions[t] for t in big}

    power: dict[tuple[str, int, float, str, int], list[float]] = {}
    alarms: dict[tuple[str, int, float], list[float]] = {}
    for seed in seeds:
        rng = np.random.default_rng(seed)
        for n, q in cells:
            patterns = [
                make_subgraph(name, k, rng) for name in world.subgraphs for k in world.sizes
            ]
            statistics = {t: base_statistics[t] for t in big}
            cell_power, cell_alarms = _power_grid(statistics, n, q, world.p, patterns, run, rng)
            for (test, name, k), value in cell_power.items():
                power.setdefault((test, n, q, name, k), []).append(value)
            for test, value in cell_alarms.items():
                alarms.setdefault((test, n, q), []).append(value)
            progress.advance(per_cell, f"n={n}, q={q}, seed {seed}")
        if scan_on:
            scan = functions["scan-test"]
            for name in world.scan_subgraphs:
                for k in world.scan_sizes:
                    pattern = make_subgraph(name, k, rng)
                    scan_statistics: dict[str, Callable[[sp.spmatrix], float]] = {
                        "scan-test": lambda g, pattern=pattern, scan=scan: scan(g, pattern),  # type: ignore[misc]
                        **{t: base_statistics[t] for t in big},
                    }
                    cell_power, cell_alarms = _power_grid(
                        scan_statistics,
                        world.scan_n,
                        world.scan_q,
                        world.scan_p,
                        [pattern],
                        run,
                        rng,
                    )
                    for (test, pname, pk), value in cell_power.items():
                        power.setdefault((test, world.scan_n, world.scan_q, pname, pk), []).append(
                            value
                        )
                    for test, value in cell_alarms.items():
                        key = (f"{test} ({name}, k={k})", world.scan_n, world.scan_q)
                        alarms.setdefault(key, []).append(value)
            progress.advance(per_scan, f"scan grid, seed {seed}")

    metrics: list[MetricValue] = [
        mean_metric(
            "detection_power",
            values,
            "higher",
            {"test": test, "n": str(n), "q": str(q), "subgraph": name, "k": str(k)},
        )
        for (test, n, q, name, k), values in power.items()
    ]
    metrics += [
        mean_metric(
            "false_alarm_rate",
            values,
            "lower",
            {"test": test, "n": str(n), "q": str(q)},
            reference=run.level,
            reference_name="nominal level",
        )
        for (test, n, q), values in alarms.items()
    ]

    curves: list[Curve] = []
    notes: list[str] = []
    for n, q in cells:
        for name in world.subgraphs:
            vlines = {}
            for test in big:
                boundary = boundary_size(name, n, q, world.p, test)
                if boundary is not None:
                    vlines[f"{test} SNR=1"] = boundary
            series = [
                Series(
                    label=test,
                    x=[float(k) for k in world.sizes],
                    y=[float(np.mean(power[(test, n, q, name, k)])) for k in world.sizes],
                )
                for test in big
            ]
            curves.append(
                Curve(
                    name=f"power-{name}-n{n}-q{q}",
                    title=f"Planted {name} in G(n={n}, q={q}), p={world.p}",
                    x_label="k (vertices of Γ)",
                    y_label="detection power",
                    series=series,
                    hlines={"level α": run.level},
                    vlines=vlines,
                    log_x=True,
                )
            )
            agree = []
            for test in big:
                boundary = vlines.get(f"{test} SNR=1")
                above = [k for k in world.sizes if boundary is not None and k >= 2 * boundary]
                if above:
                    mean_above = np.mean([np.mean(power[(test, n, q, name, k)]) for k in above])
                    agree.append(f"{test} power {mean_above:.2f} at k >= 2x its SNR=1 point")
            if agree:
                notes.append(f"{name}, n={n}, q={q}: " + "; ".join(agree) + ".")
    if scan_on:
        for name in world.scan_subgraphs:
            series = [
                Series(
                    label=test,
                    x=[float(k) for k in world.scan_sizes],
                    y=[
                        float(np.mean(power[(test, world.scan_n, world.scan_q, name, k)]))
                        for k in world.scan_sizes
                    ],
                )
                for test in ["scan-test", *big]
            ]
            snr_k = [
                k
                for k in range(3, world.scan_n + 1)
                if scan_signal_to_noise(
                    world.scan_n,
                    world.scan_q,
                    world.scan_p,
                    make_subgraph(name, k, 0).num_edges,
                    k,
                )
                >= 1.0
            ]
            curves.append(
                Curve(
                    name=f"scan-{name}",
                    title=f"Scan vs count/degree: planted {name} in "
                    f"G(n={world.scan_n}, q={world.scan_q}), p={world.scan_p}",
                    x_label="k (vertices of Γ)",
                    y_label="detection power",
                    series=series,
                    hlines={"level α": run.level},
                    vlines={"scan union-bound SNR=1": float(snr_k[0])} if snr_k else {},
                )
            )
            scan_mean = np.mean(
                [
                    np.mean(power[("scan-test", world.scan_n, world.scan_q, name, k)])
                    for k in world.scan_sizes
                ]
            )
            others = ", ".join(
                f"{t} "
                + format(
                    np.mean(
                        [
                            np.mean(power[(t, world.scan_n, world.scan_q, name, k)])
                            for k in world.scan_sizes
                        ]
                    ),
                    ".2f",
                )
                for t in big
            )
            notes.append(
                f"scan grid, {name}: mean power scan-test {scan_mean:.2f}"
                + (f", {others}" if others else "")
                + "."
            )
    return BenchmarkResult(metrics=metrics, curves=curves, notes=notes)


PLANTED_POWER: Benchmark[PlantedPowerWorld, NoParams, PlantedRun] = Benchmark(
    name="planted-power",
    summary="Power curves of count, degree and scan tests over (n, q, Γ, k), thresholds drawn.",
    default_spec=_planted_power_spec,
    run=run_planted_power,
    params_type=PlantedRun,
    worlds={"planted-grid": PlantedPowerWorld},
    methods=METHODS,
    method_names=POWER_TESTS,
    metric_names=frozenset({"detection_power", "false_alarm_rate"}),
    check=method_check(POWER_TESTS),
    quick_budget_s=120.0,
)
