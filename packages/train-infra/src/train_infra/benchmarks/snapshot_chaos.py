"""``snapshot-chaos``: SIGKILLs inside persist, bit flips, lost fragments, wrong targets.

The snapshot half of the crash-consistency suite (the store half is ``store-chaos`` in
``unlearn-bench``). Four fault kinds from `train_infra.snapshot.chaos`, each a number
of trials that end in ``survived`` or in one failure kind:

- ``kill-in-persist``: ``kills`` SIGKILLs of a forked writer inside
  `train_infra.snapshot.persist.persist`, half at random moments, half aimed at each
  stage in turn (files written, old copy aside, new copy published, ``LATEST`` moved);
  the restart must load the newest durable step or the one in flight and leave no
  temporary file;
- ``bit-flip``: every bit of a small snapshot's ``meta.json`` and ``LATEST`` (or
  ``metadata_flips`` of each) and ``shard_flips`` bits of its shard, one at a time;
- ``fragment-loss``: $m + 1$ of $k + m$ fragments lost with the rank's manager,
  ``fragment_trials`` times, half of them with an older step persisted to disk;
- ``wrong-optimizer``: eight wrong targets (SGD, AdamW, two groups, other shapes, a wider
  model, three malformed RNG states) that must be refused with nothing changed.

Metrics: per fault kind (label ``fault``) ``trials``, ``survived`` and each failure
count (``silent_wrong_restore``, ``silent_fresh_start``, ``lost_durable_copy``,
``partial_restore``, ``unnamed_errors``, ``leftovers``); ``failures``, their sum over
all kinds, must be 0. Also what the kills hit and the bits flipped per file.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from pydantic import Field
from unlearn_schema import (
    BenchmarkResult,
    BenchmarkSpec,
    Direction,
    MetricValue,
    NoParams,
    ParsedSpec,
    Progress,
    Size,
    StrictModel,
)
from unlearn_schema.recipes import spec_from_parts

from train_infra.benchmarks._common import metric
from train_infra.snapshot.outcomes import FAILURES as FAILURE_NAMES

COUNT_NAMES = ("trials", "survived", *FAILURE_NAMES)
CHAOS_METRIC_NAMES = frozenset(
    {*COUNT_NAMES, "failures", "kills_mid_persist", "kills_aimed", "bits_flipped", "wall_time"}
)


class ChaosRun(StrictModel):
    """How many faults of each kind."""

    kills: int = Field(default=100, ge=0, le=100_000, description="SIGKILLs inside persist.")
    shard_flips: int = Field(default=300, ge=0, le=1_000_000, description="Shard bits flipped.")
    metadata_flips: int | None = Field(
        default=None, ge=1, description="Bits of meta.json and LATEST flipped; None: every bit."
    )
    fragment_trials: int = Field(
        default=2, ge=0, le=100, description="m + 1 fragment losses (each restarts 2 managers)."
    )
    wrong_targets: bool = Field(default=True, description="Restore into the 8 wrong targets.")


def chaos_spec(size: Size) -> BenchmarkSpec:
    quick = size == "quick"
    run = ChaosRun() if quick else ChaosRun(kills=1_000, shard_flips=5_000, fragment_trials=6)
    return spec_from_parts("snapshot-chaos", size, params=run)


def run_chaos(
    parsed: ParsedSpec[NoParams, NoParams, ChaosRun], progress: Progress, out_dir: str
) -> BenchmarkResult:
    """Each fault kind in turn, in a scratch folder (module docstring)."""
    del out_dir
    import torch

    from train_infra.snapshot import chaos
    from train_infra.snapshot.outcomes import ChaosCounts

    run = parsed.params
    (seed,) = parsed.seeds
    progress.start(run.kills + 3, "faults")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: threads only contend with the forked writers
    began = time.perf_counter()
    results: dict[str, ChaosCounts] = {}
    seconds: dict[str, float] = {}
    metrics: list[MetricValue] = []
    try:
        with tempfile.TemporaryDirectory(prefix="snapshot-chaos-") as scratch:
            work = Path(scratch)

            def timed(fault: str, counts: ChaosCounts, start: float) -> None:
                results[fault], seconds[fault] = counts, time.perf_counter() - start
                progress.advance(0 if fault == "kill-in-persist" else 1, fault)

            if run.kills:
                start = time.perf_counter()
                counts, hits = chaos.kill_in_persist(
                    work / "kills", run.kills, seed, progress=lambda: progress.advance(1)
                )
                timed("kill-in-persist", counts, start)
                metrics.append(metric("kills_mid_persist", hits["mid_persist"]))
                metrics.append(metric("kills_aimed", hits["aimed"]))
            start = time.perf_counter()
            counts, flipped = chaos.flip_bits(
                work / "flips", run.shard_flips, seed, metadata_flips=run.metadata_flips
            )
            timed("bit-flip", counts, start)
            for name, count in flipped.items():
                metrics.append(metric("bits_flipped", count, labels={"file": name}))
            if run.fragment_trials:
                start = time.perf_counter()
                lost = chaos.lose_fragments(run.fragment_trials, work / "disk")
                timed("fragment-loss", lost, start)
            if run.wrong_targets:
                start = time.perf_counter()
                timed("wrong-optimizer", chaos.wrong_optimizer(), start)
    finally:
        torch.set_num_threads(threads)
    for fault, counts in results.items():
        values = counts.as_dict()
        for name in COUNT_NAMES:
            direction: Direction = "lower" if name in FAILURE_NAMES else "none"
            metrics.append(metric(name, values[name], direction, {"fault": fault}))
        labels = {"fault": fault}
        metrics.append(metric("wall_time", seconds[fault], "lower", labels, unit="s"))
    total = sum(counts.failures for counts in results.values())
    metrics.append(metric("failures", total, "lower"))
    metrics.append(metric("wall_time", time.perf_counter() - began, "lower", unit="s"))
    notes = [
        f"{fault}: {counts.trials} trials, {counts.survived} survived, "
        f"{counts.failures} failures" + (f" ({counts.examples})" if counts.examples else "")
        for fault, counts in results.items()
    ]
    return BenchmarkResult(metrics=metrics, notes=notes)
