"""``unlearn-bench sweep``: one benchmark spec run over a grid, one benchmark run per cell.

The whole sweep is checked before anything runs: every cell's spec is built with the
``--set`` path rules and parsed against the benchmark's declaration. Cells then run on
a backend (`sweep_backends`: in this process, or one Ray task each); the driver alone
writes the results store, one cell at a time as each finishes, so a crash loses only
the cells in flight. A cell's run id is derived from its resolved spec, so rerunning
the same sweep skips the cells already stored and a killed sweep, resumed, stores no
cell twice. A cell that raises is recorded with its error and the others go on.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import shutil
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import JsonValue
from unlearn_schema import (
    Benchmark,
    BenchmarkSpec,
    Progress,
    RunReport,
    SpecError,
    SweepSpec,
    validate_or_raise,
)

from unlearn_bench.discovery import load_benchmark
from unlearn_bench.overrides import OverrideError, set_value
from unlearn_bench.store import ResultsStore
from unlearn_bench.sweep_backends import Backend
from unlearn_bench.sweep_store import SweepCellStore


def display_value(value: JsonValue) -> str:
    """A grid value as a short label: a method config shows its name (and params)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float):
        return f"{value:g}"
    if isinstance(value, dict) and isinstance(value.get("name"), str):
        # A method config: its name, and which params it sets (npo(projection)).
        params = value.get("params")
        keys = ",".join(params) if isinstance(params, dict) else ""
        return f"{value['name']}({keys})" if keys else str(value["name"])
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class Cell:
    """One grid cell: the values it sets and the resolved spec its run records."""

    position: int
    values: dict[str, JsonValue]
    spec: BenchmarkSpec
    key: str
    run_id: str

    def labels(self) -> dict[str, str]:
        """Grid path -> the value's label."""
        return {path: display_value(value) for path, value in self.values.items()}

    def label(self) -> str:
        """``path=value, ...`` for progress lines and errors."""
        return ", ".join(f"{path}={text}" for path, text in self.labels().items())


@dataclass
class SweepPlan:
    """A checked sweep: its benchmark and every distinct cell, in grid order."""

    sweep: SweepSpec
    benchmark: Benchmark[Any, Any, Any]
    package: str
    cells: list[Cell]
    merged: int = 0  # cells that resolved to the same spec as an earlier one


def spec_key(spec: BenchmarkSpec, code: dict[str, str] | None = None) -> str:
    """sha256 of the resolved spec's canonical JSON and ``code``: the cell's identity.

    ``code`` (from `code_identity`) holds the library versions and a digest of the
    benchmark package's source, so a stored cell is rerun after either changes.
    """
    data: Any = spec.model_dump(mode="json")
    if code is not None:
        data = {"spec": data, "code": code}
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def code_identity(benchmark: Benchmark[Any, Any, Any], package: str) -> dict[str, str]:
    """Versions of ``package`` and its requirements, and a sha256 of its module's source.

    The source digest covers every ``.py`` file of the benchmark's top-level module, so
    an edited checkout (whose version number stays the same) gets new cell keys.
    """
    import importlib.util

    from unlearn_bench.runner import package_versions

    identity = dict(package_versions(package))
    top = str(getattr(benchmark.run, "__module__", None) or package).split(".")[0]
    found = importlib.util.find_spec(top)
    digest = hashlib.sha256()
    for folder in (found.submodule_search_locations or []) if found else []:
        for path in sorted(Path(folder).rglob("*.py")):
            digest.update(str(path.relative_to(folder)).encode("utf-8"))
            digest.update(path.read_bytes())
    identity["source"] = f"{top}:{digest.hexdigest()[:16]}"
    return identity


def cell_run_id(sweep: str, key: str) -> str:
    """The run id a cell's report is stored under: the same on every rerun."""
    return f"{sweep}-{key[:16]}"


def shipped_sweeps() -> dict[str, Path]:
    """The sweeps this app ships (``unlearn_bench/sweeps/*.yaml``), by name."""
    folder = Path(__file__).with_name("sweeps")
    return {path.stem: path for path in sorted(folder.glob("*.yaml"))}


def read_sweep(target: str) -> SweepSpec:
    """Read and validate a sweep file (YAML or JSON) or a shipped sweep by name.

    `SpecError` names a bad field.
    """
    from unlearn_bench.cli import InputError, _read_spec_data

    path = Path(target)
    shipped = shipped_sweeps()
    if not path.exists() and target in shipped:
        path = shipped[target]
    elif not path.exists() and "/" not in target and not target.endswith((".yaml", ".json")):
        raise InputError(
            f"no sweep file {target!r} and no shipped sweep of that name; shipped: "
            + ", ".join(shipped)
        )
    data = _read_spec_data(path)
    if "benchmark" in data and "spec" not in data:
        raise InputError(
            f"{path} is a benchmark spec, not a sweep: a sweep has 'sweep', 'spec' and "
            "'grid' (see docs/recipes/sweeps.md); run a spec with unlearn-bench run"
        )
    return validate_or_raise(SweepSpec, data, str(path))


def plan_sweep(sweep: SweepSpec, source: str) -> SweepPlan:
    """Build and parse every cell's spec; one `SpecError` listing every problem.

    A problem shared by several cells (a grid path the benchmark does not read) is
    one line, with how many cells it hit and the first of them.
    """
    benchmark, package = load_benchmark(str(sweep.spec["benchmark"]))
    code = code_identity(benchmark, package)
    base: dict[str, Any] = dict(sweep.spec)
    problems: dict[str, list[str]] = {}
    cells: list[Cell] = []
    seen: set[str] = set()
    total = merged = 0
    for axes in sweep.grid:
        paths = list(axes)
        for combination in itertools.product(*axes.values()):
            total += 1
            values = dict(zip(paths, combination, strict=True))
            shown = ", ".join(f"{p}={display_value(v)}" for p, v in values.items())
            try:
                data = base
                if "size" in values:  # the defaults below are those of the cell's size
                    data = {**data, "size": values["size"]}
                default = benchmark.default_spec(data.get("size", "quick")).model_dump(mode="json")
                for path, value in values.items():
                    data = set_value(data, path, value, default)
                # Every part spelled out (a part the sweep leaves out is the default's,
                # as in a spec file): the key covers all of it, and the worker's copy
                # parses to the same spec.
                data = {**default, **data}
                spec = benchmark.parse(validate_or_raise(BenchmarkSpec, data, source)).spec
            except SpecError as error:
                for problem in error.problems:
                    problems.setdefault(problem, []).append(shown)
                continue
            except OverrideError as error:
                problems.setdefault(str(error).replace("--set ", "grid "), []).append(shown)
                continue
            key = spec_key(spec, code)
            if key in seen:
                merged += 1
                continue
            seen.add(key)
            cells.append(Cell(len(cells), values, spec, key, cell_run_id(sweep.sweep, key)))
    if problems:
        lines = []
        for problem, where in problems.items():
            share = "every cell" if len(where) == total else f"{len(where)} of {total} cells"
            lines.append(f"{problem} ({share}, e.g. {where[0]})")
        raise SpecError(lines, f"the grid of {source}")
    return SweepPlan(sweep, benchmark, package, cells, merged)


@dataclass(frozen=True)
class CellOutcome:
    """What a worker sends back for one cell: its report, or the error that stopped it."""

    run_id: str
    report_json: str | None
    error: str | None
    wall_s: float


def run_cell(spec_json: str, run_id: str, out_dir: str) -> CellOutcome:
    """Run one cell (in a Ray worker or in this process); never raises for the cell.

    The report JSON is written to ``<out>/<benchmark>/<run_id>.json`` as by
    `unlearn-bench run`, but not stored: the driver stores what this returns.
    """
    from unlearn_bench.runner import run_benchmark

    start = time.perf_counter()
    try:
        spec = BenchmarkSpec.model_validate_json(spec_json)
        benchmark, package = load_benchmark(spec.benchmark)
        left = Path(out_dir) / spec.benchmark / run_id
        if left.is_dir() and not left.with_suffix(".json").exists():
            shutil.rmtree(left)  # artifacts of this cell from a killed attempt
        report, _ = run_benchmark(benchmark, package, spec, out_dir, None, None, run_id=run_id)
    except Exception as error:
        frames = traceback.format_exception(error)
        where = frames[-2].strip().splitlines()[0] if len(frames) > 1 else ""
        message = f"{type(error).__name__}: {error}" + (f" [{where}]" if where else "")
        return CellOutcome(run_id, None, message, time.perf_counter() - start)
    return CellOutcome(run_id, report.model_dump_json(), None, time.perf_counter() - start)


@dataclass
class SweepSummary:
    """How a sweep went: cells stored before, run now, failed (with errors)."""

    sweep: str
    cells: int
    stored_before: int = 0
    ran: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # cell label -> error
    wall_s: float = 0.0


def run_sweep(
    plan: SweepPlan,
    out_dir: Path,
    store: ResultsStore,
    backend: Backend,
    progress: Progress,
) -> SweepSummary:
    """Run every cell of ``plan`` not yet in ``store``; store each as it finishes.

    The caller starts and stops the backend (a Ray instance outlives one sweep).
    """
    from unlearn_bench.runner import reconcile

    start = time.perf_counter()
    name = plan.sweep.sweep
    summary = SweepSummary(name, len(plan.cells))
    # Reports a killed sweep's workers wrote but its driver did not store yet.
    reconcile(out_dir, store)
    cell_store = SweepCellStore(store.path)
    cell_store.begin(
        plan.sweep,
        plan.benchmark.name,
        [(cell.key, cell.position, json.dumps(cell.labels()), cell.run_id) for cell in plan.cells],
    )
    stored = store.run_ids()
    todo = [cell for cell in plan.cells if cell.run_id not in stored]
    for cell in plan.cells:
        if cell.run_id in stored:
            cell_store.record(name, cell.key, "ok")
    summary.stored_before = len(plan.cells) - len(todo)
    progress.start(len(plan.cells), f"{name}: cells")
    if summary.stored_before:
        progress.advance(summary.stored_before, f"{summary.stored_before} stored before")
    calls = [(cell.spec.model_dump_json(), cell.run_id, str(out_dir)) for cell in todo]
    for index, result in backend.map_unordered(run_cell, calls):
        cell = todo[index]
        if isinstance(result, CellOutcome) and result.error is None:
            assert result.report_json is not None
            store.append(RunReport.model_validate_json(result.report_json))
            cell_store.record(name, cell.key, "ok")
            status = f"{cell.label()} ok ({result.wall_s:.1f} s)"
        else:
            error = result.error if isinstance(result, CellOutcome) else repr(result)
            summary.failed[cell.label()] = str(error)
            cell_store.record(name, cell.key, "failed", str(error))
            status = f"{cell.label()} FAILED"
        summary.ran += 1
        progress.advance(1, status)
    summary.wall_s = time.perf_counter() - start
    return summary


def describe_plan(plan: SweepPlan, stored: set[str], failed: set[str]) -> str:
    """The dry-run listing: every cell, whether it is stored (or failed last time)."""
    lines = [
        f"sweep {plan.sweep.sweep}: {len(plan.cells)} cells of {plan.benchmark.name} "
        f"({plan.package})" + (f", {plan.merged} identical cells merged" if plan.merged else "")
    ]
    for cell in plan.cells:
        state = (
            "stored" if cell.run_id in stored else "failed" if cell.run_id in failed else "to run"
        )
        lines.append(f"  {cell.position:>3}  {state:6}  {cell.run_id}  {cell.label()}")
    return "\n".join(lines)
