"""Cross-package tests: the console script end to end, and installing one package alone."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from unlearn_schema import RunReport

ROOT = Path(__file__).resolve().parents[1]


def _bench(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("unlearn-bench")
    return subprocess.run([str(script), *args], cwd=cwd, capture_output=True, text=True)


def _run_single_report(benchmark: str, cwd: Path) -> RunReport:
    """Run ``benchmark`` quietly through the console script and read its one report."""
    ran = _bench("run", benchmark, "--quiet", cwd=cwd)
    assert ran.returncode == 0, ran.stderr
    reports = list((cwd / "runs" / benchmark).glob("*.json"))
    assert len(reports) == 1
    return RunReport.model_validate_json(reports[0].read_text())


def test_planted_quickstart_end_to_end(tmp_path: Path) -> None:
    report = _run_single_report("planted-quickstart", tmp_path)
    assert report.wall_time_s < 60, "planted-quickstart must stay under a minute"
    star_degree = next(
        m.value
        for m in report.result.metrics
        if m.labels == {"test": "degree-test", "subgraph": "star", "k": "256"}
    )
    star_count = next(
        m.value
        for m in report.result.metrics
        if m.labels == {"test": "count-test", "subgraph": "star", "k": "256"}
    )
    assert star_degree > 0.9 > star_count
    assert report.package_versions["graph-algos"] == "0.1.0"
    assert (tmp_path / "runs" / "results.sqlite").exists()
    reported = _bench("report", "--format", "html", cwd=tmp_path)
    assert reported.returncode == 0, reported.stderr
    assert "planted-quickstart" in (tmp_path / "runs" / "report.html").read_text()


def test_unknown_benchmark_lists_installed_ones(tmp_path: Path) -> None:
    ran = _bench("run", "no-such-benchmark", cwd=tmp_path)
    assert ran.returncode == 2
    assert "planted-quickstart" in ran.stderr
    assert list(tmp_path.iterdir()) == []


def test_every_registered_benchmark_has_valid_default_specs() -> None:
    from unlearn_bench.discovery import benchmark_names, load_benchmark

    names = benchmark_names()
    assert "planted-quickstart" in names
    for name in names:
        benchmark, _ = load_benchmark(name)
        for size in ("quick", "full"):
            spec = benchmark.default_spec(size)
            assert spec.benchmark == name and spec.size == size
            parsed = benchmark.parse(spec)
            assert parsed.spec is spec


@pytest.mark.skipif(shutil.which("uv") is None, reason="needs uv to build a fresh environment")
def test_graph_algos_installs_alone_without_torch(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    python = str(venv / "bin" / "python")
    # Point uv at the new environment alone, whatever environment runs this test.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "VIRTUAL_ENV"))}
    subprocess.run(["uv", "venv", "-q", "-p", sys.executable, str(venv)], check=True, env=env)
    subprocess.run(
        [
            "uv",
            "pip",
            "install",
            "-q",
            "--python",
            python,
            str(ROOT / "shared"),
            str(ROOT / "apps" / "bench"),
            str(ROOT / "packages" / "graph-algos"),
        ],
        check=True,
        env=env,
        cwd=tmp_path,
    )
    listed = subprocess.run(
        ["uv", "pip", "list", "--python", python, "--format", "json"],
        check=True,
        env=env,
        capture_output=True,
        text=True,
    )
    installed = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert "graph-algos" in installed
    assert installed.isdisjoint({"torch", "diffusers", "transformers", "torch-geometric"})
    parts = subprocess.run(
        [str(venv / "bin" / "unlearn-bench"), "list", "--json"],
        check=True,
        capture_output=True,
        text=True,
    )
    assert [p["package"] for p in json.loads(parts.stdout)] == ["graph-algos", "unlearn-bench"]


def test_tour_end_to_end(tmp_path: Path) -> None:
    """The README's first command: the tour on its embedded default, every part ran."""
    report = _run_single_report("tour", tmp_path)
    parts = {m.labels["part"] for m in report.result.metrics}
    assert parts == {"llm-facts-quick", "diffusion-erase-quick", "graph-unlearn-quick"}
    # the LLM parts' attack verdicts and the two diffusion attacks made it into the run
    assert any(" attacked: forget quality " in note for note in report.result.notes)
    attacks = {
        m.labels["attack"]
        for m in report.result.metrics
        if m.labels["part"] == "diffusion-erase-quick" and "attack" in m.labels
    }
    assert attacks == {"learned-embedding", "concept-vector"}
