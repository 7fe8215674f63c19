"""``planted-power``: power curves of the count, degree and scan tests over (n, q, Γ, k).

``planted-quickstart`` fixes one (n, q, p); this recipe sweeps a grid of (n, q) and
patterns Γ, draws the signal-to-noise = 1 boundaries of the count and degree tests on
every curve, and adds the exhaustive scan test on tiny graphs.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from pydantic import Field, model_validator
from unlearn_schema.base import StrictModel
from unlearn_schema.configs import BenchmarkSpec, Size
from unlearn_schema.plugins import NoParams, ParsedSpec, Progress
from unlearn_schema.recipes import spec_from_parts
from unlearn_schema.results import BenchmarkResult, Curve, MetricValue

from graph_algos.benchmarks._common import mean_metric, mean_series
from graph_algos.benchmarks.planted_quickstart import (
    PlantedRun,
    SubgraphName,
    power_curve,
    power_grid,
)
from graph_algos.methods.planted import boundary_size, scan_signal_to_noise
from graph_algos.worlds.generators import make_subgraph

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


def planted_power_spec(size: Size) -> BenchmarkSpec:
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
    world_part = ("planted-grid", world)
    return spec_from_parts(
        "planted-power", size, seeds, world=world_part, methods=POWER_TESTS, params=run
    )


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
    # The scan grid calibrates afresh for every pattern (the scan statistic depends on it).
    per_scan = (
        len(world.scan_subgraphs) * len(world.scan_sizes) * (2 * run.null_trials + run.trials)
    )
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
            where = f"n={n}, q={q}, seed {seed}"
            cell_power, cell_alarms = power_grid(
                base_statistics, n, q, world.p, patterns, run, rng, progress, where
            )
            for (test, name, k), value in cell_power.items():
                power.setdefault((test, n, q, name, k), []).append(value)
            for test, value in cell_alarms.items():
                alarms.setdefault((test, n, q), []).append(value)
        if scan_on:
            scan = functions["scan-test"]
            for name in world.scan_subgraphs:
                for k in world.scan_sizes:
                    pattern = make_subgraph(name, k, rng)
                    scan_statistics: dict[str, Callable[[sp.spmatrix], float]] = {
                        "scan-test": lambda g, pattern=pattern, scan=scan: scan(g, pattern),  # type: ignore[misc]
                        **base_statistics,
                    }
                    cell_power, cell_alarms = power_grid(
                        scan_statistics,
                        world.scan_n,
                        world.scan_q,
                        world.scan_p,
                        [pattern],
                        run,
                        rng,
                        progress,
                        f"scan grid, seed {seed}",
                    )
                    for (test, pname, pk), value in cell_power.items():
                        power.setdefault((test, world.scan_n, world.scan_q, pname, pk), []).append(
                            value
                        )
                    for test, value in cell_alarms.items():
                        key = (f"{test} ({name}, k={k})", world.scan_n, world.scan_q)
                        alarms.setdefault(key, []).append(value)

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
                mean_series(test, world.sizes, [power[(test, n, q, name, k)] for k in world.sizes])
                for test in big
            ]
            title = f"Planted {name} in G(n={n}, q={q}), p={world.p}"
            curves.append(power_curve(f"power-{name}-n{n}-q{q}", title, series, run.level, vlines))
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
                mean_series(
                    test,
                    world.scan_sizes,
                    [power[(test, world.scan_n, world.scan_q, name, k)] for k in world.scan_sizes],
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
            title = (
                f"Scan vs count/degree: planted {name} in "
                f"G(n={world.scan_n}, q={world.scan_q}), p={world.scan_p}"
            )
            scan_line = {"scan union-bound SNR=1": float(snr_k[0])} if snr_k else {}
            curves.append(
                power_curve(f"scan-{name}", title, series, run.level, scan_line, log_x=False)
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
