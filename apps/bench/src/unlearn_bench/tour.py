"""``tour``: the first thing to run. One small unlearning run per unlearning package.

Facts forgotten by a tiny Llama, a concept erased from the tiny text-to-image
pipeline, edges deleted from a GNN: each is the package's own quick benchmark with a
smaller spec (a few ``--set``-style overrides, listed in ``PARTS``), scored against
the exact retrain oracle where the package trains one. The tour composes the packages'
recipes and adds no algorithm: its result is their metrics (labelled with the part),
their plots and notes, and one summary table: for each part, how much of what was to
be forgotten the model still knows, and how much of the rest it kept, beside the
oracle's and the original model's values. A package that is not installed is skipped
with a note naming the install command.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field
from unlearn_schema import (
    Benchmark,
    BenchmarkResult,
    BenchmarkSpec,
    Curve,
    MetricValue,
    ParsedSpec,
    Progress,
    Size,
    StrictModel,
    Table,
)


@dataclass(frozen=True)
class TourPart:
    """One stop of the tour: a package's benchmark, made small, and what to show of it."""

    benchmark: str
    package: str
    task: str
    overrides: tuple[str, ...]
    forget_metric: str
    forget_label: str
    keep_metric: str
    keep_label: str
    reference_rows: tuple[str, ...] = ("original",)


PARTS: tuple[TourPart, ...] = (
    TourPart(
        benchmark="llm-facts-quick",
        package="unlearn-llm",
        task="forget 4 of 40 fictitious people (every fact about them) from a tiny Llama",
        overrides=(
            "world.params.people=40",
            "methods=gradient-difference,npo",
            "params.retain_eval_facts=32",
            "params.retain_eval_passages=12",
            # every attack still runs on every model; the designed hiders that prove the
            # attacks' power are llm-facts-quick's and llm-attack-power's business
            "params.suppressed=[]",
        ),
        forget_metric="forget_exact_answer_accuracy",
        forget_label="forget answers still right",
        keep_metric="retain_exact_answer_accuracy",
        keep_label="retain answers right",
    ),
    TourPart(
        benchmark="diffusion-erase-quick",
        package="erase-diffusion",
        task="erase the concept 'circle' from the tiny text-to-image pipeline",
        overrides=(
            "methods=uce",
            "params.erase=[[circle]]",
            "params.erased_samples=16",
            "params.preserve_samples=24",
            "params.preserve_prompts=12",
            # two attacks of the six keep the tour short: the white-box learned embedding
            # (the one that brings erased concepts back from UCE) and the concept vector;
            # diffusion-erase-quick runs them all
            "params.attacks=[{name: learned-embedding, params: {steps: 25, training_images: 16,"
            " images_per_prompt: 1}}, {name: concept-vector, params: {images_per_prompt: 1}}]",
        ),
        forget_metric="erasure_rate",
        forget_label="images still showing it",
        keep_metric="preservation_accuracy",
        keep_label="other prompts drawn right",
    ),
    TourPart(
        benchmark="graph-unlearn-quick",
        package="unlearn-graph",
        task="delete 5 % of the training edges from a GraphSAGE link predictor",
        overrides=(
            "methods=gnndelete,gradient-ascent",
            "params.scenarios=[edges]",
            "params.deletion_ratios=[0.05]",
            "world.params.num_nodes=1000",
        ),
        forget_metric="deleted_edge_auroc",
        forget_label="deleted-edge AUROC",
        keep_metric="retained_test_auroc",
        keep_label="test AUROC",
    ),
)
PART_NAMES = tuple(part.benchmark for part in PARTS)


class TourParams(StrictModel):
    """Which stops to make."""

    parts: list[str] = Field(
        default_factory=lambda: list(PART_NAMES),
        min_length=1,
        description=f"Benchmarks to visit, among {', '.join(PART_NAMES)}.",
    )


class _PartProgress:
    """Progress of one part, drawn on the tour's bar with the part's name."""

    def __init__(self, outer: Progress, name: str) -> None:
        self.outer = outer
        self.name = name

    def start(self, total: int, description: str) -> None:
        self.outer.start(total, f"{self.name}: {description}")

    def advance(self, steps: int = 1, status: str | None = None) -> None:
        self.outer.advance(steps, status)


def _check(parsed: ParsedSpec[Any, Any, TourParams]) -> None:
    unknown = [name for name in parsed.params.parts if name not in PART_NAMES]
    if unknown:
        raise ValueError(
            f"params.parts: unknown part(s) {unknown}; accepted: {', '.join(PART_NAMES)}"
        )


def _part_spec(
    part: TourPart, seed: int
) -> tuple[Benchmark[Any, Any, Any], ParsedSpec[Any, Any, Any]]:
    from unlearn_bench.discovery import load_benchmark
    from unlearn_bench.overrides import apply_overrides

    benchmark, _ = load_benchmark(part.benchmark)
    default = benchmark.default_spec("quick").model_dump(mode="json")
    data = apply_overrides(default, [*part.overrides, f"seeds=[{seed}]"], default)
    return benchmark, benchmark.parse(BenchmarkSpec.model_validate(data))


def _value(metrics: list[MetricValue], name: str, method: str) -> MetricValue | None:
    matches = [m for m in metrics if m.name == name and m.labels.get("method") == method]
    return matches[0] if matches else None


def _fmt(metric: MetricValue | None, reference: bool = False) -> str:
    if metric is None:
        return "-"
    value = metric.reference if reference else metric.value
    return "-" if value is None else f"{value:.2f}"


def _is_oracle_reference(metric: MetricValue | None) -> bool:
    name = (metric.reference_name or "") if metric is not None else ""
    return metric is not None and metric.reference is not None and "oracle" in name.lower()


def _rows(part: TourPart, metrics: list[MetricValue]) -> list[list[str]]:
    """Summary rows of one part: the oracle, the original model, then each method."""
    labels: list[str] = []
    for metric in metrics:
        label = metric.labels.get("method")
        if metric.name == part.forget_metric and label is not None and label not in labels:
            labels.append(label)
    methods = [m for m in labels if m not in part.reference_rows and "oracle" not in m]
    rows: list[list[str]] = []
    oracle: tuple[str, str, bool] | None
    if "retrain" in methods:
        oracle = ("retrain oracle", "retrain", False)
    else:
        with_reference = next(
            (m for m in methods if _is_oracle_reference(_value(metrics, part.forget_metric, m))),
            None,
        )
        oracle = ("retrain oracle", with_reference, True) if with_reference else None
    if oracle is not None:
        label, source, from_reference = oracle
        rows.append(
            [
                part.package,
                label,
                _fmt(_value(metrics, part.forget_metric, source), from_reference),
                _fmt(_value(metrics, part.keep_metric, source), from_reference),
            ]
        )
    else:
        rows.append([part.package, "retrain oracle", "not trained (too costly)", "-"])
    for method in [*part.reference_rows, *methods]:
        if method == "retrain":
            continue
        forget = _value(metrics, part.forget_metric, method)
        keep = _value(metrics, part.keep_metric, method)
        if forget is None and keep is None:
            continue
        label = "original (before)" if method == "original" else method
        rows.append([part.package, label, _fmt(forget), _fmt(keep)])
    return rows


def run_tour(
    parsed: ParsedSpec[Any, Any, TourParams], progress: Progress, out_dir: str
) -> BenchmarkResult:
    """Run each part's benchmark on its small spec and gather the results."""
    from unlearn_bench.discovery import UnknownBenchmarkError

    seed = parsed.seeds[0]
    metrics: list[MetricValue] = []
    curves: list[Curve] = []
    notes: list[str] = []
    timings: dict[str, float] = {}
    artifacts: dict[str, str] = {}
    rows: list[list[str]] = []
    ran = 0
    for part in (p for p in PARTS if p.benchmark in parsed.params.parts):
        try:
            benchmark, spec = _part_spec(part, seed)
        except UnknownBenchmarkError:
            notes.append(f"skipped {part.benchmark}: install {part.package} to visit it")
            continue
        folder = Path(out_dir) / part.benchmark
        folder.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        result = benchmark.run(spec, _PartProgress(progress, part.benchmark), str(folder))
        timings[part.benchmark] = time.perf_counter() - start
        ran += 1
        for metric in result.metrics:
            metrics.append(
                metric.model_copy(update={"labels": {"part": part.benchmark, **metric.labels}})
            )
        for curve in result.curves:
            curves.append(
                curve.model_copy(
                    update={
                        "name": f"{part.benchmark}-{curve.name}",
                        "title": f"{part.package}: {curve.title}",
                    }
                )
            )
        notes.append(f"{part.package}: {part.task} ({timings[part.benchmark]:.0f} s).")
        notes.extend(f"{part.package}: {note}" for note in result.notes[:3])
        # the attacks' verdict per method (clean vs worst attack), without the details
        notes.extend(
            f"{part.package}: {note.split('; knowledge')[0]}."
            for note in result.notes[3:]
            if " attacked: forget quality " in note
        )
        artifacts.update({f"{part.benchmark}/{k}": v for k, v in result.artifacts.items()})
        rows.extend(
            [row[0], row[1], f"{part.forget_label}: {row[2]}", f"{part.keep_label}: {row[3]}"]
            for row in _rows(part, result.metrics)
        )
    if ran == 0:
        raise RuntimeError(
            "the tour found none of its packages installed; install unlearn-llm, "
            "erase-diffusion or unlearn-graph"
        )
    summary = Table(
        title="What was forgotten and what was kept (oracle: the model retrained without it)",
        header=["package", "model", "forgotten? (oracle-like is best)", "kept? (higher is better)"],
        rows=rows,
    )
    return BenchmarkResult(
        metrics=metrics,
        curves=curves,
        notes=notes,
        timings=timings,
        artifacts=artifacts,
        summary=summary,
    )


def _spec(size: Size) -> BenchmarkSpec:
    return BenchmarkSpec(benchmark="tour", size=size, params=TourParams().model_dump())


TOUR: Benchmark[Any, Any, TourParams] = Benchmark(
    name="tour",
    summary="Start here: facts forgotten, a concept erased, edges deleted, vs the oracle.",
    default_spec=_spec,
    run=run_tour,
    params_type=TourParams,
    check=_check,
    max_seeds=1,
    quick_budget_s=180.0,
)
