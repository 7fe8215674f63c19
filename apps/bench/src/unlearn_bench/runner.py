"""Run one benchmark and record it: report JSON (atomic) plus a row in the results store."""

from __future__ import annotations

import os
import platform
import re
import shutil
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, distribution, version
from pathlib import Path
from typing import Any

from unlearn_schema import (
    Benchmark,
    BenchmarkSpec,
    Hardware,
    NullProgress,
    ParsedSpec,
    Progress,
    RunReport,
    atomic_write_text,
)

from unlearn_bench.store import ResultsStore, StoreError


class StoreWriteError(RuntimeError):
    """The run finished and its report was written, but the results store refused it."""


_STAGING = re.compile(r"^\.staging-.+?(?:-pid(?P<pid>\d+))?$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_staging(bench_dir: Path) -> list[Path]:
    """Remove staging folders left by killed runs (their process is gone); return them."""
    removed: list[Path] = []
    if not bench_dir.is_dir():
        return removed
    for folder in bench_dir.iterdir():
        match = _STAGING.match(folder.name)
        if match is None or not folder.is_dir():
            continue
        pid = match.group("pid")
        if pid is None or not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


_ALWAYS_RECORDED = ("unlearn-schema", "unlearn-bench", "numpy", "scipy", "torch", "pydantic")


def _requirement_name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    return match.group(0) if match else requirement


def package_versions(package: str) -> dict[str, str]:
    """Versions of the benchmark's distribution, its direct requirements and key libraries."""
    names = {package, *_ALWAYS_RECORDED}
    try:
        for requirement in distribution(package).requires or []:
            if "extra ==" not in requirement:
                names.add(_requirement_name(requirement))
    except PackageNotFoundError:
        pass
    versions = {"python": platform.python_version()}
    for name in sorted(names):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            continue
    return versions


def _memory_gib() -> float | None:
    try:
        pages = os.sysconf("SC_PHYS_PAGES")
        page_size = os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
    return round(pages * page_size / 2**30, 1)


def _accelerator() -> str | None:
    # Only ask torch if the benchmark already imported it: the runner itself never
    # imports torch, so a graph-algos run stays torch-free.
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        return str(torch.cuda.get_device_name(0))
    return None


def hardware() -> Hardware:
    """Describe this machine."""
    return Hardware(
        platform=platform.platform(),
        machine=platform.machine(),
        processor=platform.processor() or platform.machine(),
        cpu_count=os.cpu_count() or 1,
        memory_gib=_memory_gib(),
        python=sys.version.split()[0],
        accelerator=_accelerator(),
    )


_TEMP = re.compile(r"^\..+\.pid(?P<pid>\d+)\..*\.tmp$")
_ORPHAN_GRACE_S = 60.0


@dataclass
class Reconciliation:
    """What `reconcile` found and mended in an output folder."""

    adopted: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)
    unreadable: list[Path] = field(default_factory=list)

    def summary(self) -> str | None:
        parts = []
        if self.adopted:
            parts.append(f"stored {len(self.adopted)} report(s) a killed run had left unstored")
        if self.removed:
            parts.append(f"removed {len(self.removed)} leftover(s) of killed runs")
        if self.unreadable:
            names = ", ".join(str(p) for p in self.unreadable)
            parts.append(f"set aside {len(self.unreadable)} unreadable report(s): {names}")
        return "; ".join(parts) or None


def reconcile(out_dir: str | Path, store: ResultsStore | None) -> Reconciliation:
    """Mend what killed runs left in ``out_dir``, before a new run writes there.

    A run writes its artifacts folder, then its report JSON (atomically), then its
    store row; a kill can stop it between any two. So: a report without a store row is
    adopted into ``store``; an artifacts folder without a report, a staging folder or a
    temporary file whose process is gone is removed. Folders younger than a minute are
    left alone, since a run in another process may be between two steps.
    """
    found = Reconciliation()
    root = Path(out_dir)
    if not root.is_dir():
        return found
    stored = store.run_ids() if store is not None else set()
    now = time.time()
    for bench_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        found.removed.extend(remove_stale_staging(bench_dir))
        for path in sorted(bench_dir.iterdir()):
            temp = _TEMP.match(path.name)
            if temp is not None and path.is_file() and not _alive(int(temp.group("pid"))):
                path.unlink(missing_ok=True)
                found.removed.append(path)
            elif path.suffix == ".json" and path.is_file() and store is not None:
                if path.stem in stored:
                    continue
                try:
                    report = RunReport.model_validate_json(path.read_text(encoding="utf-8"))
                except (ValueError, OSError):
                    aside = path.with_suffix(".json.unreadable")
                    path.rename(aside)
                    found.unreadable.append(aside)
                    continue
                store.append(report)
                stored.add(report.run_id)
                found.adopted.append(path)
            elif (
                path.is_dir()
                and not path.name.startswith(".")
                and path.name not in stored
                and not path.with_suffix(".json").exists()
                and not (bench_dir / f"{path.name}.json").exists()
                and now - path.stat().st_mtime > _ORPHAN_GRACE_S
            ):
                shutil.rmtree(path, ignore_errors=True)
                found.removed.append(path)
    return found


def run_benchmark(
    benchmark: Benchmark[Any, Any, Any],
    package: str,
    spec: BenchmarkSpec | ParsedSpec[Any, Any, Any],
    out_dir: str | Path,
    store: ResultsStore | None = None,
    progress: Progress | None = None,
    *,
    run_id: str | None = None,
) -> tuple[RunReport, Path]:
    """Run ``benchmark`` on ``spec``; write ``<out>/<benchmark>/<run_id>.json`` and store it.

    ``spec`` is parsed against the benchmark's declaration unless it already is a
    `ParsedSpec` (the CLI parses once, before anything is written). Artifacts go
    to ``<out>/<benchmark>/<run_id>/``. The folder is filled under a temporary name and
    renamed only when the run succeeds, so a failed run leaves neither a report nor half
    an artifact folder behind. Only the metrics the spec selects are kept. A quick run
    slower than the benchmark's ``quick_budget_s`` gets a note saying so. A sweep passes
    its cell's ``run_id`` (derived from the cell's spec), so that a rerun cannot store a
    cell twice.
    """
    parsed = spec if isinstance(spec, ParsedSpec) else benchmark.parse(spec)
    spec = parsed.spec
    run_id = run_id or datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    bench_dir = Path(out_dir) / spec.benchmark
    mended = reconcile(out_dir, store)
    staging = bench_dir / f".staging-{run_id}-pid{os.getpid()}"
    final_artifacts = bench_dir / run_id
    staging.mkdir(parents=True)
    started_at = datetime.now(UTC)
    start = time.perf_counter()
    try:
        result = benchmark.select_metrics(
            parsed, benchmark.run(parsed, progress or NullProgress(), str(staging))
        )
        wall = time.perf_counter() - start
        if any(staging.iterdir()):
            staging.rename(final_artifacts)
            result = result.model_copy(
                update={
                    "artifacts": {
                        key: str(final_artifacts / Path(path).relative_to(staging))
                        if Path(path).is_relative_to(staging)
                        else path
                        for key, path in result.artifacts.items()
                    }
                }
            )
        else:
            staging.rmdir()
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if mended.summary() is not None:
        result = result.model_copy(
            update={"notes": [*result.notes, f"before this run: {mended.summary()}"]}
        )
    budget = benchmark.quick_budget_s
    if spec.size == "quick" and budget is not None and wall > budget:
        note = (
            f"this quick run took {wall:.0f} s, over the benchmark's budget of {budget:.0f} s "
            "(set for 2 idle cores): a loaded machine, or a slowdown worth a look"
        )
        result = result.model_copy(update={"notes": [*result.notes, note]})
    report = RunReport(
        run_id=run_id,
        benchmark=spec.benchmark,
        package=package,
        spec=spec,
        seed=spec.seeds[0],
        started_at=started_at,
        wall_time_s=wall,
        result=result,
        package_versions=package_versions(package),
        hardware=hardware(),
    )
    report_path = bench_dir / f"{run_id}.json"
    atomic_write_text(report_path, report.model_dump_json(indent=2) + "\n")
    if store is not None:
        try:
            store.append(report)
        except StoreError as error:
            raise StoreWriteError(
                f"the run finished and its report is at {report_path}, but {error}"
            ) from None
    return report, report_path
