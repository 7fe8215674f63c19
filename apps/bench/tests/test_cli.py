from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from unlearn_bench import cli, discovery
from unlearn_bench.report import render_report
from unlearn_bench.store import ResultsStore
from unlearn_schema import (
    BENCHMARKS_GROUP,
    METHODS_GROUP,
    Benchmark,
    BenchmarkResult,
    BenchmarkSpec,
    Curve,
    Heatmap,
    MethodConfig,
    MethodParams,
    MethodSpec,
    MetricValue,
    ParsedSpec,
    Progress,
    Registry,
    Series,
    Size,
    StrictModel,
    WorldSpec,
)


@dataclass
class FakeDist:
    name: str
    version: str = "9.9"


@dataclass
class FakeEntryPoint:
    name: str
    group: str
    obj: Any
    dist: FakeDist

    @property
    def value(self) -> str:
        return f"fake:{self.name}"

    def load(self) -> Any:
        return self.obj


class ToyWorld(StrictModel):
    n: int = 3


class AscentParams(MethodParams):
    steps: int = 1


def ascent(model: object, data: object, params: AscentParams) -> float:
    """A toy method: the registry resolves it by reference."""
    del model, data
    return 0.5 + params.steps


TOY_METHODS = Registry(
    "method",
    [
        MethodSpec(
            name="ascent",
            params=f"{__name__}:AscentParams",
            entry=f"{__name__}:ascent",
            summary="Toy gradient ascent.",
            paper="arXiv:0000.00000",
        )
    ],
)
OTHER_METHODS = Registry(
    "method",
    [
        MethodSpec(
            name="other", params=f"{__name__}:AscentParams", entry=f"{__name__}:ascent", summary="x"
        )
    ],
)


def _toy_spec(size: Size) -> BenchmarkSpec:
    return BenchmarkSpec(
        benchmark="toy",
        size=size,
        world=WorldSpec(name="toy", params={"n": 3}),
        methods=[MethodConfig(name="ascent")],
    )


def _toy_check(parsed: ParsedSpec[ToyWorld, None, object]) -> None:
    if parsed.world.n < 1:
        raise ValueError(f"world.params.n must be a positive integer, got {parsed.world.n!r}")


def _toy_run(
    parsed: ParsedSpec[ToyWorld, None, object], progress: Progress, out_dir: str
) -> BenchmarkResult:
    spec = parsed.spec
    method_values = [m.spec.function(None, None, m.params) for m in parsed.methods]
    progress.start(2, "toy")
    progress.advance(2)
    artifact = Path(out_dir) / "grid.txt"
    artifact.write_text("image grid")
    return BenchmarkResult(
        metrics=[
            MetricValue(name="accuracy", value=0.9, direction="higher", labels={"method": "a"}),
            MetricValue(
                name="accuracy",
                value=0.7,
                direction="higher",
                labels={"method": "b"},
                reference=0.8,
                reference_name="retrain oracle",
            ),
        ],
        curves=[
            Curve(
                name="c",
                title="curve",
                x_label="x",
                y_label="y",
                series=[Series(label="a", x=[1, 2], y=[0.1, 0.2])],
                hlines={"ref": 0.15},
            )
        ],
        heatmaps=[
            Heatmap(
                name="phase",
                title="phase diagram",
                x_label="gap",
                y_label="p",
                z_label="recovered",
                x=[0.0, 0.01, 0.05],
                y=[0.1, 0.2],
                z=[[0.0, 0.5, 1.0], [0.0, 1.0, 1.0]],
                z_range=(0.0, 1.0),
                contours={"threshold": [(0.02, 0.1), (0.008, 0.2)]},
            )
        ],
        artifacts={"grid": str(artifact)},
        notes=[f"seed {spec.seeds[0]}", f"method values {method_values}"],
    )


def _failing_run(
    parsed: ParsedSpec[ToyWorld, None, object], progress: Progress, out_dir: str
) -> BenchmarkResult:
    (Path(out_dir) / "partial.bin").write_bytes(b"half")
    raise RuntimeError("diverged")


TOY = Benchmark(
    name="toy",
    summary="toy",
    default_spec=_toy_spec,
    run=_toy_run,
    check=_toy_check,
    worlds={"toy": ToyWorld},
    methods=TOY_METHODS,
    metric_names=frozenset({"accuracy", "loss"}),
    max_seeds=1,
)
BROKEN = Benchmark(
    name="broken",
    summary="fails",
    default_spec=lambda size: _toy_spec(size).model_copy(update={"benchmark": "broken"}),
    run=_failing_run,
    worlds={"toy": ToyWorld},
    methods=TOY_METHODS,
)


def _damaged_checkpoint_run(
    parsed: ParsedSpec[ToyWorld, None, object], progress: Progress, out_dir: str
) -> BenchmarkResult:
    from unlearn_schema import reading_file

    (Path(out_dir) / "partial.bin").write_bytes(b"half")
    with reading_file("/models/mine/model.safetensors", "the model weights"):
        raise RuntimeError("Error while deserializing header: header too large")


DAMAGED = Benchmark(
    name="damaged",
    summary="reads a damaged checkpoint",
    default_spec=lambda size: _toy_spec(size).model_copy(update={"benchmark": "damaged"}),
    run=_damaged_checkpoint_run,
    worlds={"toy": ToyWorld},
    methods=TOY_METHODS,
)


@pytest.fixture
def fake_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    points = [
        FakeEntryPoint("toy", BENCHMARKS_GROUP, TOY, FakeDist("toy-package")),
        FakeEntryPoint("broken", BENCHMARKS_GROUP, BROKEN, FakeDist("toy-package")),
        FakeEntryPoint("damaged", BENCHMARKS_GROUP, DAMAGED, FakeDist("toy-package")),
        FakeEntryPoint("toy-package", METHODS_GROUP, TOY_METHODS, FakeDist("toy-package")),
        FakeEntryPoint("other-package", METHODS_GROUP, OTHER_METHODS, FakeDist("other-package")),
    ]

    def fake_entry_points(group: str) -> list[FakeEntryPoint]:
        return [p for p in points if p.group == group]

    monkeypatch.setattr(discovery, "entry_points", fake_entry_points)


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*")) if root.exists() else []


def test_list_shows_each_package_with_its_parts(
    fake_plugins: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["list", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert [p["package"] for p in listing] == ["other-package", "toy-package"]
    toy = listing[1]
    assert [b["name"] for b in toy["benchmarks"]] == ["broken", "damaged", "toy"]
    assert toy["methods"] == [
        {
            "name": "ascent",
            "kind": "method",
            "summary": "Toy gradient ascent.",
            "paper": "arXiv:0000.00000",
        }
    ]
    assert listing[0]["benchmarks"] == [] and listing[0]["methods"][0]["name"] == "other"


def test_list_prints_summaries_and_papers(
    fake_plugins: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "ascent  Toy gradient ascent. [arXiv:0000.00000]" in out


def test_list_refuses_an_entry_point_that_is_not_a_registry(
    fake_plugins: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = FakeEntryPoint("bad", METHODS_GROUP, {"ascent": ascent}, FakeDist("bad"))
    monkeypatch.setattr(
        discovery, "entry_points", lambda group: [bad] if group == METHODS_GROUP else []
    )
    with pytest.raises(TypeError, match=r"not an unlearn_schema\.Registry"):
        discovery.installed_parts()


def test_run_writes_report_and_store(fake_plugins: None, tmp_path: Path) -> None:
    assert cli.main(["run", "toy", "--seed", "7", "--out", str(tmp_path), "--quiet"]) == 0
    reports = list((tmp_path / "toy").glob("*.json"))
    assert len(reports) == 1
    data = json.loads(reports[0].read_text())
    assert data["seed"] == 7 and data["spec"]["seeds"] == [7]
    assert data["package"] == "toy-package"
    assert Path(data["result"]["artifacts"]["grid"]).read_text() == "image grid"
    assert ".staging" not in data["result"]["artifacts"]["grid"]
    stored = ResultsStore(tmp_path / "results.sqlite").reports()
    assert [r.run_id for r in stored] == [data["run_id"]]
    with sqlite3.connect(tmp_path / "results.sqlite") as connection:
        rows = connection.execute("SELECT name, value FROM metrics ORDER BY value").fetchall()
    assert rows == [("accuracy", 0.7), ("accuracy", 0.9)]


def test_unknown_benchmark_exits_2_listing_known_and_writes_nothing(
    fake_plugins: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert cli.main(["run", "nope", "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert "unknown benchmark 'nope'" in error and "broken, damaged, toy" in error
    assert not out.exists()


def test_failing_benchmark_leaves_no_partial_files(fake_plugins: None, tmp_path: Path) -> None:
    assert cli.main(["run", "broken", "--out", str(tmp_path), "--quiet"]) == 1
    assert [p for p in _files(tmp_path) if p.is_file()] == []


def test_a_damaged_user_file_is_one_line_naming_it_and_exit_2(
    fake_plugins: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["run", "damaged", "--out", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "error: /models/mine/model.safetensors: cannot read the model weights "
        "(RuntimeError: Error while deserializing header: header too large)"
    ]
    assert [p for p in _files(tmp_path) if p.is_file()] == []


def test_validate_accepts_good_spec_and_rejects_misspelling(
    fake_plugins: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(_toy_spec("quick").model_dump()))
    assert cli.main(["validate", str(good)]) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("benchmark: toy\nseedz: [1]\n")
    before = _files(tmp_path)
    assert cli.main(["validate", str(bad)]) == 2
    error = capsys.readouterr().err
    assert "seedz" in error and "did you mean 'seeds'?" in error
    assert _files(tmp_path) == before


def test_validate_runs_the_benchmark_check(
    fake_plugins: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("benchmark: toy\nworld: {name: toy, params: {n: -3}}\n")
    assert cli.main(["validate", str(spec)]) == 2
    assert "world.params.n must be a positive integer, got -3" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("[1, 2]", "must hold a mapping"),
        ("benchmark: [", "not valid YAML"),
        ("benchmark: nope\n", "unknown benchmark 'nope'"),
    ],
)
def test_validate_rejects_bad_files(
    fake_plugins: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: str,
    expected: str,
) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(content)
    assert cli.main(["validate", str(spec)]) == 2
    assert expected in capsys.readouterr().err


def test_validate_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert cli.main(["validate", str(tmp_path / "absent.yaml")]) == 2
    assert "spec file not found" in capsys.readouterr().err


def test_report_renders_tables_and_plots(fake_plugins: None, tmp_path: Path) -> None:
    assert cli.main(["run", "toy", "--out", str(tmp_path), "--quiet"]) == 0
    store = str(tmp_path / "results.sqlite")
    assert cli.main(["report", "--store", store]) == 0
    markdown = (tmp_path / "report.md").read_text()
    assert "## toy" in markdown and "### Leaderboard" in markdown
    assert "<td>accuracy</td><td>b</td><td>0.7</td><td>0.8 (retrain oracle)</td>" in markdown
    plot = tmp_path / "report-plots" / "toy-c.png"
    assert plot.read_bytes().startswith(b"\x89PNG")
    heatmap = tmp_path / "report-plots" / "toy-phase.png"
    assert heatmap.read_bytes().startswith(b"\x89PNG") and "toy-phase.png" in markdown
    assert cli.main(["report", "--store", store, "--format", "html"]) == 0
    page = (tmp_path / "report.html").read_text()
    assert page.startswith("<!doctype html>") and "data:image/png;base64," in page


def test_report_without_store_exits_2(tmp_path: Path) -> None:
    assert cli.main(["report", "--store", str(tmp_path / "none.sqlite")]) == 2


def test_empty_report_says_how_to_fill_it() -> None:
    assert "unlearn-bench run planted-quickstart" in render_report([], "md")


def test_schema_command_writes_every_schema(tmp_path: Path) -> None:
    assert cli.main(["schema", "--out", str(tmp_path)]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert "benchmark-spec.schema.json" in names and "run-report.schema.json" in names


def test_run_checks_the_spec_once_and_notes_a_blown_quick_budget(
    fake_plugins: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    calls: list[str] = []

    def counting_check(parsed: ParsedSpec[ToyWorld, None, object]) -> None:
        calls.append(parsed.benchmark)
        _toy_check(parsed)

    # A budget no run can meet, and one every run meets.
    for budget, expect_note in ((1e-9, True), (1e9, False)):
        calls.clear()
        toy = dataclasses.replace(TOY, check=counting_check, quick_budget_s=budget)
        monkeypatch.setattr(cli, "load_benchmark", lambda name, toy=toy: (toy, "toy-package"))
        out = tmp_path / str(budget)
        assert cli.main(["run", "toy", "--out", str(out), "--quiet"]) == 0
        assert calls == ["toy"]
        notes = json.loads(next((out / "toy").glob("*.json")).read_text())["result"]["notes"]
        assert any("over the benchmark's budget" in n for n in notes) == expect_note


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {"methods": [{"name": "no-such-method"}]},
            "methods[0].name: unknown method 'no-such-method'",
        ),
        ({"methods": [{"name": "ascent", "params": {"stepz": 2}}]}, "methods[0].params.stepz"),
        ({"metrics": ["no-such-metric"]}, "metrics: unknown metric 'no-such-metric'"),
        ({"world": {"name": "toy", "params": {"width": -5}}}, "world.params.width"),
        ({"world": {"name": "elsewhere"}}, "world.name: unknown world 'elsewhere'"),
        ({"model": {"name": "tiny", "params": {"width": -5}}}, "model: toy takes no model"),
        ({"params": {"knob": 1}}, "params.knob"),
        ({"seeds": [0, 1]}, "seeds: toy takes at most 1 seed"),
        ({"requests": [{"kind": "text", "samples": [{"text": "x"}]}]}, "requests[0].kind"),
    ],
)
def test_validate_exits_2_naming_each_field_the_benchmark_does_not_read(
    fake_plugins: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    change: dict[str, Any],
    field: str,
) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"benchmark": "toy", **change}))
    assert cli.main(["validate", str(spec)]) == 2
    assert field in capsys.readouterr().err


def test_left_out_parts_take_the_default_and_metrics_select(
    fake_plugins: None, tmp_path: Path
) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "benchmark: toy\nmetrics: [loss]\nmethods: [{name: ascent, params: {steps: 2}}]\n"
    )
    assert cli.main(["run", str(spec), "--out", str(tmp_path), "--quiet"]) == 0
    data = json.loads(next((tmp_path / "toy").glob("*.json")).read_text())
    # The toy reports only "accuracy": selecting "loss" keeps nothing, and the
    # method's typed params reached the recipe through the registry.
    assert data["result"]["metrics"] == []
    assert "method values [2.5]" in data["result"]["notes"]


# --- show, --set, --dry-run, validate NAME -------------------------------------------


def test_show_prints_a_spec_that_validate_accepts(
    fake_plugins: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["show", "toy", "--size", "full"]) == 0
    text = capsys.readouterr().out
    data = yaml.safe_load(text)
    assert data["benchmark"] == "toy" and data["size"] == "full"
    spec = tmp_path / "shown.yaml"
    spec.write_text(text)
    assert cli.main(["validate", str(spec)]) == 0


def test_validate_takes_a_benchmark_name(
    fake_plugins: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["validate", "toy"]) == 0
    assert "default quick spec is a valid spec for benchmark toy" in capsys.readouterr().out


def test_set_overrides_are_validated_like_a_file(
    fake_plugins: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["run", "toy", "--out", str(tmp_path), "--quiet"]
    assert cli.main([*args, "--set", "world.params.n=5", "--set", "methods=ascent"]) == 0
    data = json.loads(next((tmp_path / "toy").glob("*.json")).read_text())
    assert data["spec"]["world"]["params"] == {"n": 5}
    assert data["spec"]["methods"] == [{"name": "ascent", "params": {}}]
    assert cli.main([*args, "--set", "world.params.n=-2"]) == 2
    assert "world.params.n must be a positive integer, got -2" in capsys.readouterr().err
    assert cli.main([*args, "--set", "methods=ascent,nope"]) == 2
    assert "methods[1].name: unknown method 'nope'" in capsys.readouterr().err
    assert cli.main([*args, "--set", "world.params"]) == 2
    assert "expected path=value" in capsys.readouterr().err
    assert cli.main([*args, "--set", "methods[0].params.steps=4"]) == 0
    assert cli.main([*args, "--set", "methods[3].params.steps=4"]) == 2
    assert "no item [3]" in capsys.readouterr().err


def test_set_fills_a_part_a_file_left_out_from_the_default(
    fake_plugins: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("benchmark: toy\n")
    assert cli.main(["run", str(spec), "--set", "world.params.n=9", "--dry-run"]) == 0
    out = capsys.readouterr().out
    resolved = yaml.safe_load(out.split("---")[0])
    assert resolved["world"] == {"name": "toy", "params": {"n": 9}}


def test_dry_run_prints_the_plan_and_writes_nothing(
    fake_plugins: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = cli.main(
        ["run", "toy", "--out", str(out), "--dry-run", "--set", "methods[0].params.steps=3"]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "benchmark: toy (toy-package), size quick, seeds [0]" in text
    assert '  - ascent {"steps": 3}' in text and "would write" in text
    assert not out.exists()


# --- bad input: one line, exit 2, nothing written -------------------------------------


def test_spec_file_errors_name_the_file(
    fake_plugins: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = tmp_path / "specs"
    folder.mkdir()
    assert cli.main(["validate", str(folder)]) == 2
    assert "is a folder, not a spec file" in capsys.readouterr().err
    binary = tmp_path / "spec.yaml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    assert cli.main(["validate", str(binary)]) == 2
    assert "is not a UTF-8 text file" in capsys.readouterr().err
    plain = tmp_path / "myspec"  # no suffix, but an existing file: read as a spec
    plain.write_text("benchmark: toy\nseeds: [-1]\n")
    assert cli.main(["validate", str(plain)]) == 2
    assert "seeds[0]" in capsys.readouterr().err

    def denied(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", denied)
    assert cli.main(["validate", str(plain)]) == 2
    assert f"cannot read the spec file {plain}: permission denied" in capsys.readouterr().err


def test_negative_seed_is_refused_before_anything_is_written(
    fake_plugins: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert cli.main(["run", "toy", "--seed", "-1", "--out", str(out)]) == 2
    assert "seeds[0]: Input should be greater than or equal to 0" in capsys.readouterr().err
    assert not out.exists()


def test_a_corrupt_store_is_refused_before_the_run_and_in_report(
    fake_plugins: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "results.sqlite"
    store.write_bytes(b"this is not a database" * 100)
    assert cli.main(["run", "toy", "--out", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"the results store {store} is not a usable SQLite store" in err
    assert not (tmp_path / "toy").exists()
    assert cli.main(["report", "--store", str(store)]) == 2
    assert "not a usable SQLite store" in capsys.readouterr().err


def test_a_store_that_fails_after_the_run_is_reported_as_a_store_failure(
    fake_plugins: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from unlearn_bench.store import StoreError

    def refuse(self: ResultsStore, report: object) -> None:
        raise StoreError(f"cannot write to the results store {self.path}: disk I/O error")

    monkeypatch.setattr(ResultsStore, "append", refuse)
    assert cli.main(["run", "toy", "--out", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "the run finished and its report is at" in err and "disk I/O error" in err
    assert "benchmark toy failed" not in err


@pytest.mark.parametrize(
    ("signal_error", "code"), [(KeyboardInterrupt, 130), (cli.Terminated, 143)]
)
def test_interrupts_remove_the_staging_folder(
    fake_plugins: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    signal_error: type[BaseException],
    code: int,
) -> None:
    import dataclasses

    def interrupted(parsed: object, progress: object, out_dir: str) -> BenchmarkResult:
        (Path(out_dir) / "half.bin").write_bytes(b"x")
        raise signal_error

    toy = dataclasses.replace(TOY, run=interrupted)
    monkeypatch.setattr(cli, "load_benchmark", lambda name: (toy, "toy-package"))
    assert cli.main(["run", "toy", "--out", str(tmp_path), "--quiet"]) == code
    assert "nothing half-written is left behind" in capsys.readouterr().err
    assert [p for p in _files(tmp_path) if p.is_file()] == []


def test_sigterm_becomes_terminated_inside_a_run() -> None:
    import os
    import signal

    with pytest.raises(cli.Terminated), cli._terminate_as_exception():
        os.kill(os.getpid(), signal.SIGTERM)
        signal.sigtimedwait([], 1)  # let the handler run
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_stale_staging_folders_of_dead_runs_are_removed(fake_plugins: None, tmp_path: Path) -> None:
    import os

    from unlearn_bench.runner import remove_stale_staging

    bench = tmp_path / "toy"
    dead = bench / ".staging-20260101T000000-abcd-pid999999999"
    alive = bench / f".staging-20260101T000000-ef01-pid{os.getpid()}"
    for folder in (dead, alive):
        folder.mkdir(parents=True)
        (folder / "part").write_text("x")
    assert remove_stale_staging(bench) == [dead]
    assert alive.exists() and not dead.exists()
    assert cli.main(["run", "toy", "--out", str(tmp_path), "--quiet"]) == 0
    assert alive.exists()


def test_reports_are_written_with_the_users_umask(fake_plugins: None, tmp_path: Path) -> None:
    import os

    previous = os.umask(0o022)
    try:
        assert cli.main(["run", "toy", "--out", str(tmp_path), "--quiet"]) == 0
        assert cli.main(["report", "--store", str(tmp_path / "results.sqlite")]) == 0
    finally:
        os.umask(previous)
    report = next((tmp_path / "toy").glob("*.json"))
    assert report.stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "report.md").stat().st_mode & 0o777 == 0o644


def test_help_shows_an_example_per_verb(capsys: pytest.CaptureFixture[str]) -> None:
    for verb in ("list", "show", "validate", "run", "report", "schema"):
        with pytest.raises(SystemExit):
            cli.main([verb, "--help"])
        assert f"examples:\n  unlearn-bench {verb}" in capsys.readouterr().out


# --- fuzz: random specs and arguments end in exit 0 or 2, never a traceback ------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 10**12),
    st.floats(allow_nan=True),
    st.text(max_size=8),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
_SPEC_KEYS = st.sampled_from(
    [
        "benchmark",
        "size",
        "seeds",
        "world",
        "model",
        "methods",
        "metrics",
        "params",
        "requests",
        "x",
    ]
)
_SPECS = st.dictionaries(_SPEC_KEYS, _VALUES, max_size=6).map(
    lambda d: {"benchmark": "toy", **d} if "benchmark" not in d else d
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=_SPECS, as_json=st.booleans())
def test_fuzzed_spec_files_exit_0_or_2(
    fake_plugins: None, tmp_path: Path, data: dict[str, Any], as_json: bool
) -> None:
    path = tmp_path / ("spec.json" if as_json else "spec.yaml")
    try:
        path.write_text(json.dumps(data) if as_json else yaml.safe_dump(data))
    except ValueError:  # NaN in strict JSON: write it the way YAML would
        path.write_text(yaml.safe_dump(data))
    assert cli.main(["validate", str(path)]) in (0, 2)
    assert cli.main(["run", str(path), "--dry-run", "--out", str(tmp_path / "o")]) in (0, 2)
    assert not (tmp_path / "o").exists()


_ARGS = st.lists(
    st.one_of(
        st.sampled_from(["--set", "--seed", "--size", "toy", "quick", "full", "methods=ascent"]),
        st.text(alphabet="abcdeimnorstwx.[]=,-0123456789{}: ", max_size=24),
    ),
    max_size=6,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(verb=st.sampled_from(["validate", "run"]), extra=_ARGS)
def test_fuzzed_arguments_exit_0_or_2(
    fake_plugins: None, tmp_path: Path, verb: str, extra: list[str]
) -> None:
    argv = [verb, "toy", *extra] + (
        ["--dry-run", "--out", str(tmp_path / "o")] if verb == "run" else []
    )
    try:
        code = cli.main(argv)
    except SystemExit as exit_:  # argparse's own usage errors exit 2
        code = int(exit_.code or 0)
    assert code in (0, 2)
    assert not (tmp_path / "o").exists()


def test_reconcile_adopts_orphan_reports_and_removes_leftovers(
    fake_plugins: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import os
    import time

    assert cli.main(["run", "toy", "--out", str(tmp_path), "--quiet"]) == 0
    store = ResultsStore(tmp_path / "results.sqlite")
    (first,) = store.reports()
    # What kills leave: a report whose row never made it, a half-renamed artifacts
    # folder without its report, a dead process's temp file and staging folder.
    orphan = first.model_copy(update={"run_id": "20260101T000000-deadbeef"})
    (tmp_path / "toy" / f"{orphan.run_id}.json").write_text(orphan.model_dump_json())
    stray = tmp_path / "toy" / "20260101T000001-0badf00d"
    stray.mkdir()
    old = time.time() - 3600
    os.utime(stray, (old, old))
    temp = tmp_path / "toy" / ".x.json.pid999999999.abc.tmp"
    temp.write_text("half")
    (tmp_path / "toy" / ".staging-x-pid999999999").mkdir()
    (tmp_path / "toy" / "broken.json").write_text("{not json")
    assert cli.main(["run", "toy", "--out", str(tmp_path), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "stored 1 report(s) a killed run had left unstored" in out
    assert "removed 3 leftover(s)" in out and "set aside 1 unreadable" in out
    ids = store.run_ids()
    assert orphan.run_id in ids and len(ids) == 3
    assert not stray.exists() and not temp.exists()
    assert (tmp_path / "toy" / "broken.json.unreadable").exists()
    # appending a stored report again changes nothing
    store.append(orphan)
    assert len(store.run_ids()) == 3
