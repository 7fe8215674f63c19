"""``sweep-selftest``: a tiny CPU-bound benchmark to try sweeps on, with failures on demand.

It estimates $\\pi$ as $4 \\cdot \\#\\{i : x_i^2 + y_i^2 \\le 1\\} / n$ from ``samples``
uniform points of the unit square drawn with the run's seed, in plain Python (so a
cell is CPU-bound and holds the GIL: only processes run two at once). A seed listed in
``fail_seeds`` raises, so that a sweep's handling of a failing cell can be shown and
tested without a broken package. It needs nothing beyond the app.
"""

from __future__ import annotations

import math
import random
import time

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


class SelftestParams(StrictModel):
    """How much work one run does, and which seeds fail on purpose."""

    samples: int = Field(default=200_000, ge=1, le=100_000_000, description="Points drawn.")
    fail_seeds: list[int] = Field(
        default_factory=list, description="Seeds whose run raises (to show a failing cell)."
    )


class DeliberateFailure(RuntimeError):
    """Raised for a seed in ``fail_seeds``."""


def estimate_pi(samples: int, seed: int) -> float:
    """Monte Carlo estimate of $\\pi$ from ``samples`` points (pure Python, one core)."""
    draw = random.Random(seed).random
    inside = 0
    for _ in range(samples):
        x, y = draw(), draw()
        inside += x * x + y * y <= 1.0
    return 4.0 * inside / samples


def run_selftest(
    parsed: ParsedSpec[StrictModel, StrictModel, SelftestParams], progress: Progress, out_dir: str
) -> BenchmarkResult:
    """Estimate $\\pi$ once for the spec's seed."""
    del out_dir
    params, seed = parsed.params, parsed.seeds[0]
    progress.start(1, "estimate")
    if seed in params.fail_seeds:
        raise DeliberateFailure(f"seed {seed} is in fail_seeds {params.fail_seeds}")
    start, cpu = time.perf_counter(), time.process_time()
    estimate = estimate_pi(params.samples, seed)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    progress.advance(1)
    labels = {"seed": str(seed)}
    return BenchmarkResult(
        metrics=[
            MetricValue(
                name="pi_estimate",
                value=estimate,
                direction="target",
                reference=math.pi,
                reference_name="pi",
                labels=labels,
            ),
            MetricValue(
                name="abs_error", value=abs(estimate - math.pi), direction="lower", labels=labels
            ),
            MetricValue(name="estimate_s", value=wall, unit="s", labels=labels),
            # CPU time the estimate got: on a loaded machine less than its wall time
            MetricValue(name="estimate_cpu_s", value=cpu, unit="s", labels=labels),
        ],
        timings={"estimate": wall},
    )


def _spec(size: Size) -> BenchmarkSpec:
    samples = 200_000 if size == "quick" else 2_000_000
    return BenchmarkSpec(
        benchmark="sweep-selftest",
        size=size,
        params=SelftestParams(samples=samples).model_dump(),
    )


SWEEP_SELFTEST: Benchmark[StrictModel, StrictModel, SelftestParams] = Benchmark(
    name="sweep-selftest",
    summary="Tiny CPU-bound Monte Carlo π estimate to try sweeps on; fail_seeds fail on purpose.",
    default_spec=_spec,
    run=run_selftest,
    params_type=SelftestParams,
    metric_names=frozenset({"pi_estimate", "abs_error", "estimate_s", "estimate_cpu_s"}),
    max_seeds=1,
)
