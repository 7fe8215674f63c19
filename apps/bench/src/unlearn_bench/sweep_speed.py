"""``sweep-speed``: what running a sweep's cells as Ray tasks gains and costs.

All in one run, through the same `run_sweep` path (`run_cell` per cell, the driver
storing each report), each measurement into a fresh store:

- ``serial_s``: ``cells`` CPU-bound `sweep-selftest` cells (pure Python, so only
  processes run two at once) one after another in this process (`LocalBackend`);
- ``ray_s``: the same cells on a warm local Ray instance of ``workers`` CPUs, one task
  per cell; ``ray_speedup_vs_serial`` = ``serial_s / ray_s`` (issue 20's goal: at least
  1.6 with 2 workers on 2 cores); ``ray_speedup_with_start_vs_serial`` counts the
  instance's start-up too;
- ``ray_overhead_per_cell_s``: ``overhead_cells`` cells that draw one point, through Ray
  one at a time (``no_work_cells_ray_s``), minus the same in this process
  (``no_work_cells_local_s``), per cell (goal: under 0.5 s);
- ``ray_task_round_trip_s``: an empty task submitted and waited for, one at a time;
- ``ray_start_s``: starting the local instance and warming its workers.

The machine's load average at the start is a metric too (``load_average_1m``), and so
are the cores the cells actually got (``serial_cores_used``, ``ray_cores_used``: the
cells' CPU seconds over the sweep's wall time): on a loaded machine Ray's workers get
less than their cores and the speed-up says little. Needs the ``ray`` extra.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from pydantic import Field
from unlearn_schema import (
    Benchmark,
    BenchmarkResult,
    BenchmarkSpec,
    MetricValue,
    NullProgress,
    ParsedSpec,
    Progress,
    Size,
    StrictModel,
    SweepSpec,
)

from unlearn_bench.store import ResultsStore
from unlearn_bench.sweep import plan_sweep, run_sweep
from unlearn_bench.sweep_backends import Backend, LocalBackend, RayBackend

SPEEDUP_GOAL = 1.6
OVERHEAD_GOAL_S = 0.5


class SweepSpeedParams(StrictModel):
    """Size of the measured sweeps."""

    cells: int = Field(default=8, ge=2, le=256, description="CPU-bound cells.")
    samples: int = Field(
        default=2_000_000, ge=1, description="Points per CPU-bound cell (its work)."
    )
    workers: int = Field(default=2, ge=1, le=256, description="Ray workers (CPUs).")
    overhead_cells: int = Field(default=16, ge=1, le=1024, description="No-work cells.")


def no_op() -> None:
    """A task that does nothing: what is left of its time is Ray's."""


def _sweep(name: str, cells: int, samples: int) -> SweepSpec:
    return SweepSpec(
        sweep=name,
        spec={"benchmark": "sweep-selftest", "params": {"samples": samples}},
        grid=[{"seeds": list(range(cells))}],
    )


def _timed_sweep(sweep: SweepSpec, backend: Backend, root: Path) -> tuple[float, float]:
    """Wall time of the sweep, and the CPU seconds its cells' estimates got in all."""
    folder = Path(tempfile.mkdtemp(prefix=f"{sweep.sweep}-", dir=root))
    plan = plan_sweep(sweep, sweep.sweep)
    start = time.perf_counter()
    summary = run_sweep(
        plan, folder, ResultsStore(folder / "results.sqlite"), backend, NullProgress()
    )
    wall = time.perf_counter() - start
    if summary.failed or summary.ran != len(plan.cells):
        raise RuntimeError(f"sweep {sweep.sweep} did not run cleanly: {summary.failed}")
    reports = ResultsStore(folder / "results.sqlite").reports()
    cpu = sum(m.value for r in reports for m in r.result.metrics if m.name == "estimate_cpu_s")
    return wall, cpu


def run_sweep_speed(
    parsed: ParsedSpec[StrictModel, StrictModel, SweepSpeedParams], progress: Progress, out_dir: str
) -> BenchmarkResult:
    """Time the serial and the Ray sweep of the same cells, and Ray's per-cell overhead."""
    params = parsed.params
    load = os.getloadavg()[0]
    progress.start(5, "measurements")
    busy = _sweep("speed-busy", params.cells, params.samples)
    idle = _sweep("speed-idle", params.overhead_cells, 1)
    with tempfile.TemporaryDirectory(dir=out_dir) as temp:
        root = Path(temp)
        serial, serial_cpu = _timed_sweep(busy, LocalBackend(), root)
        progress.advance(1, f"serial {serial:.1f} s")
        local_idle, _ = _timed_sweep(idle, LocalBackend(), root)
        progress.advance(1, "local no-work cells")
        backend = RayBackend(workers=params.workers)
        try:
            start = time.perf_counter()
            backend.start()
            # Warm every worker (its first task imports the app and the benchmark): cells
            # long enough that each worker gets some, not one worker all of them.
            warm = _sweep("speed-warm", 2 * params.workers, max(1, params.samples // 10))
            _timed_sweep(warm, backend, root)
            startup = time.perf_counter() - start
            progress.advance(1, f"ray started {startup:.1f} s")
            on_ray, ray_cpu = _timed_sweep(busy, backend, root)
            progress.advance(1, f"ray {on_ray:.1f} s")
            one_at_a_time = RayBackend(workers=1)  # joins the running instance
            ray_idle, _ = _timed_sweep(idle, one_at_a_time, root)
            start = time.perf_counter()
            for _ in one_at_a_time.map_unordered(no_op, [()] * params.overhead_cells):
                pass
            round_trip = (time.perf_counter() - start) / params.overhead_cells
            progress.advance(1, "ray no-work cells")
        finally:
            backend.stop()
    speedup = serial / on_ray
    with_start = serial / (on_ray + startup)
    # Negative only by noise (the in-process cells ran on a busier moment).
    overhead = (ray_idle - local_idle) / params.overhead_cells
    setup = {"cells": str(params.cells), "workers": str(params.workers)}

    def metric(name: str, value: float, direction: str, unit: str, **extra: object) -> MetricValue:
        return MetricValue.model_validate(
            {"name": name, "value": value, "direction": direction, "unit": unit, "labels": setup}
            | extra
        )

    speed_met = speedup >= SPEEDUP_GOAL
    overhead_met = overhead < OVERHEAD_GOAL_S
    return BenchmarkResult(
        metrics=[
            metric("serial_s", serial, "lower", "s"),
            metric("ray_s", on_ray, "lower", "s"),
            metric("ray_start_s", startup, "lower", "s"),
            metric(
                "ray_speedup_vs_serial",
                speedup,
                "higher",
                "ratio",
                reference=SPEEDUP_GOAL,
                reference_name=f"goal (>= {SPEEDUP_GOAL})",
            ),
            metric("ray_speedup_with_start_vs_serial", with_start, "higher", "ratio"),
            metric("ray_speedup_vs_serial_met", float(speed_met), "higher", "flag"),
            metric(
                "ray_overhead_per_cell_s",
                overhead,
                "lower",
                "s",
                reference=OVERHEAD_GOAL_S,
                reference_name=f"goal (< {OVERHEAD_GOAL_S} s)",
            ),
            metric("ray_overhead_per_cell_s_met", float(overhead_met), "higher", "flag"),
            # cores the cells got: their estimates' CPU seconds over the sweep's wall time
            metric("serial_cores_used", serial_cpu / serial, "none", "cores"),
            metric("ray_cores_used", ray_cpu / on_ray, "none", "cores"),
            metric("ray_task_round_trip_s", round_trip, "lower", "s"),
            metric("no_work_cells_local_s", local_idle, "lower", "s"),
            metric("no_work_cells_ray_s", ray_idle, "lower", "s"),
            metric("load_average_1m", load, "none", "load"),
        ],
        timings={"serial": serial, "ray": on_ray, "ray_start": startup},
        notes=[
            f"{params.cells} CPU-bound cells ({params.samples} points each): {serial:.2f} s "
            f"serially, {on_ray:.2f} s on {params.workers} Ray workers: "
            f"{speedup:.2f}x (goal >= {SPEEDUP_GOAL}: {'met' if speed_met else 'NOT met'}); "
            f"{with_start:.2f}x counting the instance's start ({startup:.1f} s).",
            f"Ray's overhead per cell: {overhead * 1000:.0f} ms over {params.overhead_cells} "
            f"no-work cells (goal < {OVERHEAD_GOAL_S} s: {'met' if overhead_met else 'NOT met'}); "
            f"an empty Ray task's round trip: {round_trip * 1000:.1f} ms.",
            f"Cores the cells got (CPU seconds over wall time): {serial_cpu / serial:.2f} "
            f"serially, {ray_cpu / on_ray:.2f} on Ray; the speed-up can only reach the "
            "ratio of the two, and only free cores make it 2.",
            f"Load average at the start: {load:.2f} on {os.cpu_count()} CPUs.",
        ],
    )


def _spec(size: Size) -> BenchmarkSpec:
    samples = 600_000 if size == "quick" else 16_000_000  # full: about 1.5 s of CPU a cell
    return BenchmarkSpec(
        benchmark="sweep-speed",
        size=size,
        params=SweepSpeedParams(samples=samples).model_dump(),
    )


SWEEP_SPEED: Benchmark[StrictModel, StrictModel, SweepSpeedParams] = Benchmark(
    name="sweep-speed",
    summary="Sweep cells as Ray tasks: speed-up over serial on 2 workers, per-cell overhead.",
    default_spec=_spec,
    run=run_sweep_speed,
    params_type=SweepSpeedParams,
    metric_names=frozenset(
        {
            "serial_s",
            "ray_s",
            "ray_start_s",
            "ray_speedup_vs_serial",
            "ray_speedup_with_start_vs_serial",
            "ray_speedup_vs_serial_met",
            "ray_overhead_per_cell_s",
            "ray_overhead_per_cell_s_met",
            "serial_cores_used",
            "ray_cores_used",
            "ray_task_round_trip_s",
            "no_work_cells_local_s",
            "no_work_cells_ray_s",
            "load_average_1m",
        }
    ),
    max_seeds=1,
    kind="speed",
)
