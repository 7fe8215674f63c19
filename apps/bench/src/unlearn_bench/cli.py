"""``unlearn-bench``: list, validate, run and report benchmarks; export JSON Schemas.

Exit codes: 0 success, 1 a benchmark failed while running, 2 bad input (unknown
benchmark, invalid spec, missing file). Bad input is rejected before anything is written.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from unlearn_schema import (
    SIZES,
    Benchmark,
    BenchmarkSpec,
    ParsedSpec,
    Size,
    SpecError,
    atomic_write_text,
    validate_or_raise,
)

from unlearn_bench import __version__
from unlearn_bench.discovery import UnknownBenchmarkError, installed_parts, load_benchmark
from unlearn_bench.store import ResultsStore

DEFAULT_OUT = "runs"
STORE_NAME = "results.sqlite"


class InputError(Exception):
    """Bad input from the user: reported on stderr with exit status 2."""


def _load_spec_file(path: Path) -> BenchmarkSpec:
    import yaml

    if not path.is_file():
        raise InputError(f"spec file not found: {path}")
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise InputError(f"{path} is not valid YAML/JSON: {error}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path} must hold a mapping of spec fields, got {type(data).__name__}")
    return validate_or_raise(BenchmarkSpec, data, str(path))


def _looks_like_file(target: str) -> bool:
    return target.endswith((".yaml", ".yml", ".json")) or "/" in target


def _resolve(
    target: str, size: Size | None, seed: int | None
) -> tuple[Benchmark[Any, Any, Any], str, ParsedSpec[Any, Any, Any]]:
    """The benchmark, its package and the parsed spec that ``run``/``validate`` act on."""
    if _looks_like_file(target):
        spec = _load_spec_file(Path(target))
        benchmark, package = load_benchmark(spec.benchmark)
        updates: dict[str, Any] = {}
        if size is not None:
            updates["size"] = size
    else:
        benchmark, package = load_benchmark(target)
        spec = benchmark.default_spec(size or "quick")
        updates = {}
    if seed is not None:
        updates["seeds"] = [seed]
    if updates:
        # model_copy keeps which fields the file gave, so left-out parts still take the
        # benchmark's defaults for the (new) size.
        data = spec.model_dump(include=spec.model_fields_set | set(updates))
        spec = validate_or_raise(BenchmarkSpec, {**data, **updates})
    return benchmark, package, benchmark.parse(spec)


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


def _cmd_validate(args: argparse.Namespace) -> int:
    if not _looks_like_file(args.spec):
        raise InputError(f"validate takes a spec file (.yaml/.yml/.json), got {args.spec!r}")
    _, package, parsed = _resolve(args.spec, None, None)
    print(f"ok: {args.spec} is a valid spec for benchmark {parsed.benchmark} ({package})")
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


def _cmd_run(args: argparse.Namespace) -> int:
    from unlearn_bench.runner import run_benchmark

    benchmark, package, parsed = _resolve(args.target, args.size, args.seed)
    spec = parsed.spec
    out = Path(args.out)
    store = ResultsStore(Path(args.store) if args.store else out / STORE_NAME)
    progress = _TqdmProgress(enabled=not args.quiet)
    print(f"running {spec.benchmark} ({package}, size {spec.size}, seeds {spec.seeds})")
    try:
        report, path = run_benchmark(benchmark, package, parsed, out, store, progress)
    except (SpecError, InputError):
        raise
    except Exception as error:
        progress.close()
        print(f"error: benchmark {spec.benchmark} failed: {error!r}", file=sys.stderr)
        return 1
    progress.close()
    for note in report.result.notes:
        print(f"  * {note}")
    print(f"wrote {path} ({report.wall_time_s:.1f} s); stored in {store.path}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from unlearn_bench.report import render_report

    store_path = Path(args.store) if args.store else Path(DEFAULT_OUT) / STORE_NAME
    if not store_path.exists():
        raise InputError(f"no results store at {store_path}; run a benchmark first")
    reports = ResultsStore(store_path).reports(args.benchmark)
    if args.benchmark and not reports:
        raise InputError(f"the store {store_path} holds no runs of {args.benchmark!r}")
    out = Path(args.out) if args.out else store_path.parent / f"report.{args.format}"
    image_dir = out.parent / f"{out.stem}-plots"
    text = render_report(reports, args.format, image_dir=image_dir)
    atomic_write_text(out, text)
    print(f"wrote {out}")
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    from unlearn_schema import write_json_schemas

    for path in write_json_schemas(args.out):
        print(f"wrote {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for docs and tests)."""
    parser = argparse.ArgumentParser(
        prog="unlearn-bench",
        description="List, validate, run and report the benchmarks of installed packages.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p_list = sub.add_parser("list", help="installed packages and their benchmarks/methods/metrics")
    p_list.add_argument("--json", action="store_true", help="machine-readable output")
    p_list.set_defaults(func=_cmd_list)

    p_validate = sub.add_parser("validate", help="check a spec file; exit 2 naming bad fields")
    p_validate.add_argument("spec", help="spec file (.yaml, .yml or .json)")
    p_validate.set_defaults(func=_cmd_validate)

    p_run = sub.add_parser("run", help="run a benchmark by name or from a spec file")
    p_run.add_argument("target", help="benchmark name or spec file")
    p_run.add_argument("--seed", type=int, help="run this single seed instead of the spec's")
    p_run.add_argument("--size", choices=SIZES, help="quick (default) or full (nightly)")
    p_run.add_argument("--out", default=DEFAULT_OUT, help="output folder (default: runs)")
    p_run.add_argument("--store", help="results store (default: OUT/results.sqlite)")
    p_run.add_argument("--quiet", action="store_true", help="no progress bar")
    p_run.set_defaults(func=_cmd_run)

    p_report = sub.add_parser("report", help="tables and plots from the results store")
    p_report.add_argument("--format", choices=("md", "html"), default="md")
    p_report.add_argument("--store", help="results store (default: runs/results.sqlite)")
    p_report.add_argument("--out", help="report file (default: beside the store)")
    p_report.add_argument("--benchmark", help="only this benchmark")
    p_report.set_defaults(func=_cmd_report)

    p_schema = sub.add_parser("schema", help="write the JSON Schemas of the spec and reports")
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


if __name__ == "__main__":
    sys.exit(main())
