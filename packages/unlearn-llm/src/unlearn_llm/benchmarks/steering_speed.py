"""The ``unlearn-llm-steering-speed`` benchmark: a steered forward pass against a plain one.

Test-time steering (``methods/test_time_steering.py``) costs nothing to "train"; its
price is paid on every forward pass: the gate's discriminant and running maximum at the
gate layer, and the gated offset at each steered layer. Target (issue 14): at most
10 % latency over the unsteered model, measured in the same run.

Baseline (same run, same weights, same batch): the model before steering (a deep copy
taken before the hooks go in), in eval mode without gradients, scoring teacher-forced
forget and retain rows. Each configuration runs ``rounds`` x ``repeats`` forward passes
interleaved pass by pass with the baseline's (the order swapping every pass), and its
ratio is its summed time over the baseline's, so load that drifts on a shared CPU hits
both alike. Times are the thread's CPU time (torch runs on one thread here), which other
processes on a loaded machine disturb far less than wall time; the wall-time ratio is
reported beside it (``latency_ratio_wall``). This is repeated for every batch size of
``batch_sizes`` (the hooks' cost is partly per call, so small batches pay relatively
more): the plot is the latency ratio against the rows per forward pass, with the 1.1
target line.

Sizes: ``quick`` is the quick facts world and model (untrained: the cost of a forward
pass does not depend on what the weights know), ``full`` a wider, deeper model on the
full world. Importing this module does not import torch.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from pydantic import Field
from unlearn_schema import (
    Benchmark,
    BenchmarkResult,
    BenchmarkSpec,
    Curve,
    MetricValue,
    ParsedSpec,
    Progress,
    Series,
    Size,
    StrictModel,
)

from unlearn_llm.benchmarks._common import MODEL_NAME, WORLD_NAME, metric, single_seed_spec
from unlearn_llm.models import TinyLlamaParams, model_params_for
from unlearn_llm.worlds.facts import FactsWorldParams, world_params_for

if TYPE_CHECKING:
    from unlearn_llm.data import Batch

TARGET = 1.1  # issue 14: at most 10 % latency on a forward pass
CONFIGS: dict[str, dict[str, Any]] = {
    "gated, last layer (default)": {},
    "gated, every layer": {"layers": "all"},
    "ungated, last layer": {"gate": "always"},
}

STEERING_SPEED_METRIC_NAMES = frozenset(
    {
        "baseline_forward_seconds",
        "forward_seconds",
        "latency_ratio",
        "latency_ratio_wall",
        "latency_target_met",
        "steering_setup_seconds",
    }
)


class SteeringSpeedParams(StrictModel):
    """Batch sizes, and how long and how often to time."""

    batch_sizes: list[int] = Field(
        default_factory=lambda: [1, 8, 32],
        min_length=1,
        max_length=10,
        description="Rows per forward pass (forget and retain rows alternating).",
    )
    repeats: int = Field(
        default=20, ge=1, le=100_000, description="Forward passes of each model per round."
    )
    rounds: int = Field(default=5, ge=1, le=1000, description="Rounds of interleaved passes.")


SteeringSpeedSpec = ParsedSpec[FactsWorldParams, TinyLlamaParams, SteeringSpeedParams]


def _sizes(size: Size) -> tuple[FactsWorldParams, TinyLlamaParams, SteeringSpeedParams]:
    if size == "quick":
        return world_params_for("quick"), model_params_for("quick"), SteeringSpeedParams()
    model = TinyLlamaParams(hidden_size=256, layers=4, heads=4, intermediate_size=512)
    run = SteeringSpeedParams(batch_sizes=[1, 8, 32, 128], repeats=10, rounds=3)
    return world_params_for("full"), model, run


def _spec(size: Size) -> BenchmarkSpec:
    world, model, run = _sizes(size)
    return single_seed_spec("unlearn-llm-steering-speed", size, world, model, run)


def paired_forward_seconds(
    plain: Any, steered: Any, batch: Batch, repeats: int
) -> dict[str, float]:
    """``repeats`` forward passes of each model, interleaved pass by pass (the order
    swapping every pass), so drifting load hits both alike. Returns the thread CPU time
    and the wall time each model spent in all."""
    import torch

    spent = {"plain_cpu": 0.0, "steered_cpu": 0.0, "plain_wall": 0.0, "steered_wall": 0.0}
    with torch.no_grad():
        for index in range(repeats):
            pair = [("plain", plain), ("steered", steered)]
            for name, model in pair if index % 2 == 0 else pair[::-1]:
                cpu, wall = time.thread_time(), time.perf_counter()
                model(input_ids=batch.input_ids, attention_mask=batch.attention_mask)
                spent[f"{name}_cpu"] += time.thread_time() - cpu
                spent[f"{name}_wall"] += time.perf_counter() - wall
    return spent


def paired_forward_totals(
    plain: Any, steered: Any, batch: Batch, rounds: int, repeats: int
) -> dict[str, float]:
    """``paired_forward_seconds`` summed over ``rounds`` rounds of ``repeats`` passes,
    after a warm-up of two passes each."""
    paired_forward_seconds(plain, steered, batch, 2)
    spent = {"plain_cpu": 0.0, "steered_cpu": 0.0, "plain_wall": 0.0, "steered_wall": 0.0}
    for _ in range(rounds):
        for key, value in paired_forward_seconds(plain, steered, batch, repeats).items():
            spent[key] += value
    return spent


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f} on {os.cpu_count()} CPUs"


def run_steering_speed(
    parsed: SteeringSpeedSpec, progress: Progress, out_dir: str
) -> BenchmarkResult:
    """Time every steering configuration against the unsteered model, per batch size."""
    import copy

    import torch

    from unlearn_llm.data import encode, training_pairs
    from unlearn_llm.methods import make_unlearn_data
    from unlearn_llm.methods._common import decoder_layers
    from unlearn_llm.methods.test_time_steering import TestTimeSteeringParams, test_time_steering
    from unlearn_llm.models import build_model
    from unlearn_llm.worlds.facts import build_world
    from unlearn_llm.worlds.tokenizer import train_tokenizer

    del out_dir  # everything is in the metrics and the curve
    run, seed = parsed.params, parsed.seeds[0]
    load_before = _load()
    progress.start(len(CONFIGS) * len(run.batch_sizes), "configurations x batch sizes")
    torch.set_num_threads(1)
    world = build_world(parsed.world, seed)
    tokenizer = train_tokenizer(world, vocab_size=parsed.model.vocab_size)
    plain = build_model(parsed.model, seed).eval()
    data = make_unlearn_data(tokenizer, world.split("forget"), world.split("retain"))
    # the rows scored: forget and retain questions with their answers, alternating
    forget_prompts, forget_answers = training_pairs(world.split("forget"))
    retain_prompts, retain_answers = training_pairs(world.split("retain"))
    prompts = [p for pair in zip(forget_prompts, retain_prompts, strict=False) for p in pair]
    answers = [a for pair in zip(forget_answers, retain_answers, strict=False) for a in pair]
    pool = encode(tokenizer, prompts, answers)
    layers = len(decoder_layers(plain))
    metrics: list[MetricValue] = []
    notes: list[str] = []
    timings: dict[str, float] = {}
    series: list[Series] = []
    for label, extra in CONFIGS.items():
        started = time.perf_counter()
        steered = copy.deepcopy(plain)
        raw = dict(extra)
        if raw.get("layers") == "all":
            raw["layers"] = list(range(layers))
        log = test_time_steering(steered, data, TestTimeSteeringParams.model_validate(raw))
        metrics.append(
            metric("steering_setup_seconds", log.wall_time_s, "lower", {"config": label}, unit="s")
        )
        ratios: list[float] = []
        for batch_size in run.batch_sizes:
            batch = pool.subset(slice(0, batch_size)).trimmed()
            spent = paired_forward_totals(plain, steered, batch, run.rounds, run.repeats)
            passes = run.rounds * run.repeats
            ratio = spent["steered_cpu"] / spent["plain_cpu"]
            wall_ratio = spent["steered_wall"] / spent["plain_wall"]
            ratios.append(ratio)
            labels = {"config": label, "batch_size": str(len(batch))}
            steered_ms, plain_ms = (spent[k] / passes * 1e3 for k in ("steered_cpu", "plain_cpu"))
            metrics += [
                metric("forward_seconds", steered_ms / 1e3, "lower", labels, unit="s"),
                metric("baseline_forward_seconds", plain_ms / 1e3, "none", labels, unit="s"),
                metric("latency_ratio", ratio, "lower", labels, TARGET, reference_name="target"),
                metric("latency_ratio_wall", wall_ratio, "lower", labels),
                metric("latency_target_met", float(ratio <= TARGET), "higher", labels),
            ]
            notes.append(
                f"{label}, {len(batch)} rows x {batch.input_ids.shape[1]} tokens: "
                f"{steered_ms:.3f} ms vs {plain_ms:.3f} ms unsteered (CPU time), {ratio:.3f}x "
                f"(target {TARGET}: {'met' if ratio <= TARGET else 'NOT met'}; wall time "
                f"{wall_ratio:.3f}x)."
            )
            progress.advance(1, f"{label}, batch {len(batch)}")
        series.append(Series(label=label, x=[float(b) for b in run.batch_sizes], y=ratios))
        timings[f"config:{label}"] = time.perf_counter() - started
    notes[:0] = [
        "baseline: the same weights without hooks, eval mode, no gradients, 1 torch thread; "
        f"{run.rounds} rounds of {run.repeats} forward passes of each model, interleaved "
        "pass by pass; times are the thread's CPU time (the wall-time ratio beside it).",
        f"machine load (1 / 5 / 15 min load average): {load_before} at the start, "
        f"{_load()} at the end.",
    ]
    curve = Curve(
        name="steering-latency-ratio",
        title="Steered forward pass time over the unsteered model's",
        x_label="rows per forward pass",
        y_label="latency ratio (steered / unsteered)",
        series=series,
        hlines={"target 1.1": TARGET},
        log_x=True,
    )
    return BenchmarkResult(metrics=metrics, curves=[curve], timings=timings, notes=notes)


LLM_STEERING_SPEED: Benchmark[FactsWorldParams, TinyLlamaParams, SteeringSpeedParams] = Benchmark(
    name="unlearn-llm-steering-speed",
    summary="Test-time steering's forward-pass latency vs the unsteered model (target 1.1x).",
    default_spec=_spec,
    run=run_steering_speed,
    params_type=SteeringSpeedParams,
    worlds={WORLD_NAME: FactsWorldParams},
    models={MODEL_NAME: TinyLlamaParams},
    metric_names=STEERING_SPEED_METRIC_NAMES,
    max_seeds=1,
    kind="speed",
    quick_budget_s=60.0,
)
