"""``store-chaos``: SIGKILL ``unlearn-bench run`` at random moments, then check the store.

Each trial starts a real run of a fast benchmark (``rope-feasibility`` by default) in
its own process and kills it with SIGKILL after a random delay drawn over the run's
measured length, so kills land in every phase: start-up, the recipe, the report
write, the store append. After each kill the store must pass SQLite's integrity check;
then `unlearn_bench.runner.reconcile` runs (as the next run would) and the folder
must hold no orphan report, no artifact folder without a report, no staging folder and
no temporary file, and every stored row must have its report. Half the kills are aimed
at the last fifth of the run, where the report is written and the row appended. The counts are the
benchmark's metrics; ``violations`` must be 0.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

from pydantic import Field
from unlearn_schema import (
    Benchmark,
    BenchmarkResult,
    BenchmarkSpec,
    MetricValue,
    ParsedSpec,
    Progress,
    Size,
    StrictModel,
)


class ChaosParams(StrictModel):
    """Knobs of the kill loop."""

    kills: int = Field(default=20, ge=1, le=10_000, description="SIGKILLed runs.")
    target: str = Field(default="rope-feasibility", min_length=1, description="Benchmark killed.")
    completed_runs: int = Field(
        default=2, ge=1, le=100, description="Uninterrupted runs, to time the target."
    )


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "unlearn_bench.cli", *args]


def _leftovers(out: Path, stored: set[str]) -> list[str]:
    problems = []
    for bench_dir in (p for p in out.iterdir() if p.is_dir()):
        for path in bench_dir.iterdir():
            if path.name.startswith(".staging-") or path.name.endswith(".tmp"):
                problems.append(f"leftover {path.name}")
            elif path.suffix == ".json" and path.stem not in stored:
                problems.append(f"orphan report {path.name}")
            elif path.is_dir() and path.name not in stored:
                problems.append(f"orphan artifacts {path.name}")
    reports = {path.stem for path in out.glob("*/*.json")}
    problems.extend(f"stored run {run_id} has no report" for run_id in stored - reports)
    return problems


def _integrity(store: Path) -> str:
    if not store.exists():
        return "ok"
    with closing(sqlite3.connect(store)) as connection:
        return str(connection.execute("PRAGMA integrity_check").fetchone()[0])


def run_chaos(
    parsed: ParsedSpec[StrictModel, StrictModel, ChaosParams], progress: Progress, out_dir: str
) -> BenchmarkResult:
    from unlearn_bench.runner import reconcile
    from unlearn_bench.store import ResultsStore

    params = parsed.params
    rng = random.Random(parsed.seeds[0])
    work = Path(tempfile.mkdtemp(prefix="store-chaos-"))
    out = work / "runs"
    store_path = out / "results.sqlite"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    progress.start(params.completed_runs + params.kills, "runs")
    durations = []
    try:
        for _ in range(params.completed_runs):
            start = time.perf_counter()
            subprocess.run(
                _cli("run", params.target, "--out", str(out), "--quiet"),
                check=True,
                env=env,
                capture_output=True,
            )
            durations.append(time.perf_counter() - start)
            progress.advance(1, "timed")
        longest = max(durations)
        killed_mid_run = completed = integrity_failures = adopted = removed = 0
        violations: list[str] = []
        for trial in range(params.kills):
            process = subprocess.Popen(
                _cli("run", params.target, "--out", str(out), "--quiet"),
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            # Half the kills anywhere, half aimed at the last fifth of the run, where the
            # report is written and the row appended.
            if trial % 2:
                time.sleep(rng.uniform(0.0, longest * 1.05))
            else:
                time.sleep(rng.uniform(longest * 0.8, longest * 1.1))
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                killed_mid_run += 1
            else:
                completed += 1
            process.wait()
            check = _integrity(store_path)
            if check != "ok":
                integrity_failures += 1
                violations.append(f"trial {trial}: integrity {check}")
            store = ResultsStore(store_path)
            mended = reconcile(out, store)
            adopted += len(mended.adopted)
            removed += len(mended.removed)
            # Leftovers younger than the grace period are left for a live run; the killed
            # one is dead, so age them past the grace period and reconcile once more.
            for bench_dir in (p for p in out.iterdir() if p.is_dir()):
                for path in bench_dir.iterdir():
                    if path.is_dir() and not path.name.startswith("."):
                        os.utime(path, (0, 0))
            mended = reconcile(out, store)
            removed += len(mended.removed)
            violations.extend(f"trial {trial}: {p}" for p in _leftovers(out, store.run_ids()))
            progress.advance(1, f"{killed_mid_run} killed")
        stored = len(ResultsStore(store_path).run_ids())
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def metric(name: str, value: float, direction: str = "none") -> MetricValue:
        return MetricValue(
            name=name,
            value=float(value),
            direction=direction,  # type: ignore[arg-type]
            labels={"target": params.target},
        )

    return BenchmarkResult(
        metrics=[
            metric("trials", params.kills),
            metric("killed_mid_run", killed_mid_run),
            metric("finished_before_kill", completed),
            metric("orphan_reports_adopted", adopted),
            metric("leftovers_removed", removed),
            metric("integrity_failures", integrity_failures, "lower"),
            metric("violations", len(violations), "lower"),
            metric("runs_stored", stored),
            metric("target_run_s", longest),
        ],
        notes=[
            f"{params.kills} runs of {params.target} SIGKILLed at random over its {longest:.1f} s: "
            f"{killed_mid_run} mid-run, {completed} had finished; {adopted} orphan reports "
            f"adopted and {removed} leftovers removed by reconciliation; "
            f"{len(violations)} violations" + (f" ({violations[:5]})" if violations else "") + ".",
        ],
    )


def _spec(size: Size) -> BenchmarkSpec:
    return BenchmarkSpec(
        benchmark="store-chaos",
        size=size,
        params=ChaosParams(kills=20 if size == "quick" else 120).model_dump(),
    )


STORE_CHAOS: Benchmark[StrictModel, StrictModel, ChaosParams] = Benchmark(
    name="store-chaos",
    summary="SIGKILL benchmark runs at random moments; the store and output folder must mend.",
    default_spec=_spec,
    run=run_chaos,
    params_type=ChaosParams,
    metric_names=frozenset(
        {
            "trials",
            "killed_mid_run",
            "finished_before_kill",
            "orphan_reports_adopted",
            "leftovers_removed",
            "integrity_failures",
            "violations",
            "runs_stored",
            "target_run_s",
        }
    ),
    max_seeds=1,
)
