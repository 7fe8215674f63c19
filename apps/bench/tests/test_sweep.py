from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import yaml
from unlearn_bench import cli
from unlearn_bench.overrides import set_value
from unlearn_bench.store import ResultsStore
from unlearn_bench.sweep import plan_sweep
from unlearn_bench.sweep_backends import BackendError, make_backend
from unlearn_bench.sweep_report import cell_value, original_value, pareto_front
from unlearn_bench.sweep_store import SweepCellStore
from unlearn_schema import BenchmarkResult, MetricValue, RunReport, SpecError, SweepSpec


def write_sweep(
    folder: Path, grid: Any, samples: int = 2000, fail: list[int] | None = None
) -> Path:
    path = folder / "sweep.yaml"
    data = {
        "sweep": "selftest",
        "spec": {
            "benchmark": "sweep-selftest",
            "params": {"samples": samples, "fail_seeds": fail or []},
        },
        "grid": grid,
    }
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def rows(store: Path) -> list[tuple[str, str]]:
    with closing(sqlite3.connect(store)) as connection:
        return connection.execute("SELECT run_id, benchmark FROM runs").fetchall()


def test_set_value_follows_the_set_rules() -> None:
    default = {"methods": [{"name": "npo", "params": {"steps": 3}}, {"name": "npo", "params": {}}]}
    by_name = set_value({}, "methods", "npo", default)
    assert by_name["methods"] == default["methods"]  # every default config of that name
    one = set_value({}, "methods", {"name": "npo"}, default)
    assert one["methods"] == [{"name": "npo"}]
    assert set_value({}, "seeds", 3, default) == {"seeds": [3]}
    nested = set_value({"methods": [{"name": "a"}]}, "methods[0].params.learning_rate", 1e-5, {})
    assert nested["methods"][0]["params"]["learning_rate"] == 1e-5  # a float, not "1e-05"


def test_plan_is_the_product_then_the_union_with_identical_cells_merged() -> None:
    sweep = SweepSpec.model_validate(
        {
            "sweep": "p",
            "spec": {"benchmark": "sweep-selftest"},
            "grid": [
                {"seeds": [0, 1], "params.samples": [10, 20, 30]},
                {"seeds": [0], "params.samples": [10, 40]},  # (0, 10) again: merged
            ],
        }
    )
    plan = plan_sweep(sweep, "test")
    assert len(plan.cells) == 7 and plan.merged == 1
    assert [c.labels() for c in plan.cells[:2]] == [
        {"seeds": "0", "params.samples": "10"},
        {"seeds": "0", "params.samples": "20"},
    ]
    assert plan.cells[-1].spec.params["samples"] == 40
    assert len({c.run_id for c in plan.cells}) == 7
    # the run id comes from the resolved spec: planning again gives the same ids
    assert [c.run_id for c in plan_sweep(sweep, "test").cells] == [c.run_id for c in plan.cells]


def test_a_bad_grid_field_is_one_line_and_exit_2(tmp_path: Path, capsys: Any) -> None:
    path = write_sweep(tmp_path, {"seeds": [0, 1, 2], "params.sampels": [5]})
    with pytest.raises(SpecError) as error:
        plan_sweep(SweepSpec.model_validate(yaml.safe_load(path.read_text())), str(path))
    assert len(error.value.problems) == 1
    assert "params.sampels" in error.value.problems[0] and "every cell" in error.value.problems[0]
    assert cli.main(["sweep", str(path), "--backend", "local", "--out", str(tmp_path)]) == 2
    assert "params.sampels" in capsys.readouterr().err
    assert not (tmp_path / "results.sqlite").exists()  # nothing ran, nothing written


def test_cli_refuses_bad_backend_options(tmp_path: Path, capsys: Any) -> None:
    path = write_sweep(tmp_path, {"seeds": [0]})
    for extra in (["--workers", "2"], ["--address", "auto"]):
        code = cli.main(["sweep", str(path), "--backend", "local", "--out", str(tmp_path), *extra])
        assert code == 2
        assert "--backend ray" in capsys.readouterr().err
    with pytest.raises(BackendError, match="unknown backend 'dask'"):
        make_backend("dask", None, None)


def test_a_local_sweep_records_a_failing_cell_and_resumes(tmp_path: Path, capsys: Any) -> None:
    path = write_sweep(tmp_path, {"seeds": [0, 1, 2], "params.samples": [100, 200]}, fail=[1])
    args = ["sweep", str(path), "--backend", "local", "--out", str(tmp_path), "--quiet"]
    assert cli.main(args) == 1  # a failed cell: exit 1, after the others ran
    out = capsys.readouterr()
    assert "6 cells: 0 stored before, 6 run now" in out.out and "2 failed" in out.out
    assert "DeliberateFailure" in out.err
    store = tmp_path / "results.sqlite"
    assert len(rows(store)) == 4
    cells = SweepCellStore(store).cells("selftest")
    assert [c.status for c in cells] == ["ok", "ok", "failed", "failed", "ok", "ok"]
    assert all("seed 1 is in fail_seeds" in (c.error or "") for c in cells if c.status == "failed")
    # Rerun: the stored cells are skipped, the failed ones tried again, no row twice.
    assert cli.main(args) == 1
    assert "6 cells: 4 stored before, 2 run now" in capsys.readouterr().out
    stored = rows(store)
    assert len(stored) == 4 and len({run_id for run_id, _ in stored}) == 4
    # A changed spec is a new cell: without fail_seeds every cell's spec differs, so all
    # six run; the sweep's cells are the new six, the old runs stay in the store.
    write_sweep(tmp_path, {"seeds": [0, 1, 2], "params.samples": [100, 200]})
    assert cli.main(args) == 0
    assert len(rows(store)) == 4 + 6
    assert [c.status for c in SweepCellStore(store).cells("selftest")] == ["ok"] * 6
    # and its dry run lists every cell as stored
    capsys.readouterr()
    assert cli.main([*args[:-1], "--dry-run"]) == 0
    assert capsys.readouterr().out.count(" stored ") == 6


def test_killed_mid_sweep_then_resumed_stores_each_cell_once(tmp_path: Path) -> None:
    cells = 10
    path = write_sweep(tmp_path, {"seeds": list(range(cells))}, samples=300_000)
    store = tmp_path / "results.sqlite"
    command = [sys.executable, "-m", "unlearn_bench.cli", "sweep", str(path)]
    command += ["--backend", "local", "--out", str(tmp_path), "--quiet"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if store.exists() and 2 <= len(ResultsStore(store).run_ids()) < cells:
            break
        time.sleep(0.02)
    assert process.poll() is None, "the sweep finished before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    before = len(rows(store))
    assert 2 <= before < cells
    resumed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{cells} cells: {before}" in resumed.stdout or f"{cells} cells: {before + 1}" in (
        resumed.stdout  # a report the killed run wrote but had not stored is adopted
    )
    stored = rows(store)
    assert len(stored) == cells and len({run_id for run_id, _ in stored}) == cells
    reports = sorted((tmp_path / "sweep-selftest").glob("*.json"))
    assert {p.stem for p in reports} == {run_id for run_id, _ in stored}
    assert not [p for p in (tmp_path / "sweep-selftest").iterdir() if p.name.startswith(".")]


def test_report_groups_the_grid(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, {"seeds": [0, 1], "params.samples": [100, 400]}, fail=[1])
    cli.main(["sweep", str(path), "--backend", "local", "--out", str(tmp_path), "--quiet"])
    out = tmp_path / "report.md"
    assert cli.main(["report", "--store", str(tmp_path / "results.sqlite"), "--out", str(out)]) == 0
    text = out.read_text()
    assert "Sweep selftest" in text
    assert "2 of 4 cells ok, 2 failed" in text
    # one row per cell, grid values as columns, the failure's error in its row
    assert "<th>seeds</th><th>params.samples</th>" in text
    assert "DeliberateFailure" in text and "abs_error" in text


def test_pareto_front_by_hand() -> None:
    # forget (lower better) vs retain (higher better): (0.1, 0.5) beats (0.2, 0.4);
    # (0.0, 0.3) and (0.3, 0.9) trade off; (0.3, 0.8) loses to (0.3, 0.9).
    points = [(0.1, 0.5), (0.2, 0.4), (0.0, 0.3), (0.3, 0.9), (0.3, 0.8)]
    assert pareto_front(points, x_lower=True, y_lower=False) == [(0.0, 0.3), (0.1, 0.5), (0.3, 0.9)]
    # both higher-better: only (0.3, 0.9) survives
    assert pareto_front(points, x_lower=False, y_lower=False) == [(0.3, 0.9)]


def test_cell_value_reads_the_method_rows_and_the_oracle_reference() -> None:
    def row(method: str, value: float) -> MetricValue:
        return MetricValue(
            name="forget", value=value, direction="lower", reference=0.1, labels={"method": method}
        )

    metrics = [row("original", 1.0), row("oracle (other seed)", 0.0), row("npo", 0.4)]
    metrics.append(row("npo+gu", 0.2))
    report = RunReport.model_construct(result=BenchmarkResult(metrics=metrics))
    value, reference, direction = cell_value(report, "forget") or (0, 0, "none")
    assert value == pytest.approx(0.3) and reference == 0.1 and direction == "lower"
    assert original_value(report, "forget") == 1.0
    assert cell_value(report, "missing") is None


def test_an_unknown_sweep_name_lists_the_shipped_ones(tmp_path: Path, capsys: Any) -> None:
    assert cli.main(["sweep", "no-such-sweep", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no shipped sweep of that name" in err and "llm-lr-steps" in err


def test_a_benchmark_spec_is_not_a_sweep(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text("benchmark: sweep-selftest\n", encoding="utf-8")
    assert cli.main(["sweep", str(path), "--out", str(tmp_path)]) == 2
    assert "is a benchmark spec, not a sweep" in capsys.readouterr().err


def test_report_draws_the_pareto_plot_a_sweep_asks_for(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, {"seeds": [0, 1], "params.samples": [100, 400]})
    data = yaml.safe_load(path.read_text())
    data["pareto"] = {"x": "abs_error", "y": "estimate_s", "by": "seeds"}
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    assert (
        cli.main(["sweep", str(path), "--backend", "local", "--out", str(tmp_path), "--quiet"]) == 0
    )
    out = tmp_path / "report.md"
    assert cli.main(["report", "--store", str(tmp_path / "results.sqlite"), "--out", str(out)]) == 0
    png = tmp_path / "report-plots" / "sweep-selftest-pareto.png"
    assert png.read_bytes().startswith(b"\x89PNG")
    assert "report-plots/sweep-selftest-pareto.png" in out.read_text()


def test_without_ray_the_ray_backend_names_the_extra(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    path = write_sweep(tmp_path, {"seeds": [0]})
    assert cli.main(["sweep", str(path), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unlearn-bench[ray]" in err and "--backend local" in err
    assert not (tmp_path / "results.sqlite").exists()


def test_cell_keys_change_with_the_code_and_the_library_versions(tmp_path: Path) -> None:
    """A stored cell is not reused after an edit of the benchmark's package or an upgrade."""
    from unlearn_bench.discovery import load_benchmark
    from unlearn_bench.sweep import code_identity, spec_key

    benchmark, package = load_benchmark("sweep-selftest")  # the app's own: always installed
    spec = benchmark.default_spec("quick")
    identity = code_identity(benchmark, package)
    assert identity["source"].startswith("unlearn_bench:") and identity["unlearn-bench"]
    assert identity["python"]
    keys = {
        spec_key(spec),
        spec_key(spec, identity),
        spec_key(spec, {**identity, "source": "unlearn_bench:edited"}),
        spec_key(spec, {**identity, "pydantic": "0.0"}),
    }
    assert len(keys) == 4
    assert spec_key(spec, dict(identity)) == spec_key(spec, identity)
