"""The ``unlearn-llm-speed`` benchmark: unlearning steps against a plain training step.

Baseline (measured in the same run, on the same model and batch): one plain
forward + backward + AdamW step on the language-modelling loss. For each configuration
the time per unlearning step is the difference between runs of ``steps + 2`` and ``2``
steps divided by ``steps``, which cancels one-off setup (copying a reference model,
building optimisers). Every configuration is timed in ``rounds`` blocks that alternate
with baseline blocks, and its ratio is taken against the baseline blocks next to it, so
load that drifts on a shared CPU cancels. Peak memory (``memory``) is the peak resident
set size of a fresh subprocess running that configuration (sampled every millisecond)
and its rise over the resident size after setup (torch itself dominates the total at
these sizes).

Targets (issue 3): gradient ascent and NPO at most 1.3x the baseline step, the
geometric projection plug-in at most 2x (applied every step, k=1 retain gradient; the
default basis batch is half the forget batch, the full-size one is reported too). Each
target gives a ``ratio_to_baseline_met`` metric (1 met, 0 not). With ``versus_oracle``
the report also records the unlearning wall time needed to reach forget quality > 0.1
(what a second-seed oracle must pass) against the retrain oracle's wall time.

With ``distributed`` it also runs NPO on 1 and on 2 CPU ranks (gloo, through the
``torchrun -m unlearn_llm.distributed`` command line, ``benchmarks/_distributed.py``):
per-step time, bytes all-reduced per step, and how far apart the two results end.

Sizes: ``full`` is the quick facts world and model, batch 16, 20 timed steps, 3 rounds,
memory and the oracle comparison (what ``python -m unlearn_llm.speed_bench`` measured);
``quick`` shrinks world, model and steps so a test runs it in seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

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

from unlearn_llm.benchmarks._common import metric, single_seed_spec
from unlearn_llm.benchmarks._distributed import DISTRIBUTED_METRIC_NAMES, distributed_metrics
from unlearn_llm.benchmarks.facts import MODEL_NAME, WORLD_NAME
from unlearn_llm.models import TinyLlamaParams, model_params_for, tiny_model_params
from unlearn_llm.worlds.facts import FactsWorldParams, tiny_world_params, world_params_for

if TYPE_CHECKING:
    from unlearn_llm.methods import UnlearnData

BASELINE = "plain forward+backward+AdamW step (same model, same batch)"

CONFIGS: dict[str, tuple[str, dict[str, Any]]] = {
    "gradient-ascent": ("gradient-ascent", {}),
    "npo (no retain term)": ("npo", {"retain_weight": 0.0}),
    "npo + retain NLL": ("npo", {"retain_weight": 1.0}),
    "gradient-ascent + projection (k=1, default: retain rows = batch/2)": (
        "gradient-ascent",
        {"projection": {"retain_batches": 1, "refresh_every": 1}},
    ),
    "gradient-ascent + projection (k=1, retain rows = batch)": (
        "gradient-ascent",
        {"projection": {"retain_batches": 1, "refresh_every": 1, "retain_batch_size": "batch"}},
    ),
    "npo + projection (k=1, default: retain rows = batch/2)": (
        "npo",
        {"retain_weight": 0.0, "projection": {"retain_batches": 1, "refresh_every": 1}},
    ),
    "gradient-ascent + projection (k=2, refresh every 4)": (
        "gradient-ascent",
        {"projection": {"retain_batches": 2, "refresh_every": 4}},
    ),
}
TARGETS = {
    "gradient-ascent": 1.3,
    "npo (no retain term)": 1.3,
    "gradient-ascent + projection (k=1, default: retain rows = batch/2)": 2.0,
    "gradient-ascent + projection (k=1, retain rows = batch)": 2.0,
    "npo + projection (k=1, default: retain rows = batch/2)": 2.0,
    "gradient-ascent + projection (k=2, refresh every 4)": 2.0,
}
# Methods timed until they reach forget quality > 0.1 (with the versus_oracle part).
VERSUS_ORACLE: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("npo", "npo", {"learning_rate": 5e-4}),
    ("gradient-difference", "gradient-difference", {"learning_rate": 5e-4}),
    ("npo+gu", "npo", {"learning_rate": 5e-4, "projection": {"retain_batches": 2}}),
)
TARGET_FORGET_QUALITY = 0.1  # what an oracle of another seed is required to pass

SPEED_METRIC_NAMES = frozenset(
    {
        "baseline_seconds_per_step",
        "seconds_per_step",
        "baseline_seconds_per_step_same_blocks",
        "ratio_to_baseline",
        "ratio_to_baseline_met",
        "peak_memory",
        "memory_increase",
        "oracle_retrain_wall_time",
        "oracle_other_seed_forget_quality",
        "reached_target_forget_quality",
        "steps_to_target",
        "forget_quality_at_target",
        "unlearning_wall_time_to_target",
        "ratio_to_oracle_retrain",
        *DISTRIBUTED_METRIC_NAMES,
    }
)


class SpeedRunParams(StrictModel):
    """How long and how often to time, and which extra parts to measure."""

    steps: int = Field(default=20, ge=1, le=10_000, description="Timed steps per configuration.")
    batch_size: int = Field(default=16, ge=1, le=4096, description="Forget and retain rows.")
    rounds: int = Field(
        default=3, ge=1, le=100, description="Alternating method/baseline blocks per config."
    )
    memory: bool = Field(
        default=True, description="Peak memory of each configuration in a fresh subprocess."
    )
    versus_oracle: bool = Field(
        default=True, description="Time to forget quality > 0.1 vs the oracle's retrain time."
    )
    oracle_steps: int = Field(
        default=60, ge=2, le=10_000, description="Most unlearning steps to reach the target."
    )
    distributed: bool = Field(
        default=True,
        description="NPO on 1 and 2 gloo ranks (torchrun): step time, bytes all-reduced.",
    )


SpeedSpec = ParsedSpec[FactsWorldParams, TinyLlamaParams, SpeedRunParams]


def _sizes(size: Size) -> tuple[FactsWorldParams, TinyLlamaParams, SpeedRunParams]:
    if size == "full":
        return world_params_for("quick"), model_params_for("quick"), SpeedRunParams()
    world, model = tiny_world_params(), tiny_model_params()
    run = SpeedRunParams(
        steps=3, batch_size=8, rounds=1, memory=False, oracle_steps=4, distributed=False
    )
    return world, model, run


def _spec(size: Size) -> BenchmarkSpec:
    world, model, run = _sizes(size)
    return single_seed_spec("unlearn-llm-speed", size, world, model, run)


def _setup(
    world_params: FactsWorldParams, model_params: TinyLlamaParams, seed: int, batch_size: int
) -> tuple[Any, UnlearnData]:
    """A fresh model and one fixed batch of forget and retain rows of equal size."""
    import torch

    from unlearn_llm.methods import make_unlearn_data
    from unlearn_llm.models import build_model
    from unlearn_llm.worlds.facts import build_world
    from unlearn_llm.worlds.tokenizer import train_tokenizer

    torch.set_num_threads(1)
    world = build_world(world_params, seed)
    tokenizer = train_tokenizer(world, vocab_size=model_params.vocab_size)
    model = build_model(model_params, seed)
    data = make_unlearn_data(tokenizer, world.split("forget"), world.split("retain"))
    data.forget = data.forget.subset(slice(0, batch_size)).trimmed()
    data.retain = data.retain.subset(slice(0, batch_size)).trimmed()
    data.forget_idk = None
    return model, data


def _baseline_seconds(model: Any, data: UnlearnData, steps: int) -> float:
    import torch

    from unlearn_llm.data import answer_nll

    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    model.train()

    def step() -> None:
        loss = answer_nll(model, data.forget)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    for _ in range(3):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


def _method_seconds(
    model: Any, data: UnlearnData, name: str, extra: dict[str, Any], steps: int
) -> float:
    import copy

    from unlearn_llm.methods import METHODS

    record = METHODS[name]
    projection = extra.get("projection")
    if projection is not None and projection.get("retain_batch_size") == "batch":
        extra = {**extra, "projection": {**projection, "retain_batch_size": len(data.forget)}}
    raw = {"learning_rate": 1e-4, "batch_size": len(data.forget), "eval_every": 10**5, **extra}
    short, long = 2, 2 + steps
    warm, few, many = (
        record.validate_params({**raw, "steps": n}, f"configs[{name}]") for n in (2, short, long)
    )
    record.function(copy.deepcopy(model), data, warm)
    start = time.perf_counter()
    record.function(copy.deepcopy(model), data, few)
    t_short = time.perf_counter() - start
    start = time.perf_counter()
    record.function(copy.deepcopy(model), data, many)
    t_long = time.perf_counter() - start
    return max(t_long - t_short, 1e-9) / (long - short)


def _resident_mib() -> float:
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_memory_child(
    config: str, world_json: str, model_json: str, seed: str, batch_size: str, steps: str
) -> None:
    """Run one configuration; print its peak resident memory and the rise over setup.

    A thread samples the resident set size every millisecond, because the process-wide
    peak is set by imports and setup, not by the unlearning steps of a tiny model.
    """
    import threading

    model, data = _setup(
        FactsWorldParams.model_validate_json(world_json),
        TinyLlamaParams.model_validate_json(model_json),
        int(seed),
        int(batch_size),
    )
    before = _resident_mib()
    peak = [before]
    running = [True]

    def sample() -> None:
        while running[0]:
            peak[0] = max(peak[0], _resident_mib())
            time.sleep(0.001)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    if config == "baseline":
        _baseline_seconds(model, data, int(steps))
    else:
        name, extra = CONFIGS[config]
        _method_seconds(model, data, name, extra, int(steps))
    running[0] = False
    sampler.join()
    print(json.dumps({"peak_rss_mib": peak[0], "increase_mib": peak[0] - before}))


def _peak_memory(config: str, parsed: SpeedSpec) -> dict[str, float] | None:
    run = parsed.params
    code = (
        "import sys; from unlearn_llm.benchmarks.speed import _peak_memory_child; "
        "_peak_memory_child(*sys.argv[1:])"
    )
    arguments = [
        config,
        parsed.world.model_dump_json(),
        parsed.model.model_dump_json(),
        str(parsed.seeds[0]),
        str(run.batch_size),
        str(min(run.steps, 5)),
    ]
    done = subprocess.run([sys.executable, "-c", code, *arguments], capture_output=True, text=True)
    if done.returncode != 0:
        return None
    row = json.loads(done.stdout.strip().splitlines()[-1])
    return {key: float(value) for key, value in row.items()}


def _versus_oracle(parsed: SpeedSpec, notes: list[str]) -> list[MetricValue]:
    """Time for a method to reach forget quality > 0.1 vs the oracle's retrain time."""
    import copy

    from unlearn_llm.methods import METHODS, make_unlearn_data
    from unlearn_llm.metrics.evaluate import score_facts
    from unlearn_llm.metrics.tofu import forget_quality
    from unlearn_llm.models import trained_model
    from unlearn_llm.worlds.facts import build_world
    from unlearn_llm.worlds.tokenizer import train_tokenizer

    seed, params = parsed.seeds[0], parsed.model
    world = build_world(parsed.world, seed)
    tokenizer = train_tokenizer(world, vocab_size=params.vocab_size)
    original = trained_model(world, "original", seed, params, tokenizer)
    oracle = trained_model(world, "oracle", seed, params, tokenizer)
    second = trained_model(world, "oracle", seed + 1000, params, tokenizer)
    forget = world.split("forget")
    oracle_ratios = score_facts(oracle.model, tokenizer, forget, generate=False).truth_ratio
    second_fq = forget_quality(
        score_facts(second.model, tokenizer, forget, generate=False).truth_ratio, oracle_ratios
    )
    data = make_unlearn_data(
        tokenizer,
        forget,
        world.split("retain"),
        world.passage_split("forget"),
        world.passage_split("retain"),
    )
    oracle_seconds = float(oracle.log["wall_time_s"])
    metrics = [
        metric("oracle_retrain_wall_time", oracle_seconds, "none", {}, unit="s"),
        metric("oracle_other_seed_forget_quality", second_fq, "higher", {}),
    ]
    steps = parsed.params.oracle_steps
    for label, name, extra in VERSUS_ORACLE:
        record = METHODS[name]
        method_params = record.validate_params({**extra, "steps": steps, "eval_every": 2}, label)
        model = copy.deepcopy(original.model)
        reached: dict[str, float] = {}
        evaluation_seconds = [0.0]
        start = time.perf_counter()

        def on_step(
            step: int,
            current: Any,
            reached: dict[str, float] = reached,
            spent: list[float] = evaluation_seconds,
            start: float = start,
        ) -> None:
            began = time.perf_counter()
            ratios = score_facts(current, tokenizer, forget, generate=False).truth_ratio
            fq = forget_quality(ratios, oracle_ratios)
            if fq > TARGET_FORGET_QUALITY and "step" not in reached:
                reached.update(step=step, fq=fq, seconds=began - start - spent[0])
            spent[0] += time.perf_counter() - began

        record.function(model, data, method_params, on_step=on_step)
        labels = {"method": label}
        metrics.append(
            metric("reached_target_forget_quality", float("step" in reached), "higher", labels)
        )
        if "step" in reached:
            seconds = reached["seconds"]
            metrics += [
                metric("steps_to_target", reached["step"], "lower", labels),
                metric("forget_quality_at_target", reached["fq"], "higher", labels),
                metric("unlearning_wall_time_to_target", seconds, "lower", labels, unit="s"),
                metric("ratio_to_oracle_retrain", seconds / oracle_seconds, "lower", labels),
            ]
            notes.append(
                f"{label}: forget quality {reached['fq']:.2g} > {TARGET_FORGET_QUALITY} after "
                f"{int(reached['step'])} steps, {seconds:.2f} s of unlearning "
                f"({seconds / oracle_seconds:.3f}x the oracle's {oracle_seconds:.1f} s retrain)."
            )
        else:
            notes.append(f"{label}: forget quality stayed <= 0.1 within {steps} steps.")
    notes.append(
        "time to target: unlearning time until forget quality first exceeds 0.1 (evaluation "
        f"time excluded; at most {steps} steps) vs the oracle's training wall time as recorded "
        "when it was trained (possibly cached)."
    )
    return metrics


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f} on {os.cpu_count()} CPUs"


def run_speed(parsed: SpeedSpec, progress: Progress, out_dir: str) -> BenchmarkResult:
    """Time every configuration against the baseline; memory and oracle parts if asked."""
    del out_dir  # everything is in the metrics
    run = parsed.params
    load_before = _load()
    progress.start(
        len(CONFIGS)
        + (len(CONFIGS) + 1 if run.memory else 0)
        + int(run.versus_oracle)
        + int(run.distributed),
        "configurations",
    )
    metrics: list[MetricValue] = []
    notes: list[str] = []
    timings: dict[str, float] = {}
    started = time.perf_counter()
    model, data = _setup(parsed.world, parsed.model, parsed.seeds[0], run.batch_size)
    # Shared CPUs drift: each configuration is timed in alternating blocks with the
    # baseline, and its ratio is the sum of its blocks over the sum of the baseline's.
    baseline_total = 0.0
    for label, (name, extra) in CONFIGS.items():
        method_time = base_time = 0.0
        for _ in range(run.rounds):
            base_time += _baseline_seconds(model, data, run.steps)
            method_time += _method_seconds(model, data, name, extra, run.steps)
        baseline_total += base_time / run.rounds
        ratio = method_time / base_time
        target = TARGETS.get(label)
        labels = {"config": label}
        metrics += [
            metric("seconds_per_step", method_time / run.rounds, "lower", labels, unit="s"),
            metric(
                "baseline_seconds_per_step_same_blocks",
                base_time / run.rounds,
                "none",
                labels,
                unit="s",
            ),
            metric("ratio_to_baseline", ratio, "lower", labels, target, reference_name="target"),
        ]
        verdict = "no target"
        if target is not None:
            met = ratio <= target
            metrics.append(metric("ratio_to_baseline_met", float(met), "higher", labels))
            verdict = f"target {target}: {'met' if met else 'NOT met'}"
        notes.append(f"{label}: {ratio:.2f}x baseline ({verdict}).")
        progress.advance(1, label)
    baseline = baseline_total / len(CONFIGS)
    metrics.append(metric("baseline_seconds_per_step", baseline, "none", {}, unit="s"))
    timings["timing"] = time.perf_counter() - started
    if run.memory:
        started = time.perf_counter()
        for label in ["baseline", *CONFIGS]:
            row = _peak_memory(label, parsed)
            progress.advance(1, f"memory: {label}")
            if row is None:
                notes.append(f"peak memory of {label}: the subprocess failed, not measured.")
                continue
            labels = {"config": label}
            metrics += [
                metric("peak_memory", row["peak_rss_mib"], "lower", labels, unit="MiB"),
                metric("memory_increase", row["increase_mib"], "lower", labels, unit="MiB"),
            ]
        timings["memory"] = time.perf_counter() - started
    if run.versus_oracle:
        started = time.perf_counter()
        metrics += _versus_oracle(parsed, notes)
        progress.advance(1, "versus oracle")
        timings["versus_oracle"] = time.perf_counter() - started
    if run.distributed:
        started = time.perf_counter()
        metrics += distributed_metrics(
            parsed.world, parsed.model, parsed.seeds[0], run.batch_size, run.steps, notes
        )
        progress.advance(1, "1 and 2 gloo ranks")
        timings["distributed"] = time.perf_counter() - started
    notes[:0] = [
        f"baseline: {BASELINE}, {baseline * 1e3:.2f} ms per step; batch {run.batch_size}, "
        f"{run.steps} timed steps x {run.rounds} rounds per configuration, 1 torch thread.",
        f"machine load (1 / 5 / 15 min load average): {load_before} at the start, "
        f"{_load()} at the end.",
    ]
    return BenchmarkResult(metrics=metrics, timings=timings, notes=notes)


LLM_SPEED: Benchmark[FactsWorldParams, TinyLlamaParams, SpeedRunParams] = Benchmark(
    name="unlearn-llm-speed",
    summary="Unlearning step time vs a plain training step (GA, NPO, GU), memory, vs retrain.",
    default_spec=_spec,
    run=run_speed,
    params_type=SpeedRunParams,
    worlds={WORLD_NAME: FactsWorldParams},
    models={MODEL_NAME: TinyLlamaParams},
    metric_names=SPEED_METRIC_NAMES,
    max_seeds=1,
    kind="speed",
    quick_budget_s=60.0,
)
