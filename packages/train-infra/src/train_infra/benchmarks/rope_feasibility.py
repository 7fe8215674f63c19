"""``rope-feasibility``: bounds on the RoPE base over context length, and config verdicts.

After *Rotary Positional Embeddings as Phase Modulation* (arXiv:2602.10959), with the
bounds of `train_infra.rope_bounds`: for each phase dtype, the aliasing and DC-stability
lower bounds and the precision upper bound over a grid of context lengths, the context
from which the feasible region is empty, and where the base of a few published configs
lies. Pure math: no world, no model, no method, and one seed (nothing is random).
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import Field, model_validator
from unlearn_schema.base import StrictModel
from unlearn_schema.configs import BenchmarkSpec, Size
from unlearn_schema.plugins import NoParams, ParsedSpec, Progress
from unlearn_schema.recipes import spec_from_parts
from unlearn_schema.results import BenchmarkResult, Curve, MetricValue, Series

from train_infra.rope_bounds import PhaseDtype, check_hf_config, feasible_region

# Published configuration values (hidden size, heads, layers, trained context, base).
KNOWN_CONFIGS: dict[str, dict[str, Any]] = {
    "llama-2-7b": {
        "hidden_size": 4096,
        "num_attention_heads": 32,
        "num_hidden_layers": 32,
        "max_position_embeddings": 4096,
        "rope_theta": 10000.0,
    },
    "llama-3-8b": {
        "hidden_size": 4096,
        "num_attention_heads": 32,
        "num_hidden_layers": 32,
        "max_position_embeddings": 8192,
        "rope_theta": 500000.0,
    },
    "mistral-7b-v0.2": {
        "hidden_size": 4096,
        "num_attention_heads": 32,
        "num_hidden_layers": 32,
        "max_position_embeddings": 32768,
        "rope_theta": 1000000.0,
    },
    "qwen2-7b": {
        "hidden_size": 3584,
        "num_attention_heads": 28,
        "num_hidden_layers": 28,
        "max_position_embeddings": 32768,
        "rope_theta": 1000000.0,
    },
}


def _default_dtypes() -> list[PhaseDtype]:
    return ["float32", "bfloat16"]


class RopeRun(StrictModel):
    """Grid of context lengths and the settings of the bounds."""

    context_lengths: list[int] = Field(min_length=2, description="Context lengths to sweep.")
    head_dim: int = Field(default=128, ge=4, le=1024)
    depth: int = Field(default=32, ge=1, le=1024)
    tolerance_rad: float = Field(default=math.pi / 2, gt=0.0, le=2 * math.pi)
    dtypes: list[PhaseDtype] = Field(default_factory=_default_dtypes, min_length=1)
    configs: list[str] = Field(default_factory=lambda: list(KNOWN_CONFIGS))

    @model_validator(mode="after")
    def _valid(self) -> RopeRun:
        if self.head_dim % 2:
            raise ValueError(f"head_dim must be even, got {self.head_dim}")
        bad = [c for c in self.context_lengths if c < 2]
        if bad:
            raise ValueError(f"context lengths must be >= 2, got {bad}")
        unknown = [c for c in self.configs if c not in KNOWN_CONFIGS]
        if unknown:
            raise ValueError(f"unknown configs {unknown}; accepted: {', '.join(KNOWN_CONFIGS)}")
        return self


def rope_spec(size: Size) -> BenchmarkSpec:
    top = 22 if size == "quick" else 26
    run = RopeRun(context_lengths=[2**p for p in range(10, top + 1)])
    return spec_from_parts("rope-feasibility", size, params=run)


def run_rope(
    parsed: ParsedSpec[NoParams, NoParams, RopeRun], progress: Progress, out_dir: str
) -> BenchmarkResult:
    """Aliasing, DC-stability and precision bounds over context length; config verdicts."""
    del out_dir
    run = parsed.params
    progress.start(len(run.context_lengths) * len(run.dtypes) + len(run.configs), "settings")
    xs = [float(c) for c in run.context_lengths]
    series = []
    regions = {
        c: feasible_region(c, run.head_dim, run.depth, run.dtypes[0], run.tolerance_rad)
        for c in run.context_lengths
    }
    series.append(
        Series(
            label="aliasing lower bound",
            x=xs,
            y=[regions[c].aliasing_lower for c in run.context_lengths],
        )
    )
    series.append(
        Series(
            label=f"DC-stability lower bound (depth {run.depth})",
            x=xs,
            y=[regions[c].dc_stability_lower for c in run.context_lengths],
        )
    )
    metrics: list[MetricValue] = []
    notes: list[str] = []
    for dtype in run.dtypes:
        walls = []
        for context in run.context_lengths:
            region = feasible_region(context, run.head_dim, run.depth, dtype, run.tolerance_rad)
            if region.region_is_empty:
                walls.append(context)
            progress.advance(1)
        upper = feasible_region(
            2, run.head_dim, run.depth, dtype, run.tolerance_rad
        ).precision_upper
        series.append(Series(label=f"precision upper bound ({dtype})", x=xs, y=[upper] * len(xs)))
        first = float(walls[0]) if walls else float(run.context_lengths[-1]) * 2
        metrics.append(
            MetricValue(
                name="precision_wall_context",
                value=first,
                unit="tokens",
                labels={"dtype": dtype, "head_dim": str(run.head_dim), "depth": str(run.depth)},
            )
        )
        notes.append(
            f"{dtype}: the feasible region is empty from context {walls[0]} on"
            if walls
            else f"{dtype}: feasible up to context {run.context_lengths[-1]}"
        )
    for name in run.configs:
        report = check_hf_config(KNOWN_CONFIGS[name])
        base = report.base or 1.0
        labels = {"config": name, "verdict": report.verdict}
        metrics.append(
            MetricValue(name="base_over_lower_bound", value=base / report.lower, labels=labels)
        )
        metrics.append(
            MetricValue(
                name="upper_bound_over_base",
                value=report.precision_upper / base,
                labels=labels,
            )
        )
        notes.append(f"{name}: {report.explain()}")
        progress.advance(1)
    curve = Curve(
        name="rope-bounds",
        title=f"RoPE base bounds, head_dim {run.head_dim}",
        x_label="context length (tokens)",
        y_label="RoPE base",
        series=series,
        log_x=True,
    )
    return BenchmarkResult(metrics=metrics, curves=[curve], notes=notes)
