"""Sweeps on a local Ray instance (the ``ray`` extra; nox tests-extras installs it)."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import yaml
from unlearn_bench import cli
from unlearn_bench.sweep_store import SweepCellStore

pytestmark = pytest.mark.requires("ray")


def test_a_small_grid_on_local_ray_records_the_failing_cell(tmp_path: Path, capsys: Any) -> None:
    sweep = {
        "sweep": "on-ray",
        "spec": {"benchmark": "sweep-selftest", "params": {"samples": 5000, "fail_seeds": [2]}},
        "grid": {"seeds": [0, 1, 2, 3], "params.samples": [5000, 6000]},
    }
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(sweep, sort_keys=False), encoding="utf-8")
    args = ["sweep", str(path), "--backend", "ray", "--workers", "2", "--out", str(tmp_path)]
    assert cli.main([*args, "--quiet"]) == 1  # the failing cells, after every other ran
    out = capsys.readouterr()
    assert "ray (a local Ray instance, 2 workers" in out.out
    assert "8 cells: 0 stored before, 8 run now" in out.out and "2 failed" in out.out
    store = tmp_path / "results.sqlite"
    cells = SweepCellStore(store).cells("on-ray")
    assert [c.status for c in cells] == ["ok"] * 4 + ["failed"] * 2 + ["ok"] * 2
    assert all("DeliberateFailure" in (c.error or "") for c in cells if c.status == "failed")
    # the reports came back from the workers and the driver stored each once
    with closing(sqlite3.connect(store)) as connection:
        stored = [row[0] for row in connection.execute("SELECT run_id FROM runs")]
    assert sorted(stored) == sorted(c.run_id for c in cells if c.status == "ok")
    # a rerun skips the six stored cells, whichever backend runs it (one Ray start only)
    local = ["sweep", str(path), "--backend", "local", "--out", str(tmp_path), "--quiet"]
    assert cli.main(local) == 1
    assert "8 cells: 6 stored before, 2 run now" in capsys.readouterr().out


@pytest.mark.slow
def test_sweep_speed_reports_both_goals(tmp_path: Path) -> None:
    from unlearn_bench.discovery import load_benchmark
    from unlearn_bench.runner import run_benchmark
    from unlearn_schema import BenchmarkSpec

    benchmark, package = load_benchmark("sweep-speed")
    spec = BenchmarkSpec(
        benchmark="sweep-speed", params={"cells": 4, "samples": 20_000, "overhead_cells": 4}
    )
    report, _ = run_benchmark(benchmark, package, spec, tmp_path)
    values = {m.name: m.value for m in report.result.metrics}
    assert values["ray_speedup_vs_serial"] == pytest.approx(values["serial_s"] / values["ray_s"])
    assert values["ray_speedup_vs_serial_met"] in (0.0, 1.0)
    assert values["ray_overhead_per_cell_s_met"] in (0.0, 1.0)
    assert values["ray_start_s"] > 0 and "load_average_1m" in values


@pytest.mark.slow
def test_killed_mid_sweep_on_ray_then_resumed_stores_each_cell_once(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    from unlearn_bench.store import ResultsStore

    cells = 12
    sweep = {
        "sweep": "ray-kill",
        "spec": {"benchmark": "sweep-selftest", "params": {"samples": 1_500_000}},
        "grid": {"seeds": list(range(cells))},
    }
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(sweep, sort_keys=False), encoding="utf-8")
    store = tmp_path / "results.sqlite"
    command = [sys.executable, "-m", "unlearn_bench.cli", "sweep", str(path), "--workers", "2"]
    command += ["--out", str(tmp_path), "--quiet"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        if store.exists() and 2 <= len(ResultsStore(store).run_ids()) < cells:
            break
        time.sleep(0.05)
    assert process.poll() is None, "the sweep finished before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    resumed = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    with closing(sqlite3.connect(store)) as connection:
        stored = [row[0] for row in connection.execute("SELECT run_id FROM runs")]
    assert len(stored) == cells and len(set(stored)) == cells
    assert {c.status for c in SweepCellStore(store).cells("ray-kill")} == {"ok"}


def test_address_joins_a_running_cluster_and_leaves_it_running(tmp_path: Path) -> None:
    # A one-node cluster started the way the recipe says (`ray start --head`), with token
    # authentication on (the default of `ray start` since Ray 2.59): the driver joins it
    # with --address and RAY_AUTH_MODE=token, runs the cells there, and leaves it up.
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ray_cli = str(Path(sys.executable).with_name("ray"))
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_USAGE_STATS_ENABLED": "0"}
    head = [ray_cli, "start", "--head", f"--port={port}", "--num-cpus=2"]
    started = subprocess.run(
        [*head, "--include-dashboard=false", "--disable-usage-stats"],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert started.returncode == 0, started.stdout[-2000:] + started.stderr[-2000:]
    try:
        sweep = {
            "sweep": "on-cluster",
            "spec": {"benchmark": "sweep-selftest", "params": {"samples": 5000}},
            "grid": {"seeds": [0, 1, 2]},
        }
        path = tmp_path / "sweep.yaml"
        path.write_text(yaml.safe_dump(sweep, sort_keys=False), encoding="utf-8")
        address = f"127.0.0.1:{port}"
        # The driver is the command line in its own process: Ray reads RAY_AUTH_MODE
        # when it is imported, so the variable must be set before the driver starts.
        bench = str(Path(sys.executable).with_name("unlearn-bench"))
        args = ["sweep", str(path), "--address", address, "--workers", "2", "--out", str(tmp_path)]
        done = subprocess.run(
            [bench, *args, "--quiet"], capture_output=True, text=True, env=env, timeout=300
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        assert f"ray (cluster at {address}, 2 workers" in done.stdout
        assert "3 cells: 0 stored before, 3 run now" in done.stdout and "0 failed" in done.stdout
        cells = SweepCellStore(tmp_path / "results.sqlite").cells("on-cluster")
        assert [c.status for c in cells] == ["ok"] * 3
        # the cluster outlives the driver: `ray status` still reaches it
        status = subprocess.run(
            [ray_cli, "status", f"--address={address}"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert status.returncode == 0, status.stderr[-2000:]
    finally:
        # `ray stop` stops every Ray process of this user (it has no per-port form)
        subprocess.run([ray_cli, "stop", "--force"], capture_output=True, env=env, timeout=120)
