"""The ``llm-s3t`` benchmark: exact unlearning by switching LoRA slices off (S3T).

S3T (arXiv:2406.16257, ``unlearn_llm/exact/s3t.py``) against SISA-style sharding and a
full retrain, on the facts world. Per seed:

1. a **base** model is trained on data that is never deleted (the holdout people and
   the general facts); every system starts from it;
2. the deletable data (retain + forget people's facts, the first ``deletable_facts``)
   trains the **S3T** system (shards x slices x sequences of LoRA adapters), the
   **SISA** system (one fully fine-tuned model per shard, same shards) and the **full**
   model (every parameter, every deletable fact);
3. ``deletions`` random facts are deleted one after another. S3T switches off the
   adapters that saw each (no training); SISA drops the shard that held it (its
   retrain cost is measured once); the full model is retrained without the first
   deleted fact (the cost any deletion has without sharding) and, at the end, without
   all of them: the **oracle**;
4. after the first deletion the affected S3T shard is retrained from scratch without
   the fact, and its served adapters are compared bit for bit (``exact_match``).

Reported: deletion cost in seconds and optimiser steps against the full retrain
measured in the same run (``deletion_speedup``; the issue's target is >= 50x), the
number of deletions each system serves before it must retrain (a deletion stream
replayed on the shard layout, ``stream_orders`` random orders), utility (exact-answer
accuracy on the facts not deleted) after each deletion, and forget quality: the
accuracy on the deleted facts against the oracle's.

Importing this module does not import torch; ``run_s3t`` does.
"""

from __future__ import annotations

import random
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
    Table,
)

from unlearn_llm.benchmarks._common import metric, single_seed_spec
from unlearn_llm.benchmarks.facts import MODEL_NAME, WORLD_NAME
from unlearn_llm.exact.params import S3TParams
from unlearn_llm.models import TinyLlamaParams, model_params_for
from unlearn_llm.worlds.facts import FactsWorldParams, world_params_for

if TYPE_CHECKING:
    from unlearn_llm.worlds.facts import QA


class S3TBenchParams(StrictModel):
    """The S3T system, the baselines' recipe, and the deletion stream."""

    s3t: S3TParams = Field(default_factory=S3TParams)
    deletable_facts: int = Field(
        default=0, ge=0, le=100_000, description="Deletable facts used (0: all of them)."
    )
    deletions: int = Field(default=8, ge=1, le=10_000, description="Deletions served and scored.")
    full_epochs: int = Field(default=20, ge=1, le=10_000, description="Epochs of the full model.")
    full_learning_rate: float = Field(default=3e-3, gt=0.0, le=1.0)
    stream_orders: int = Field(
        default=20, ge=1, le=10_000, description="Random deletion orders replayed on the layout."
    )
    check_exactness: bool = Field(
        default=True, description="Retrain the first deleted fact's shard and compare."
    )


S3TSpec = ParsedSpec[FactsWorldParams, TinyLlamaParams, S3TBenchParams]

S3T_METRIC_NAMES = frozenset(
    {
        "deletion_seconds",
        "deletion_steps",
        "full_retrain_seconds",
        "full_retrain_steps",
        "sisa_shard_retrain_seconds",
        "deletion_speedup",
        "deletion_step_speedup",
        "training_seconds",
        "training_steps",
        "deletions_before_retrain",
        "retain_accuracy",
        "retain_accuracy_after_deletions",
        "deleted_accuracy",
        "exact_match",
    }
)


def _quick_params() -> S3TBenchParams:
    return S3TBenchParams(
        s3t=S3TParams(
            shards=2,
            slices=3,
            sequences=2,
            epochs=12,
            min_stage_steps=48,
            learning_rate=1e-2,
            lora_rank=16,
            lora_alpha=32,
            batch_size=16,
        ),
        deletable_facts=60,
        deletions=6,
        full_epochs=20,
    )


def _spec(size: Size) -> BenchmarkSpec:
    run = (
        _quick_params()
        if size == "quick"
        else _quick_params().model_copy(update={"deletable_facts": 0, "deletions": 24})
    )
    return single_seed_spec("llm-s3t", size, world_params_for("quick"), model_params_for(size), run)


def deletions_before_retrain(
    layout: list[list[list[int]]],
    sequences: list[tuple[int, ...]] | None,
    order: list[int],
) -> int:
    """Deletions of ``order`` served before no shard is left; ``sequences=None`` is SISA
    (a shard dies at its first deletion), otherwise S3T with those slice sequences."""
    from unlearn_llm.exact.s3t import best_sequence

    where = {
        item: (shard, j)
        for shard, slices in enumerate(layout)
        for j, part in enumerate(slices)
        for item in part
    }
    dirty: list[set[int]] = [set() for _ in layout]
    for served, item in enumerate(order):
        shard, j = where[item]
        dirty[shard].add(j)
        alive = [
            (sequences is not None and best_sequence(sequences, d)[1] > 0) or not d for d in dirty
        ]
        if not any(alive):
            return served
    return len(order)


def _check(parsed: S3TSpec) -> None:
    from unlearn_llm.exact.params import check_params

    run = parsed.params
    people = parsed.world.people * (1 - parsed.world.holdout_fraction)
    if run.deletable_facts and run.deletable_facts < run.deletions:
        raise ValueError(
            f"params.deletions={run.deletions} exceeds params.deletable_facts="
            f"{run.deletable_facts}; delete fewer facts or use more"
        )
    if run.deletable_facts:
        check_params(run.s3t, run.deletable_facts)
    elif people < run.s3t.shards * run.s3t.slices:
        raise ValueError(f"about {people:.0f} deletable people cannot fill the shards and slices")


def run_s3t(parsed: S3TSpec, progress: Progress, out_dir: str) -> BenchmarkResult:
    """Base, S3T, SISA and full models; a deletion stream; costs and utility."""
    import torch

    from unlearn_llm.data import encode_facts
    from unlearn_llm.exact.s3t import (
        adapter_name,
        build_s3t,
        build_sisa,
        split_items,
        train_full,
        train_shard,
    )
    from unlearn_llm.models import build_model, exact_answer_accuracy, train_to_memorise
    from unlearn_llm.worlds.facts import build_world
    from unlearn_llm.worlds.tokenizer import train_tokenizer

    del out_dir
    run = parsed.params
    seed = parsed.seeds[0]
    config = run.s3t.model_copy(update={"seed": seed})
    progress.start(6 + run.deletions, "phases")
    timings: dict[str, float] = {}
    metrics: list[MetricValue] = []
    notes: list[str] = []
    labels = {"seed": str(seed)}

    start = time.perf_counter()
    torch.set_num_threads(parsed.model.threads)
    world = build_world(parsed.world, seed)
    tokenizer = train_tokenizer(world, vocab_size=parsed.model.vocab_size)
    public = world.split("holdout") + world.split("general")
    deletable: list[QA] = world.split("retain") + world.split("forget")
    if run.deletable_facts:
        deletable = deletable[: run.deletable_facts]
    base = build_model(parsed.model, seed)
    train_to_memorise(base, encode_facts(tokenizer, public), parsed.model, seed)
    timings["base model"] = time.perf_counter() - start
    progress.advance(1, "base model")

    s3t = build_s3t(base, tokenizer, deletable, config)
    timings["s3t training"] = s3t.train_seconds
    progress.advance(1, "s3t trained")
    sisa = build_sisa(base, tokenizer, deletable, config)
    timings["sisa training"] = sisa.train_seconds
    progress.advance(1, "sisa trained")
    full, full_steps, full_seconds = train_full(
        base, tokenizer, deletable, run.full_epochs, run.full_learning_rate, config.batch_size, seed
    )
    timings["full training"] = full_seconds
    progress.advance(1, "full model trained")

    order = random.Random(seed).sample(range(len(deletable)), k=run.deletions)

    def utility(model: Any, deleted: set[int]) -> tuple[float, float]:
        kept = [qa for i, qa in enumerate(deletable) if i not in deleted]
        gone = [deletable[i] for i in sorted(deleted)]
        kept_acc = exact_answer_accuracy(model, encode_facts(tokenizer, kept))
        gone_acc = exact_answer_accuracy(model, encode_facts(tokenizer, gone)) if gone else 0.0
        return kept_acc, gone_acc

    curves: dict[str, tuple[list[float], list[float]]] = {"S3T": ([], []), "SISA": ([], [])}
    for name, served in (("S3T", s3t), ("SISA", sisa)):
        curves[name][0].append(0.0)
        curves[name][1].append(utility(served.served_model(), set())[0])
    full_start = utility(full, set())[0]

    s3t_last = (0, curves["S3T"][1][0], 0.0)  # (deletions, retain acc, deleted acc)
    deletion_seconds: list[float] = []
    deleted: set[int] = set()
    s3t_served_until = run.deletions
    sisa_served_until = run.deletions
    for count, item in enumerate(order, start=1):
        record = s3t.delete(item)
        deletion_seconds.append(record.seconds)
        sisa.drop(item)
        deleted.add(item)
        for name, served in (("S3T", s3t), ("SISA", sisa)):
            if served.needs_retrain():
                if name == "S3T":
                    s3t_served_until = min(s3t_served_until, count - 1)
                else:
                    sisa_served_until = min(sisa_served_until, count - 1)
                continue
            kept_accuracy, gone_accuracy = utility(served.served_model(), deleted)
            curves[name][0].append(float(count))
            curves[name][1].append(kept_accuracy)
            if name == "S3T":
                s3t_last = (count, kept_accuracy, gone_accuracy)
        progress.advance(1, f"deletion {count}: s3t shard {record.shard} prefix {record.prefix}")

    # The cost of one deletion without sharding: retrain the full model without it.
    first = order[0]
    _, retrain_steps, retrain_seconds = train_full(
        base,
        tokenizer,
        [qa for i, qa in enumerate(deletable) if i != first],
        run.full_epochs,
        run.full_learning_rate,
        config.batch_size,
        seed,
    )
    timings["full retrain (one deletion)"] = retrain_seconds
    progress.advance(1, "full retrain timed")
    oracle, _, oracle_seconds = train_full(
        base,
        tokenizer,
        [qa for i, qa in enumerate(deletable) if i not in deleted],
        run.full_epochs,
        run.full_learning_rate,
        config.batch_size,
        seed,
    )
    timings["oracle"] = oracle_seconds
    oracle_kept, oracle_gone = utility(oracle, deleted)

    # SISA's own deletion cost: retrain the first deleted fact's shard from the base.
    shard = sisa.shard_of(first)
    _, sisa_steps, sisa_seconds = train_full(
        base,
        tokenizer,
        [deletable[i] for i in sisa.shard_items[shard] if i != first],
        config.epochs * config.slices,
        config.learning_rate,
        config.batch_size,
        seed,
    )
    timings["sisa shard retrain"] = sisa_seconds

    exact = None
    if run.check_exactness:
        start = time.perf_counter()
        affected = s3t.shards[s3t.item_shard[first]]
        slices = [[i for i in part if i != first] for part in affected.slices]
        reference = train_shard(base, tokenizer, deletable, slices, config, affected.index)
        # The prefix served right after the first deletion.
        dirty = {j for j, part in enumerate(affected.slices) if first in part}
        from unlearn_llm.exact.s3t import best_sequence

        sequence, prefix = best_sequence(affected.sequences, dirty)
        names = [adapter_name(sequence, p) for p in range(prefix)]
        ours = affected.model.state_dict()
        theirs = reference.model.state_dict()
        keys = [k for k in ours if any(f".{n}." in k for n in names)]
        exact = float(bool(keys) and all(torch.equal(ours[k], theirs[k]) for k in keys))
        timings["exactness check"] = time.perf_counter() - start
    progress.advance(1, "oracle and checks")

    # Deletions each system serves before a retrain, over random deletion orders.
    layout = split_items(len(deletable), config.shards, config.slices, seed)
    rng = random.Random(seed + 1)
    streams = [
        rng.sample(range(len(deletable)), k=len(deletable)) for _ in range(run.stream_orders)
    ]
    served_s3t = [deletions_before_retrain(layout, s3t.shards[0].sequences, o) for o in streams]
    served_sisa = [deletions_before_retrain(layout, None, o) for o in streams]
    progress.advance(1, "deletion streams replayed")

    s3t_deletion = sum(deletion_seconds) / len(deletion_seconds)
    speedup = retrain_seconds / max(s3t_deletion, 1e-9)
    # The oracle of the last deletions S3T served (all of them unless it ran out).
    served_count, s3t_kept, s3t_gone = s3t_last
    if served_count < len(order):
        served_deleted = set(order[:served_count])
        oracle, _, _ = train_full(
            base,
            tokenizer,
            [qa for i, qa in enumerate(deletable) if i not in served_deleted],
            run.full_epochs,
            run.full_learning_rate,
            config.batch_size,
            seed,
        )
        oracle_kept, oracle_gone = utility(oracle, served_deleted)
    for system, value, unit in (
        ("s3t", s3t_deletion, "s"),
        ("s3t", 0.0, "steps"),
        ("full", retrain_seconds, "s"),
        ("full", float(retrain_steps), "steps"),
    ):
        name = "deletion_seconds" if unit == "s" else "deletion_steps"
        if system == "full":
            name = "full_retrain_seconds" if unit == "s" else "full_retrain_steps"
        metrics.append(metric(name, value, "lower", {**labels, "system": system}, unit=unit))
    metrics.append(metric("sisa_shard_retrain_seconds", sisa_seconds, "lower", labels, unit="s"))
    metrics.append(
        metric(
            "deletion_speedup",
            speedup,
            "higher",
            labels,
            reference=50.0,
            reference_name="issue target (x cheaper than a full retrain)",
            unit="x",
        )
    )
    metrics.append(
        metric(
            "deletion_step_speedup",
            float(retrain_steps),
            "higher",
            labels,
            unit="full-retrain steps saved per deletion",
        )
    )
    for system, seconds, steps in (
        ("s3t", s3t.train_seconds, s3t.train_steps),
        ("sisa", sisa.train_seconds, sisa.train_steps),
        ("full", full_seconds, full_steps),
    ):
        sys_labels = {**labels, "system": system}
        metrics.append(metric("training_seconds", seconds, "lower", sys_labels, unit="s"))
        metrics.append(metric("training_steps", float(steps), "lower", sys_labels, unit="steps"))
    for system, values in (("s3t", served_s3t), ("sisa", served_sisa)):
        metrics.append(
            metric(
                "deletions_before_retrain",
                sum(values) / len(values),
                "higher",
                {**labels, "system": system},
                unit="deletions (mean over random orders)",
            )
        )
    for system, kept, gone in (
        ("s3t", s3t_kept, s3t_gone),
        ("oracle", oracle_kept, oracle_gone),
    ):
        sys_labels = {**labels, "system": system, "deletions": str(served_count)}
        metrics.append(
            metric(
                "retain_accuracy_after_deletions",
                kept,
                "higher",
                sys_labels,
                reference=oracle_kept if system != "oracle" else None,
            )
        )
        metrics.append(
            metric(
                "deleted_accuracy",
                gone,
                "lower",
                sys_labels,
                reference=oracle_gone if system != "oracle" else None,
            )
        )
    for system, value in (
        ("s3t", curves["S3T"][1][0]),
        ("sisa", curves["SISA"][1][0]),
        ("full", full_start),
    ):
        metrics.append(
            metric(
                "retain_accuracy", value, "higher", {**labels, "system": system, "deletions": "0"}
            )
        )
    if exact is not None:
        metrics.append(metric("exact_match", exact, "higher", labels))

    verdict = "reached" if speedup >= 50 else "missed"
    notes.append(
        f"Deletion cost: S3T {s3t_deletion * 1e6:.0f} us and 0 training steps per deletion "
        f"(adapters switched off) vs a full retrain of {retrain_seconds:.1f} s and "
        f"{retrain_steps} steps in the same run: {speedup:.3g}x cheaper (target 50x, "
        f"{verdict}); a SISA shard retrain costs {sisa_seconds:.1f} s ({sisa_steps} steps). "
        f"The price is paid up front: S3T trains {s3t.train_steps} steps "
        f"({s3t.train_seconds:.1f} s) against {full_steps} for the full model."
    )
    notes.append(
        f"Deletions served before a retrain (mean of {run.stream_orders} random orders, "
        f"{config.shards} shards x {config.slices} slices, {config.sequences} sequences): "
        f"S3T {sum(served_s3t) / len(served_s3t):.1f}, "
        f"SISA {sum(served_sisa) / len(served_sisa):.1f}."
    )
    if exact is not None:
        notes.append(
            "Exactness: after the first deletion the served adapters of the affected shard "
            + ("equal" if exact == 1.0 else "DIFFER from")
            + " (bit for bit) a from-scratch retrain of that shard without the fact."
        )
    notes.append(
        f"After {served_count} deletions: S3T retain accuracy {s3t_kept:.3f} and deleted-fact "
        f"accuracy {s3t_gone:.3f}; the full oracle {oracle_kept:.3f} and {oracle_gone:.3f}; "
        f"SISA (shards dropped) served until deletion {sisa_served_until}, S3T until "
        f"{s3t_served_until}."
    )
    series = [Series(label=name, x=xs, y=ys) for name, (xs, ys) in curves.items() if xs]
    table = Table(
        title="S3T vs SISA vs full retrain (one seed)",
        header=["system", "train steps", "deletion cost", "served before retrain", "retain acc 0"],
        rows=[
            [
                "S3T",
                str(s3t.train_steps),
                f"{s3t_deletion * 1e6:.0f} us, 0 steps",
                f"{sum(served_s3t) / len(served_s3t):.1f}",
                f"{curves['S3T'][1][0]:.3f}",
            ],
            [
                "SISA",
                str(sisa.train_steps),
                f"{sisa_seconds:.1f} s, {sisa_steps} steps (or drop the shard)",
                f"{sum(served_sisa) / len(served_sisa):.1f}",
                f"{curves['SISA'][1][0]:.3f}",
            ],
            [
                "full",
                str(full_steps),
                f"{retrain_seconds:.1f} s, {retrain_steps} steps",
                "0",
                f"{full_start:.3f}",
            ],
        ],
    )
    return BenchmarkResult(
        metrics=metrics,
        timings=timings,
        notes=notes,
        curves=[
            Curve(
                name="s3t-utility-vs-deletions",
                title="Retain accuracy as deletions are served without training",
                x_label="deletions served",
                y_label="exact-answer accuracy on the facts not deleted",
                series=series,
                hlines={"full retrain oracle": oracle_kept},
            )
        ],
        summary=table,
    )


LLM_S3T: Benchmark[FactsWorldParams, TinyLlamaParams, S3TBenchParams] = Benchmark(
    name="llm-s3t",
    summary="S3T exact unlearning (arXiv:2406.16257): LoRA slices off vs SISA and full retrain.",
    default_spec=_spec,
    run=run_s3t,
    params_type=S3TBenchParams,
    worlds={WORLD_NAME: FactsWorldParams},
    models={MODEL_NAME: TinyLlamaParams},
    metric_names=S3T_METRIC_NAMES,
    max_seeds=1,
    check=_check,
    kind="quality",
    quick_budget_s=180.0,
)
