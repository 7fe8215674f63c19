"""``unlearn-bench``: list, show, validate, run, sweep and report benchmarks; export JSON Schemas.

Exit codes: 0 success, 1 a benchmark failed while running, 2 bad input or an unusable
place to write (unknown benchmark, invalid spec, unreadable file, a store or folder
that is corrupt, read-only or full), 130/143 when interrupted by SIGINT/SIGTERM. Bad
input is rejected before anything is written.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from unlearn_schema import (
    SIZES,
    Benchmark,
    BenchmarkSpec,
    ParsedSpec,
    Size,
    SpecError,
    Table,
    UnreadableFileError,
    atomic_write_text,
    validate_or_raise,
)

from unlearn_bench import __version__
from unlearn_bench.discovery import UnknownBenchmarkError, installed_parts, load_benchmark
from unlearn_bench.overrides import OverrideError, apply_overrides
from unlearn_bench.store import ResultsStore, StoreError

DEFAULT_OUT = "runs"
STORE_NAME = "results.sqlite"
SPEC_SUFFIXES = (".yaml", ".yml", ".json")


class InputError(Exception):
    """Bad input from the user: reported on stderr with exit status 2."""


class Terminated(BaseException):
    """SIGTERM arrived; raised in the main thread so that clean-up runs."""


def _read_spec_data(path: Path) -> dict[str, Any]:
    import yaml

    if path.is_dir():
        raise InputError(f"{path} is a folder, not a spec file (.yaml, .yml or .json)")
    if not path.exists():
        raise InputError(f"spec file not found: {path}")
    try:
        text = path.read_bytes().decode("utf-8")
    except PermissionError:
        raise InputError(f"cannot read the spec file {path}: permission denied") from None
    except UnicodeDecodeError as error:
        raise InputError(
            f"{path} is not a UTF-8 text file (byte {error.start}); a spec is YAML or JSON"
        ) from None
    except OSError as error:
        raise InputError(f"cannot read the spec file {path}: {error.strerror}") from None
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise InputError(f"{path} is not valid YAML/JSON: {error}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path} must hold a mapping of spec fields, got {type(data).__name__}")
    return data


def _is_spec_file(target: str) -> bool:
    return target.endswith(SPEC_SUFFIXES) or "/" in target or Path(target).exists()


def _resolve(
    target: str,
    size: Size | None,
    seed: int | None,
    overrides: Sequence[str] = (),
) -> tuple[Benchmark[Any, Any, Any], str, ParsedSpec[Any, Any, Any]]:
    """The benchmark, its package and the parsed spec that ``run``/``validate`` act on.

    ``target`` is a benchmark name (its default spec) or a spec file; ``size``, ``seed``
    and the ``--set`` overrides are applied to the spec's data, which is then checked
    once against the benchmark's declaration.
    """
    source: str | None = None
    if _is_spec_file(target):
        source = target
        data = _read_spec_data(Path(target))
        first = validate_or_raise(BenchmarkSpec, data, source)
        benchmark, package = load_benchmark(first.benchmark)
    else:
        benchmark, package = load_benchmark(target)
        data = benchmark.default_spec(size or "quick").model_dump(mode="json")
    if size is not None:
        data["size"] = size
    if seed is not None:
        data["seeds"] = [seed]
    if overrides:
        default = benchmark.default_spec(data.get("size", "quick")).model_dump(mode="json")
        try:
            data = apply_overrides(data, list(overrides), default)
        except OverrideError as error:
            raise InputError(str(error)) from None
    spec = validate_or_raise(BenchmarkSpec, data, source)
    try:
        parsed = benchmark.parse(spec)
    except SpecError as error:
        raise SpecError(error.problems, source or f"the spec of {spec.benchmark}") from None
    return benchmark, package, parsed


def _spec_yaml(spec: BenchmarkSpec) -> str:
    import yaml

    text: str = yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False)
    return text


def _cmd_list(args: argparse.Namespace) -> int:
    parts = installed_parts()
    if args.json:
        print(json.dumps([vars(p) for p in parts], indent=2))
        return 0
    if not parts:
        print("No unlearning packages installed (install e.g. graph-algos or unlearn-graph).")
        return 0
    for part in parts:
        print(f"{part.package} {part.version}")
        for kind in ("benchmarks", "methods", "attacks", "metrics"):
            records = getattr(part, kind)
            if not records:
                continue
            print(f"  {kind}:")
            width = max(len(r["name"]) for r in records)
            for record in records:
                paper = f" [{record['paper']}]" if record.get("paper") else ""
                speed = " (speed)" if record.get("kind") == "speed" else ""
                print(f"    {record['name']:{width}}  {record['summary']}{speed}{paper}")
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    _, _, parsed = _resolve(args.name, args.size, None, args.set or ())
    sys.stdout.write(_spec_yaml(parsed.spec))
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    _, package, parsed = _resolve(args.target, args.size, args.seed, args.set or ())
    what = args.target if _is_spec_file(args.target) else f"the default {parsed.size} spec"
    print(f"ok: {what} is a valid spec for benchmark {parsed.benchmark} ({package})")
    return 0


class _TqdmProgress:
    """Progress bar on stderr (plain lines when not a terminal)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: Any = None

    def start(self, total: int, description: str) -> None:
        from tqdm import tqdm

        self.close()
        self.bar = tqdm(
            total=total,
            desc=description,
            disable=not self.enabled,
            mininterval=0.5,
            file=sys.stderr,
            dynamic_ncols=True,
        )

    def advance(self, steps: int = 1, status: str | None = None) -> None:
        if self.bar is None:
            return
        if status:
            self.bar.set_postfix_str(status, refresh=False)
        self.bar.update(steps)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _plan(parsed: ParsedSpec[Any, Any, Any], package: str, out: Path, store: Path) -> str:
    lines = [
        f"benchmark: {parsed.benchmark} ({package}), size {parsed.size}, seeds {parsed.seeds}",
        f"world:     {parsed.world_name or '-'}",
        f"model:     {parsed.model_name or '-'}"
        + (f" from {parsed.checkpoint}" if parsed.checkpoint else ""),
    ]
    if parsed.methods:
        lines.append(f"methods:   {len(parsed.methods)} per seed")
        for method in parsed.methods:
            changed = method.params.model_dump(exclude_defaults=True, mode="json")
            lines.append(f"  - {method.name} {json.dumps(changed) if changed else '(defaults)'}")
    if parsed.metrics is not None:
        lines.append(f"metrics:   only {', '.join(sorted(parsed.metrics))}")
    lines.append(f"would write {out / parsed.benchmark}/<run id>.json and append to {store}")
    return "\n".join(lines)


def _check_writable(out: Path, store: ResultsStore) -> None:
    """Open the output folder and the store before any work, so bad paths fail at once."""
    import tempfile

    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as error:
        raise InputError(f"cannot write to the output folder {out}: {error.strerror}") from None
    try:
        store.check()
    except StoreError as error:
        raise InputError(str(error)) from None


@contextmanager
def _terminate_as_exception() -> Iterator[None]:
    """Turn SIGTERM into `Terminated` so that the staging folder is removed."""

    def handler(signum: int, frame: object) -> None:
        del signum, frame
        raise Terminated

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _cmd_run(args: argparse.Namespace) -> int:
    from unlearn_bench.runner import StoreWriteError, run_benchmark

    benchmark, package, parsed = _resolve(args.target, args.size, args.seed, args.set or ())
    spec = parsed.spec
    out = Path(args.out)
    store = ResultsStore(Path(args.store) if args.store else out / STORE_NAME)
    if args.dry_run:
        print(_spec_yaml(spec), end="")
        print("---")
        print(_plan(parsed, package, out, store.path))
        return 0
    _check_writable(out, store)
    progress = _TqdmProgress(enabled=not args.quiet)
    print(f"running {spec.benchmark} ({package}, size {spec.size}, seeds {spec.seeds})")
    try:
        with _terminate_as_exception():
            report, path = run_benchmark(benchmark, package, parsed, out, store, progress)
    except (StoreWriteError, UnreadableFileError) as error:
        # a damaged checkpoint or weights file of the user's: one line naming it
        progress.close()
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (SpecError, InputError):
        raise
    except Exception as error:
        progress.close()
        print(f"error: benchmark {spec.benchmark} failed: {error!r}", file=sys.stderr)
        return 1
    finally:
        progress.close()
    for note in report.result.notes:
        print(f"  * {note}")
    if report.result.summary is not None:
        print()
        print(format_table(report.result.summary))
        print()
    print(f"wrote {path} ({report.wall_time_s:.1f} s); stored in {store.path}")
    print(f"see it with: unlearn-bench report --store {store.path} --format html")
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    from unlearn_bench.sweep import describe_plan, plan_sweep, read_sweep, run_sweep
    from unlearn_bench.sweep_backends import BackendError, make_backend
    from unlearn_bench.sweep_store import SweepCellStore

    sweep = read_sweep(args.sweep)
    plan = plan_sweep(sweep, args.sweep)  # every cell checked before anything runs
    out = Path(args.out)
    store = ResultsStore(Path(args.store) if args.store else out / STORE_NAME)
    if args.dry_run:
        stored, failed = set(), set()
        if store.path.is_file():
            stored = store.run_ids()
            failed = {
                c.run_id
                for c in SweepCellStore(store.path).cells(sweep.sweep)
                if c.status == "failed"
            }
        print(describe_plan(plan, stored, failed))
        return 0
    try:
        backend = make_backend(args.backend, args.workers, args.address)
    except BackendError as error:
        raise InputError(str(error)) from None
    _check_writable(out, store)
    progress = _TqdmProgress(enabled=not args.quiet)
    print(
        f"sweep {sweep.sweep}: {len(plan.cells)} cells of {plan.benchmark.name} "
        f"on {backend.describe()}"
    )
    try:
        with _terminate_as_exception():
            summary = run_sweep(plan, out, store, backend, progress)
    except BackendError as error:
        raise InputError(str(error)) from None
    finally:
        progress.close()
        stop = getattr(backend, "stop", None)
        if stop is not None:
            stop()
    print(
        f"{summary.cells} cells: {summary.stored_before} stored before, {summary.ran} run now "
        f"({summary.wall_s:.1f} s), {len(summary.failed)} failed; stored in {store.path}"
    )
    for label, message in summary.failed.items():
        print(f"  failed: {label}: {message}", file=sys.stderr)
    print(f"see it with: unlearn-bench report --store {store.path} --format html")
    return 1 if summary.failed else 0


def format_table(table: Table) -> str:
    """A summary table as aligned plain text."""
    rows = [table.header, *table.rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(table.header))]
    lines = [table.title]
    for index, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)


def _cmd_report(args: argparse.Namespace) -> int:
    from unlearn_bench.report import render_report
    from unlearn_bench.sweep_report import load_sweep_sections

    store_path = Path(args.store) if args.store else Path(DEFAULT_OUT) / STORE_NAME
    if not store_path.is_file():
        raise InputError(f"no results store at {store_path}; run a benchmark first")
    try:
        reports = ResultsStore(store_path).reports(args.benchmark)
    except StoreError as error:
        raise InputError(str(error)) from None
    if args.benchmark and not reports:
        raise InputError(f"the store {store_path} holds no runs of {args.benchmark!r}")
    out = Path(args.out) if args.out else store_path.parent / f"report.{args.format}"
    image_dir = out.parent / f"{out.stem}-plots"
    try:
        sweeps = load_sweep_sections(store_path, reports)
        if args.benchmark:
            sweeps = [s for s in sweeps if s.benchmark == args.benchmark]
    except StoreError as error:
        raise InputError(str(error)) from None
    try:
        text = render_report(reports, args.format, image_dir=image_dir, sweeps=sweeps)
        atomic_write_text(out, text)
    except OSError as error:
        where = error.filename or out
        raise InputError(f"cannot write the report to {where}: {error.strerror}") from None
    print(f"wrote {out}")
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    from unlearn_schema import write_json_schemas

    for path in write_json_schemas(args.out):
        print(f"wrote {path}")
    return 0


def _add_spec_options(parser: argparse.ArgumentParser, *, seed: bool = True) -> None:
    if seed:
        parser.add_argument("--seed", type=int, help="run this single seed instead of the spec's")
    parser.add_argument("--size", choices=SIZES, help="quick (default) or full (nightly)")
    parser.add_argument(
        "--set",
        action="append",
        metavar="PATH=VALUE",
        help="override one spec field, e.g. world.params.people=40 or methods=npo,rmu "
        "(repeatable; checked like a spec file)",
    )


def _parser(sub: Any, name: str, help_text: str, examples: list[str]) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=help_text,
        description=help_text,
        epilog="examples:\n" + "\n".join(f"  unlearn-bench {e}" for e in examples),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for docs and tests)."""
    parser = argparse.ArgumentParser(
        prog="unlearn-bench",
        description="List, show, validate, run and report the benchmarks of installed packages.",
        epilog="examples:\n  unlearn-bench list\n  unlearn-bench run planted-quickstart\n"
        "  unlearn-bench show llm-facts-quick > my.yaml && unlearn-bench run my.yaml",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p_list = _parser(
        sub,
        "list",
        "installed packages with their benchmarks, methods, attacks and metrics",
        ["list", "list --json"],
    )
    p_list.add_argument("--json", action="store_true", help="machine-readable output")
    p_list.set_defaults(func=_cmd_list)

    p_show = _parser(
        sub,
        "show",
        "print a benchmark's default spec as YAML (a file validate and run accept)",
        ["show llm-facts-quick", "show graph-unlearn-quick --size full > spec.yaml"],
    )
    p_show.add_argument("name", help="benchmark name")
    _add_spec_options(p_show, seed=False)
    p_show.set_defaults(func=_cmd_show)

    p_validate = _parser(
        sub,
        "validate",
        "check a spec file or a benchmark's default spec; exit 2 naming bad fields",
        ["validate my-spec.yaml", "validate llm-facts-quick --set methods=npo,rmu"],
    )
    p_validate.add_argument("target", help="spec file (.yaml, .yml or .json) or benchmark name")
    _add_spec_options(p_validate)
    p_validate.set_defaults(func=_cmd_validate)

    p_run = _parser(
        sub,
        "run",
        "run a benchmark by name or from a spec file",
        [
            "run planted-quickstart",
            "run llm-facts-quick --set methods=npo,rmu --seed 3",
            "run my-spec.yaml --size full --dry-run",
        ],
    )
    p_run.add_argument("target", help="benchmark name or spec file")
    _add_spec_options(p_run)
    p_run.add_argument("--out", default=DEFAULT_OUT, help="output folder (default: runs)")
    p_run.add_argument("--store", help="results store (default: OUT/results.sqlite)")
    p_run.add_argument("--quiet", action="store_true", help="no progress bar")
    p_run.add_argument(
        "--dry-run", action="store_true", help="print the resolved spec and the plan; run nothing"
    )
    p_run.set_defaults(func=_cmd_run)

    p_sweep = _parser(
        sub,
        "sweep",
        "run a benchmark over a grid of spec fields, one run per cell (resumable)",
        [
            "sweep llm-lr-steps --dry-run",
            "sweep my-sweep.yaml --backend local",
            "sweep my-sweep.yaml --workers 8 --address auto",
        ],
    )
    p_sweep.add_argument(
        "sweep", help="sweep file (.yaml or .json: sweep, spec, grid, pareto) or a shipped sweep"
    )
    p_sweep.add_argument(
        "--backend",
        choices=("local", "ray"),
        default="ray",
        help="ray: one Ray task per cell (default; the unlearn-bench[ray] extra); "
        "local: every cell in this process, one after another",
    )
    p_sweep.add_argument(
        "--address",
        help="join this Ray cluster (e.g. auto, ray://head:10001) instead of a local one",
    )
    p_sweep.add_argument(
        "--workers", type=int, help="cells in flight at once (ray; default: every CPU)"
    )
    p_sweep.add_argument("--out", default=DEFAULT_OUT, help="output folder (default: runs)")
    p_sweep.add_argument("--store", help="results store (default: OUT/results.sqlite)")
    p_sweep.add_argument("--quiet", action="store_true", help="no progress bar")
    p_sweep.add_argument(
        "--dry-run", action="store_true", help="list the cells and which are stored; run nothing"
    )
    p_sweep.set_defaults(func=_cmd_sweep)

    p_report = _parser(
        sub,
        "report",
        "tables and plots from the results store",
        ["report", "report --format html --benchmark llm-facts-quick"],
    )
    p_report.add_argument("--format", choices=("md", "html"), default="md")
    p_report.add_argument("--store", help="results store (default: runs/results.sqlite)")
    p_report.add_argument("--out", help="report file (default: beside the store)")
    p_report.add_argument("--benchmark", help="only this benchmark")
    p_report.set_defaults(func=_cmd_report)

    p_schema = _parser(
        sub,
        "schema",
        "write the JSON Schemas of the spec and reports",
        ["schema --out schemas"],
    )
    p_schema.add_argument("--out", default="schemas", help="folder (default: schemas)")
    p_schema.set_defaults(func=_cmd_schema)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``unlearn-bench`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (SpecError, InputError, UnknownBenchmarkError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted (SIGINT): nothing half-written is left behind", file=sys.stderr)
        return 130
    except Terminated:
        print("terminated (SIGTERM): nothing half-written is left behind", file=sys.stderr)
        return 143


if __name__ == "__main__":
    sys.exit(main())
