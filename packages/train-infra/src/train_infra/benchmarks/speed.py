"""``train-infra-speed``: speed and overhead of train-infra against baselines of the same run.

``uv run unlearn-bench run train-infra-speed --size full --out runs/nightly`` writes
``runs/nightly/train-infra-speed/<run id>.json``. Ratios reported (each goal from issue 7
also as ``<ratio>_met``, 1.0 when met, and as the ratio's ``reference``):

- ``snapshot_step_overhead``: median step with every-step `PingPongAdamW` snapshots over
  the faster of the two steps without snapshots (``torch.optim.AdamW``, or
  `PingPongAdamW` never snapshotted), minus one (goal ≤ 0.03), MLP of
  ``params_millions`` M parameters at batch 32; ``snapshot_step_overhead_batch256`` the
  same at batch 256 (goal ≤ 0.03); ``copy_snapshot_step_overhead`` the copy path (any
  optimizer), ``pingpong_no_snapshot_step_overhead`` the ping-pong optimizer alone,
  ``pingpong_floor_step_overhead`` where the floor is (its out-of-place update every
  step, no snapshot) and ``snapshot_over_pingpong_floor`` what the snapshot adds to it,
  ``memcpy_state_vs_step`` one plain copy of parameters and moments over a step;
- ``snapshot_vs_torch_save``, ``restore_vs_torch_load`` and, where DCP's single-process
  mode works, ``snapshot_vs_dcp_save_model_only``, ``restore_vs_dcp_load_model_only``,
  ``restore_vs_dcp_load`` (model and optimizer, the state our restore brings back; goal
  ≤ 1, issue 20), ``pingpong_restore_vs_dcp_load``, and where the floor is:
  ``restore_floor_vs_dcp_load``, one CRC-32 pass (the check before anything changes)
  plus one plain copy of the state, over DCP's load;
- against ``torch.distributed.checkpoint.async_save`` of model and optimizer after every
  step (issue 20), same model and steps: ``dcp_async_step_overhead`` (its every-step
  overhead, to set beside ``snapshot_step_overhead``), ``snapshot_vs_dcp_async_durable``
  (our commit to the manager over DCP's call-to-files-written time),
  ``persist_vs_dcp_async_durable`` (our safetensors persistence over it) and
  ``pingpong_bytes_vs_dcp_async`` (bytes a snapshot copies over the bytes async_save
  stages and writes);
- ``encode_vs_zfec`` (goal ≥ 1): our erasure-coding throughput (parity plus a CRC-32 of
  every fragment) over zfec's on the same ``k`` blocks; ``parity_only_vs_zfec`` without
  our checksums; both left out when zfec (the ``zfec`` extra) is not installed;
- on a power-law graph (degree exponent 2.5, ``gather_nodes`` nodes, 64 float32
  features), the file's pages dropped before every read: ``gather_speedup_vs_naive``
  (per-row over per-batch packed reads, goal ≥ 5), ``gather_time_vs_in_memory`` (packed,
  20 % RAM cache, 8 batches per ``preadv``, over a gather from RAM; goal ≤ 1.5),
  ``gather_cold_time_vs_in_memory`` (no cache), ``gather_per_batch_cold_time_vs_in_memory``
  (no cache, one read per batch), ``storage_floor_vs_in_memory`` (and ``_cached``: the
  cold bytes at the storage's sequential speed), ``train_epoch_prefetched_vs_in_memory``.

The raw timings are metrics too (unit ``s``), labelled with the measurement they belong
to. One seed (it fixes weights, data and graph; the numbers are timings).
"""

from __future__ import annotations

import os
import time
from typing import Any

from pydantic import Field
from unlearn_schema.base import StrictModel
from unlearn_schema.configs import BenchmarkSpec, Size
from unlearn_schema.plugins import NoParams, ParsedSpec, Progress
from unlearn_schema.recipes import Goal, machine_load_note, met_flag, spec_from_parts
from unlearn_schema.results import BenchmarkResult, Direction, MetricValue

from train_infra.benchmarks._common import metric


class SpeedRun(StrictModel):
    """Sizes of the measurements (full: what issue 7's numbers were measured at)."""

    params_millions: float = Field(
        default=100.0, gt=0.0, le=10_000.0, description="MLP of 4 square layers, M parameters."
    )
    blocks: int = Field(default=10, ge=1, le=1000, description="Timed blocks at batch 32.")
    blocks_batch256: int = Field(default=4, ge=1, le=1000, description="Timed blocks at 256.")
    block_steps: int = Field(default=3, ge=1, le=100, description="Steps per block and mode.")
    erasure_megabytes: int = Field(default=256, ge=1, le=65_536)
    k: int = Field(default=4, ge=1, le=16, description="Data fragments.")
    m: int = Field(default=2, ge=1, le=16, description="Parity fragments.")
    gather_nodes: int = Field(default=2_000_000, ge=2_000, le=100_000_000)
    gather_features: int = Field(default=64, ge=1, le=4096)
    gather_batches: int = Field(default=40, ge=1, le=10_000, description="Batches timed.")


# Tiny: a smoke run of every measurement in seconds (a test runs it); ratios meaningless.
QUICK = SpeedRun(
    params_millions=0.05,
    blocks=1,
    blocks_batch256=1,
    block_steps=1,
    erasure_megabytes=2,
    gather_nodes=3_000,
    gather_features=16,
    gather_batches=1,
)

# The goals of issue 7; the flag ``<name>_met`` is 1.0 when the ratio meets its goal.
GOALS: dict[str, Goal] = {
    "snapshot_step_overhead": Goal("<=", 0.03),
    "snapshot_step_overhead_batch256": Goal("<=", 0.03),
    "encode_vs_zfec": Goal(">=", 1.0),
    "gather_speedup_vs_naive": Goal(">=", 5.0),
    "gather_time_vs_in_memory": Goal("<=", 1.5),
    "restore_vs_dcp_load": Goal("<=", 1.0),  # issue 20
}
# Ratios where more is better; the others are time or overhead ratios (less is better).
_HIGHER = {"encode_vs_zfec", "parity_only_vs_zfec", "gather_speedup_vs_naive"}
_CONTEXT = {
    "memcpy_state_vs_step",
    "restore_floor_vs_dcp_load",
    "storage_floor_vs_in_memory",
    "storage_floor_cached_vs_in_memory",
}
RATIOS = (
    "snapshot_step_overhead",
    "snapshot_step_overhead_batch256",
    "copy_snapshot_step_overhead",
    "pingpong_no_snapshot_step_overhead",
    "pingpong_floor_step_overhead",
    "snapshot_over_pingpong_floor",
    "memcpy_state_vs_step",
    "snapshot_vs_torch_save",
    "restore_vs_torch_load",
    "snapshot_vs_dcp_save_model_only",
    "restore_vs_dcp_load_model_only",
    "restore_vs_dcp_load",
    "pingpong_restore_vs_dcp_load",
    "restore_floor_vs_dcp_load",
    "dcp_async_step_overhead",
    "snapshot_vs_dcp_async_durable",
    "persist_vs_dcp_async_durable",
    "pingpong_bytes_vs_dcp_async",
    "encode_vs_zfec",
    "parity_only_vs_zfec",
    "gather_speedup_vs_naive",
    "gather_time_vs_in_memory",
    "gather_cold_time_vs_in_memory",
    "gather_per_batch_cold_time_vs_in_memory",
    "storage_floor_vs_in_memory",
    "storage_floor_cached_vs_in_memory",
    "train_epoch_prefetched_vs_in_memory",
)
_STEP_TIMINGS = (
    "step_s_plain",
    "step_s_copy",
    "step_s_pingpong_plain",
    "step_s_pingpong",
    "step_s_pingpong_flip",
)
# measurement -> the keys of its dict reported as raw timings (unit "s").
TIMINGS: dict[str, tuple[str, ...]] = {
    "snapshots": (
        *_STEP_TIMINGS,
        "memcpy_state_s",
        "pingpong_commit_s",
        "snapshot_wait_s_total",
        "snapshot_blocking_s",
        "restore_s",
        "pingpong_restore_s",
        "torch_save_s",
        "torch_load_s",
        "dcp_save_model_only_s",
        "dcp_load_model_only_s",
        "dcp_save_s",
        "dcp_load_s",
        "restore_crc_s",
        "step_s_dcp_async",
        "dcp_async_call_s",
        "dcp_async_durable_s",
        "persist_safetensors_s",
    ),
    "snapshots_batch256": _STEP_TIMINGS,
    "gather": (
        "naive_s",
        "packed_s",
        "packed_window_s",
        "packed_cached_window_s",
        "in_memory_s",
        "storage_floor_s",
        "storage_floor_cached_s",
        "train_epoch_in_memory_s",
        "train_epoch_prefetched_s",
    ),
}
THROUGHPUTS = ("ours_mb_s", "ours_parity_only_mb_s", "zfec_mb_s")
BYTES = ("pingpong_bytes_copied", "copy_bytes_copied", "dcp_async_bytes_copied")
SPEED_METRIC_NAMES = frozenset(
    {*RATIOS, *(f"{name}_met" for name in GOALS), *THROUGHPUTS, *BYTES, "cache_hit_rate"}
    | {name for names in TIMINGS.values() for name in names}
    | {"storage_sequential_gb_s", "in_memory_gb_s"}
)


def speed_spec(size: Size) -> BenchmarkSpec:
    run = QUICK if size == "quick" else SpeedRun()
    return spec_from_parts("train-infra-speed", size, params=run)


def ratios_of(
    snapshots: dict[str, Any],
    large_batch: dict[str, Any],
    erasure: dict[str, Any],
    gather: dict[str, Any],
) -> dict[str, float | None]:
    """Every ratio of the module docstring; None where its baseline was not measured."""
    zfec = erasure["zfec_mb_s"]
    ratios: dict[str, float | None] = {
        # Against the faster of the two snapshot-free steps, so a faster optimizer
        # cannot hide the cost of the snapshots themselves.
        "snapshot_step_overhead": snapshots["step_s_pingpong"]
        / min(snapshots["step_s_plain"], snapshots["step_s_pingpong_plain"])
        - 1,
        "snapshot_step_overhead_batch256": large_batch["step_s_pingpong"]
        / min(large_batch["step_s_plain"], large_batch["step_s_pingpong_plain"])
        - 1,
        "copy_snapshot_step_overhead": snapshots["step_s_copy"] / snapshots["step_s_plain"] - 1,
        "pingpong_no_snapshot_step_overhead": (
            snapshots["step_s_pingpong_plain"] / snapshots["step_s_plain"] - 1
        ),
        # Where the floor is: the out-of-place update alone (no snapshot) over the same
        # baseline, and what the snapshot adds on top of it.
        "pingpong_floor_step_overhead": snapshots["step_s_pingpong_flip"]
        / min(snapshots["step_s_plain"], snapshots["step_s_pingpong_plain"])
        - 1,
        "snapshot_over_pingpong_floor": snapshots["step_s_pingpong"]
        / snapshots["step_s_pingpong_flip"]
        - 1,
        "memcpy_state_vs_step": snapshots["memcpy_state_s"] / snapshots["step_s_plain"],
        "snapshot_vs_torch_save": snapshots["snapshot_blocking_s"] / snapshots["torch_save_s"],
        "restore_vs_torch_load": snapshots["restore_s"] / snapshots["torch_load_s"],
        "snapshot_vs_dcp_save_model_only": None,
        "restore_vs_dcp_load_model_only": None,
        "restore_vs_dcp_load": None,
        "pingpong_restore_vs_dcp_load": None,
        "restore_floor_vs_dcp_load": None,
        "dcp_async_step_overhead": None,
        "snapshot_vs_dcp_async_durable": None,
        "persist_vs_dcp_async_durable": None,
        "pingpong_bytes_vs_dcp_async": None,
        "encode_vs_zfec": erasure["ours_mb_s"] / zfec if zfec else None,
        "parity_only_vs_zfec": erasure["ours_parity_only_mb_s"] / zfec if zfec else None,
        "gather_speedup_vs_naive": gather["naive_s"] / gather["packed_s"],
        "gather_time_vs_in_memory": gather["packed_cached_window_s"] / gather["in_memory_s"],
        "gather_cold_time_vs_in_memory": gather["packed_window_s"] / gather["in_memory_s"],
        "gather_per_batch_cold_time_vs_in_memory": gather["packed_s"] / gather["in_memory_s"],
        "storage_floor_vs_in_memory": gather["storage_floor_s"] / gather["in_memory_s"],
        "storage_floor_cached_vs_in_memory": (
            gather["storage_floor_cached_s"] / gather["in_memory_s"]
        ),
        "train_epoch_prefetched_vs_in_memory": (
            gather["train_epoch_prefetched_s"] / gather["train_epoch_in_memory_s"]
        ),
    }
    if "dcp_save_model_only_s" in snapshots:
        ratios["snapshot_vs_dcp_save_model_only"] = (
            snapshots["snapshot_blocking_s"] / snapshots["dcp_save_model_only_s"]
        )
        ratios["restore_vs_dcp_load_model_only"] = (
            snapshots["restore_s"] / snapshots["dcp_load_model_only_s"]
        )
        load = snapshots["dcp_load_s"]
        ratios["restore_vs_dcp_load"] = snapshots["restore_s"] / load
        ratios["pingpong_restore_vs_dcp_load"] = snapshots["pingpong_restore_s"] / load
        floor = snapshots["restore_crc_s"] + snapshots["memcpy_state_s"]
        ratios["restore_floor_vs_dcp_load"] = floor / load
    if "step_s_dcp_async" in snapshots:
        durable = snapshots["dcp_async_durable_s"]
        ratios["dcp_async_step_overhead"] = (
            snapshots["step_s_dcp_async"] / snapshots["step_s_plain"] - 1
        )
        ratios["snapshot_vs_dcp_async_durable"] = snapshots["pingpong_commit_s"] / durable
        ratios["persist_vs_dcp_async_durable"] = snapshots["persist_safetensors_s"] / durable
        ratios["pingpong_bytes_vs_dcp_async"] = (
            snapshots["pingpong_bytes_copied"] / snapshots["dcp_async_bytes_copied"]
        )
    return ratios


def _direction(name: str) -> Direction:
    if name in _HIGHER:
        return "higher"
    return "none" if name in _CONTEXT else "lower"


def run_speed(
    parsed: ParsedSpec[NoParams, NoParams, SpeedRun], progress: Progress, out_dir: str
) -> BenchmarkResult:
    """Measure, then report ratios, goal flags, raw timings and the machine load."""
    del out_dir
    import warnings

    from train_infra.benchmarks.speed_measurements import (
        bench_erasure,
        bench_gather,
        bench_snapshots,
    )

    run = parsed.params
    (seed,) = parsed.seeds
    load_before = os.getloadavg()
    progress.start(4, "measurements")
    phases: dict[str, float] = {}
    began = time.perf_counter()
    with warnings.catch_warnings():
        # torch.distributed.checkpoint warns that it runs without a process group: intended.
        warnings.filterwarnings("ignore", message="torch.distributed is disabled")
        snapshots = bench_snapshots(
            run.params_millions, run.blocks, run.block_steps, seed=seed, dcp_async=True
        )
        phases["snapshots"] = time.perf_counter() - began
        progress.advance(1, "snapshots, batch 32")
        # The same at batch 256: the snapshot's cost per step is fixed (memory traffic of
        # the out-of-place update), so its share depends on how much compute a step holds.
        began = time.perf_counter()
        large_batch = bench_snapshots(
            run.params_millions, run.blocks_batch256, run.block_steps, batch=256, seed=seed
        )
        phases["snapshots_batch256"] = time.perf_counter() - began
        progress.advance(1, "snapshots, batch 256")
    began = time.perf_counter()
    erasure = bench_erasure(run.erasure_megabytes, run.k, run.m, seed=seed)
    phases["erasure"] = time.perf_counter() - began
    progress.advance(1, "erasure coding")
    began = time.perf_counter()
    gather = bench_gather(run.gather_nodes, run.gather_features, run.gather_batches, seed=seed)
    phases["gather"] = time.perf_counter() - began
    progress.advance(1, "feature gathers")
    load_after = os.getloadavg()

    ratios = ratios_of(snapshots, large_batch, erasure, gather)
    metrics: list[MetricValue] = []
    notes: list[str] = []
    for name in RATIOS:
        value, goal = ratios[name], GOALS.get(name)
        if value is not None:
            metrics.append(
                metric(
                    name,
                    value,
                    _direction(name),
                    unit="ratio",
                    reference=goal.bound if goal else None,
                    reference_name=f"goal ({goal})" if goal else None,
                )
            )
    for name, goal in GOALS.items():
        value = ratios[name]
        if value is None:
            notes.append(f"{name}: not measured (its baseline is missing), no goal flag")
            continue
        met = goal.met(value)
        metrics.append(met_flag(f"{name}_met", met, reference=1.0, reference_name=str(goal)))
        notes.append(f"{name}: {value:.3g} (goal {goal}): {'met' if met else 'NOT met'}")
    measured = {"snapshots": snapshots, "snapshots_batch256": large_batch, "gather": gather}
    for measurement, keys in TIMINGS.items():
        batch = {"snapshots": "32", "snapshots_batch256": "256"}.get(measurement)
        labels = {"measurement": measurement, **({"batch": batch} if batch else {})}
        for key in keys:
            if key in measured[measurement]:
                seconds = float(measured[measurement][key])
                metrics.append(metric(key, seconds, "lower", labels, unit="s"))
    for key in BYTES:
        if key in snapshots:
            labels = {"measurement": "snapshots", "batch": "32"}
            metrics.append(metric(key, float(snapshots[key]), "lower", labels, unit="bytes"))
    code = {"k": str(erasure["k"]), "m": str(erasure["m"]), "megabytes": str(erasure["megabytes"])}
    for key in THROUGHPUTS:
        if erasure[key] is not None:
            metrics.append(metric(key, erasure[key], "higher", code, unit="MB/s"))
    graph = {"measurement": "gather", "nodes": str(gather["num_nodes"])}
    metrics += [
        metric("cache_hit_rate", gather["cache_hit_rate"], "higher", graph, unit="fraction"),
        metric(
            "storage_sequential_gb_s", gather["storage_sequential_gb_s"], "none", graph, unit="GB/s"
        ),
        metric("in_memory_gb_s", gather["in_memory_gb_s"], "none", graph, unit="GB/s"),
    ]
    overhead = ratios["snapshot_step_overhead"]
    if overhead is not None:
        verdict = "met" if overhead < 0.02 else "NOT met"
        notes.append(f"snapshot_step_overhead {overhead:.3g}: issue 20's goal < 0.02 {verdict}")
        floor = ratios["pingpong_floor_step_overhead"]
        above = ratios["snapshot_over_pingpong_floor"]
        notes.append(
            f"the floor: the out-of-place update alone (no snapshot) costs {floor:+.3g} of a "
            f"step (writes into lines no cache holds); the snapshot adds {above:+.3g} on top "
            f"(header {snapshots['pingpong_commit_s'] * 1e3:.2f} ms of commit per step)"
        )
    if "dcp_error" in snapshots:
        notes.append(f"torch.distributed.checkpoint not compared: {snapshots['dcp_error']}")
    notes += [
        "Baselines, timed in the same run: torch.optim.AdamW steps without snapshots, "
        "torch.save/torch.load and torch.distributed.checkpoint (save, load, async_save "
        "every step) of the same state, zfec on "
        "the same blocks, per-row reads of the same file, and gathers of the same rows "
        "from RAM.",
        f"MLP of {snapshots['params'] / 1e6:.1f} M parameters "
        f"({snapshots['state_bytes'] / 1e9:.2f} GB of parameters and AdamW moments); "
        f"erasure code k={erasure['k']}, m={erasure['m']} on {erasure['megabytes']} MB; "
        f"{gather['batches']} batches of a {gather['num_nodes']}-node graph "
        f"({gather['feature_bytes'] / 1e6:.0f} MB of features).",
        machine_load_note(load_before, after=load_after),
    ]
    return BenchmarkResult(metrics=metrics, notes=notes, timings=phases)
