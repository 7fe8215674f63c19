"""Benchmark recipes of train-infra, registered under the ``unlearn.benchmarks`` group.

Heavy imports (torch) happen inside the run functions: importing this module, building
default specs and checking them stay cheap.
"""

from __future__ import annotations

import math
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator
from unlearn_schema import (
    Benchmark,
    BenchmarkResult,
    BenchmarkSpec,
    Curve,
    MethodConfig,
    MetricValue,
    ModelSpec,
    Progress,
    Series,
    Size,
    StrictModel,
    WorldSpec,
    validate_or_raise,
)

from train_infra.decentralized.gossip import GossipConfig
from train_infra.rope_bounds import PhaseDtype, check_hf_config, feasible_region

# ---------------------------------------------------------------------------------------
# snapshot-recovery


class SnapshotRun(StrictModel):
    """Model size, steps and erasure code of the snapshot benchmark."""

    width: int = Field(default=256, ge=8, le=8192, description="Hidden width of the MLP.")
    layers: int = Field(default=4, ge=1, le=64)
    batch_size: int = Field(default=64, ge=1, le=4096)
    steps: int = Field(default=30, ge=4, le=10_000, description="Steps timed per mode.")
    crash_after: int = Field(default=10, ge=1, description="Step after which the trainer dies.")
    k: int = Field(default=2, ge=1, le=16, description="Data fragments.")
    m: int = Field(default=1, ge=0, le=16, description="Parity fragments.")
    pingpong: bool = Field(
        default=True,
        description="Also crash-test and time the copy-free PingPongAdamW fast path.",
    )

    @model_validator(mode="after")
    def _crash_inside(self) -> SnapshotRun:
        if self.crash_after >= self.steps:
            raise ValueError(f"crash_after={self.crash_after} must be < steps={self.steps}")
        return self


def _snapshot_spec(size: Size) -> BenchmarkSpec:
    run = (
        SnapshotRun()
        if size == "quick"
        else SnapshotRun(width=2048, layers=6, batch_size=128, steps=40, crash_after=20, k=4, m=2)
    )
    return BenchmarkSpec(
        benchmark="snapshot-recovery",
        size=size,
        model=ModelSpec(name="mlp", params={"width": run.width, "layers": run.layers}),
        methods=[MethodConfig(name="in-memory-snapshot", params={"k": run.k, "m": run.m})],
        params=run.model_dump(mode="json"),
    )


def _check_snapshot(spec: BenchmarkSpec) -> None:
    validate_or_raise(SnapshotRun, spec.params, "params")


def _mlp(width: int, layers: int, seed: int) -> Any:
    import torch

    torch.manual_seed(seed)
    blocks: list[torch.nn.Module] = [torch.nn.Linear(64, width), torch.nn.GELU()]
    for _ in range(layers - 1):
        blocks += [torch.nn.Linear(width, width), torch.nn.GELU(), torch.nn.Dropout(0.1)]
    blocks.append(torch.nn.Linear(width, 10))
    return torch.nn.Sequential(*blocks)


def run_snapshot(spec: BenchmarkSpec, progress: Progress, out_dir: str) -> BenchmarkResult:
    """Step time with and without every-step snapshots, crash and bit-identical restore.

    Timed in one process: a baseline loop, the same loop with an every-step asynchronous
    snapshot into a manager process, then a simulated crash (the model and optimizer are
    thrown away after ``crash_after`` steps), a restore into fresh objects and the rest
    of the run, compared loss by loss with the uninterrupted one. Also: restore time vs
    ``torch.load``, snapshot copy vs ``torch.save``, atomic safetensors persistence, and
    erasure-coding throughput.
    """
    import torch

    from train_infra.snapshot.erasure import ErasureCode
    from train_infra.snapshot.manager import start_manager
    from train_infra.snapshot.persist import persist
    from train_infra.snapshot.pingpong import PingPongAdamW
    from train_infra.snapshot.snapshotter import Snapshotter
    from train_infra.snapshot.state import capture_state, pack

    run = validate_or_raise(SnapshotRun, spec.params, "params")
    seed = spec.seeds[0]
    modes = 3 if run.pingpong else 2
    progress.start(
        modes * run.steps + 5 * modes * -(-run.steps // 5) + 6,
        "training steps",
    )

    def batch(step: int) -> tuple[Any, Any]:
        generator = torch.Generator().manual_seed(seed * 100_003 + step)
        x = torch.randn(run.batch_size, 64, generator=generator)
        return x, (x[:, :10].argmax(dim=1) + step) % 10

    def loop(
        model: Any, optimizer: Any, start: int, stop: int, snapshots: Any = None
    ) -> tuple[list[float], list[float]]:
        losses, times = [], []
        for step in range(start, stop):
            began = time.perf_counter()
            x, y = batch(step)
            loss = torch.nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if snapshots is not None:
                snapshots.snapshot(model, optimizer, step=step + 1, loader_position=step + 1)
            times.append(time.perf_counter() - began)
            losses.append(float(loss.item()))
            progress.advance(1)
        return losses, times

    def fresh(init_seed: int, snapshots: Any = None) -> tuple[Any, Any]:
        model = _mlp(run.width, run.layers, init_seed)
        if snapshots is None:
            return model, torch.optim.AdamW(model.parameters(), lr=1e-3)
        # Same hyperparameters and arithmetic as the AdamW above (weight decay 0.01).
        return model, PingPongAdamW(model, snapshots, lr=1e-3, weight_decay=0.01)

    def crash_and_resume(snapshots: Any, fast: bool) -> tuple[list[float], float, Any, Any]:
        """Train to ``crash_after``, lose the trainer, restore, finish: losses, restore time."""
        torch.manual_seed(seed)
        model, optimizer = fresh(seed, snapshots if fast else None)
        snapshots.protect(optimizer)
        first, _ = loop(model, optimizer, 0, run.crash_after, snapshots)
        snapshots.wait()
        del model, optimizer  # the crash: nothing of the trainer's state survives here
        model, optimizer = fresh(seed + 12345, snapshots if fast else None)
        snapshots.protect(optimizer)
        torch.manual_seed(seed + 999)  # scrambled RNG: the restore must put it back
        began = time.perf_counter()
        restored = snapshots.restore(model, optimizer)
        restore_s = time.perf_counter() - began
        assert restored is not None
        rest, _ = loop(model, optimizer, restored[0], run.steps, snapshots)
        snapshots.wait()
        return first + rest, restore_s, model, optimizer

    torch.manual_seed(seed)
    model, optimizer = fresh(seed)
    reference_losses, _ = loop(model, optimizer, 0, run.steps)
    params = sum(p.numel() for p in model.parameters())

    manager = start_manager()
    fast_manager = start_manager() if run.pingpong else None
    fast_times: list[float] = []
    fast_max_difference = 0.0
    try:
        snapshots = Snapshotter(manager.address, manager.authkey)
        resumed, restore_s, model, optimizer = crash_and_resume(snapshots, fast=False)
        timed: list[tuple[Any, Any, Any, list[float]]] = []
        base_times: list[float] = []
        snap_times: list[float] = []
        timed.append((model, optimizer, None, base_times))
        timed.append((model, optimizer, snapshots, snap_times))
        if fast_manager is not None:
            fast_snapshots = Snapshotter(fast_manager.address, fast_manager.authkey)
            fast_resumed, _, fast_model, fast_optimizer = crash_and_resume(
                fast_snapshots, fast=True
            )
            fast_max_difference = max(
                abs(a - b) for a, b in zip(fast_resumed, reference_losses, strict=True)
            )
            timed.append((fast_model, fast_optimizer, fast_snapshots, fast_times))
        # Timing: blocks of five steps rotate through the modes (no snapshots, copy path,
        # ping-pong path), so that drifting machine load hits all alike; medians compared.
        snapshots.wait_seconds = 0.0
        for block in range(-(-run.steps // 5)):
            for net, opt, snaps, times_out in timed:
                start = run.steps + 5 * block
                _, times = loop(net, opt, start, start + 5, snaps)
                if snaps is not None:
                    snaps.wait()
                times_out.extend(times)
        wait_s = snapshots.wait_seconds
        snapshots.close()
        if fast_manager is not None:
            fast_snapshots.close()
    finally:
        manager.stop()
        if fast_manager is not None:
            fast_manager.stop()
    max_difference = max(abs(a - b) for a, b in zip(resumed, reference_losses, strict=True))

    state = capture_state(model, optimizer, run.steps, clone=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "state.pt"
        began = time.perf_counter()
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, path)
        save_s = time.perf_counter() - began
        began = time.perf_counter()
        torch.load(path)
        load_s = time.perf_counter() - began
        began = time.perf_counter()
        persist(state, Path(tmp) / "persist")
        persist_s = time.perf_counter() - began
    progress.advance(3, "save/load baselines")
    packed, _ = pack(state)
    code = ErasureCode(run.k, run.m)
    began = time.perf_counter()
    fragments = code.encode(packed)
    encode_s = time.perf_counter() - began
    began = time.perf_counter()
    decoded = code.decode(fragments[run.m :], packed.numel())
    decode_s = time.perf_counter() - began
    assert torch.equal(decoded, packed)
    progress.advance(3, "erasure coding")

    base_step = statistics.median(base_times)
    snap_step = statistics.median(snap_times)
    megabytes = packed.numel() / 1e6
    labels = {"params": str(params), "state_mb": f"{megabytes:.1f}"}
    metrics = [
        MetricValue(
            name="bit_identical_after_restore",
            value=1.0 if max_difference == 0.0 else 0.0,
            direction="higher",
            reference=1.0,
            reference_name="uninterrupted run",
            labels=labels,
        ),
        MetricValue(
            name="max_loss_difference",
            value=max_difference,
            direction="lower",
            reference=0.0,
            reference_name="uninterrupted run",
            labels=labels,
        ),
        MetricValue(
            name="step_time_overhead",
            value=snap_step / base_step - 1.0,
            direction="lower",
            reference=0.03,
            reference_name="goal (3 %)",
            unit="fraction",
            labels=labels,
        ),
        MetricValue(
            name="restore_time", value=restore_s, unit="s", direction="lower", labels=labels
        ),
        *(
            [
                MetricValue(
                    name="pingpong_bit_identical_after_restore",
                    value=1.0 if fast_max_difference == 0.0 else 0.0,
                    direction="higher",
                    reference=1.0,
                    reference_name="uninterrupted torch.optim.AdamW run",
                    labels=labels,
                ),
                MetricValue(
                    name="pingpong_step_time_overhead",
                    value=statistics.median(fast_times) / base_step - 1.0,
                    direction="lower",
                    reference=0.03,
                    reference_name="goal (3 %)",
                    unit="fraction",
                    labels=labels,
                ),
            ]
            if run.pingpong
            else []
        ),
        MetricValue(name="torch_load_time", value=load_s, unit="s", labels=labels),
        MetricValue(name="torch_save_time", value=save_s, unit="s", labels=labels),
        MetricValue(name="persist_time", value=persist_s, unit="s", labels=labels),
        MetricValue(
            name="snapshot_wait_total", value=wait_s, unit="s", direction="lower", labels=labels
        ),
        MetricValue(
            name="encode_throughput",
            value=megabytes / max(encode_s, 1e-9),
            unit="MB/s",
            direction="higher",
            labels={**labels, "k": str(run.k), "m": str(run.m)},
        ),
        MetricValue(
            name="decode_throughput",
            value=megabytes / max(decode_s, 1e-9),
            unit="MB/s",
            direction="higher",
            labels={**labels, "k": str(run.k), "m": str(run.m), "lost": str(run.m)},
        ),
    ]
    curve = Curve(
        name="snapshot-step-time",
        title=f"Step time, MLP {params / 1e6:.1f} M parameters",
        x_label="timed step (modes interleaved in blocks of 5)",
        y_label="seconds",
        series=[
            Series(
                label="no snapshots", x=[float(i) for i in range(len(base_times))], y=base_times
            ),
            Series(
                label="every-step snapshot (copy path)",
                x=[float(i) for i in range(len(snap_times))],
                y=snap_times,
            ),
            *(
                [
                    Series(
                        label="every-step snapshot (PingPongAdamW)",
                        x=[float(i) for i in range(len(fast_times))],
                        y=fast_times,
                    )
                ]
                if fast_times
                else []
            ),
        ],
    )
    notes = [
        f"Restored after a simulated crash at step {run.crash_after}: the remaining "
        f"{run.steps - run.crash_after} losses "
        + (
            "equal the uninterrupted run exactly."
            if max_difference == 0
            else f"differ by up to {max_difference:.3g}."
        ),
        f"Median step {base_step * 1e3:.1f} ms without snapshots, {snap_step * 1e3:.1f} ms with "
        f"every-step snapshots by copy ({100 * (snap_step / base_step - 1):+.1f} %)"
        + (
            f", {statistics.median(fast_times) * 1e3:.1f} ms with PingPongAdamW "
            f"({100 * (statistics.median(fast_times) / base_step - 1):+.1f} %, restored run "
            + ("bit-identical to torch AdamW's)" if fast_max_difference == 0 else "DIFFERS)")
            if fast_times
            else ""
        )
        + "; "
        f"state {megabytes:.1f} MB; restore {restore_s * 1e3:.0f} ms vs torch.load "
        f"{load_s * 1e3:.0f} ms.",
    ]
    return BenchmarkResult(
        metrics=metrics,
        curves=[curve],
        notes=notes,
        timings={"restore": restore_s, "torch_save": save_s, "persist": persist_s},
    )


# ---------------------------------------------------------------------------------------
# rope-feasibility

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


def _default_partitions() -> list[Literal["iid", "non-iid"]]:
    return ["iid", "non-iid"]


def _default_drop_kinds() -> list[Literal["data", "connectivity"]]:
    return ["data", "connectivity"]


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


def _rope_spec(size: Size) -> BenchmarkSpec:
    top = 22 if size == "quick" else 26
    run = RopeRun(context_lengths=[2**p for p in range(10, top + 1)])
    return BenchmarkSpec(
        benchmark="rope-feasibility", size=size, params=run.model_dump(mode="json")
    )


def _check_rope(spec: BenchmarkSpec) -> None:
    validate_or_raise(RopeRun, spec.params, "params")


def run_rope(spec: BenchmarkSpec, progress: Progress, out_dir: str) -> BenchmarkResult:
    """Aliasing, DC-stability and precision bounds over context length; config verdicts."""
    del out_dir
    run = validate_or_raise(RopeRun, spec.params, "params")
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


# ---------------------------------------------------------------------------------------
# diskgnn-features


class DiskGNNWorld(StrictModel):
    """The synthetic graph whose node features live on disk."""

    num_nodes: int = Field(ge=100, le=50_000_000)
    avg_degree: int = Field(default=10, ge=1, le=1000)
    num_features: int = Field(default=64, ge=1, le=4096)
    num_classes: int = Field(default=8, ge=2, le=1000)
    homophily: float = Field(default=0.8, ge=0.0, le=1.0)
    noise: float = Field(default=3.0, ge=0.0)


class DiskGNNRun(StrictModel):
    """Sampling, cache and training settings."""

    batch_size: int = Field(default=512, ge=1)
    fanouts: tuple[int, int] = (10, 5)
    cache_fraction: float = Field(
        default=0.05, ge=0.0, le=1.0, description="Share of nodes in RAM."
    )
    epochs: int = Field(default=2, ge=1, le=100)
    hidden: int = Field(default=64, ge=1, le=4096)
    prefetch_depth: int = Field(default=2, ge=1, le=64)


def _diskgnn_spec(size: Size) -> BenchmarkSpec:
    world = DiskGNNWorld(num_nodes=10_000 if size == "quick" else 1_000_000)
    run = DiskGNNRun(
        epochs=2 if size == "quick" else 3, batch_size=256 if size == "quick" else 1024
    )
    return BenchmarkSpec(
        benchmark="diskgnn-features",
        size=size,
        world=WorldSpec(name="planted-partition-on-disk", params=world.model_dump(mode="json")),
        model=ModelSpec(name="graphsage-mean", params={"hidden": run.hidden}),
        params=run.model_dump(mode="json"),
    )


def _parse_diskgnn(spec: BenchmarkSpec) -> tuple[DiskGNNWorld, DiskGNNRun]:
    if spec.world is None or spec.world.name != "planted-partition-on-disk":
        raise ValueError("diskgnn-features needs world.name = 'planted-partition-on-disk'")
    return (
        validate_or_raise(DiskGNNWorld, spec.world.params, "world.params"),
        validate_or_raise(DiskGNNRun, spec.params, "params"),
    )


def _check_diskgnn(spec: BenchmarkSpec) -> None:
    _parse_diskgnn(spec)


def run_diskgnn(spec: BenchmarkSpec, progress: Progress, out_dir: str) -> BenchmarkResult:
    """Offline sampling, per-batch packing, cache tier and prefetch vs naive and in-memory.

    Trains the same GraphSAGE twice from the same seed: once on batches read from the
    packed file through the prefetch thread, once on batches gathered from features held
    fully in RAM; the two must reach the same accuracy (the bytes are the same).
    """
    del out_dir
    import numpy as np
    import torch

    from train_infra.outofcore.model import SAGE, accuracy, train_epoch
    from train_infra.outofcore.sampling import make_graph, sample_epoch
    from train_infra.outofcore.store import (
        PrefetchLoader,
        gather_naive,
        pack_epoch,
        read_amplification,
    )

    world, run = _parse_diskgnn(spec)
    seed = spec.seeds[0]
    progress.start(4 + 2 * run.epochs, "phases")
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        graph = make_graph(
            tmp,
            world.num_nodes,
            world.avg_degree,
            world.num_features,
            world.num_classes,
            world.homophily,
            world.noise,
            seed,
        )
        timings["generate"] = time.perf_counter() - began
        began = time.perf_counter()
        epochs = [
            sample_epoch(graph, graph.train_nodes, run.batch_size, run.fanouts, seed + e)
            for e in range(run.epochs)
        ]
        test_batches = sample_epoch(
            graph, graph.test_nodes, run.batch_size, run.fanouts, seed + 10_000
        )
        timings["offline_sampling"] = time.perf_counter() - began
        progress.advance(1, "sampled")
        cache_rows = int(run.cache_fraction * world.num_nodes)
        began = time.perf_counter()
        packed = [
            pack_epoch(graph, b, f"{tmp}/epoch-{e}", cache_rows) for e, b in enumerate(epochs)
        ]
        packed_test = pack_epoch(graph, test_batches, f"{tmp}/test", cache_rows)
        timings["packing"] = time.perf_counter() - began
        progress.advance(1, "packed")
        amplification = read_amplification(graph, packed[0])

        torch.manual_seed(seed)
        model = SAGE(world.num_features, run.hidden, world.num_classes)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        began = time.perf_counter()
        for epoch in packed:
            train_epoch(model, optimizer, PrefetchLoader(epoch, run.prefetch_depth), graph.labels)
            progress.advance(1, "out-of-core epoch")
        out_of_core_s = time.perf_counter() - began
        ooc_accuracy = accuracy(model, PrefetchLoader(packed_test), graph.labels)

        in_memory = np.array(graph.features())
        torch.manual_seed(seed)
        model = SAGE(world.num_features, run.hidden, world.num_classes)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        began = time.perf_counter()
        for batches in epochs:
            train_epoch(model, optimizer, ((b, in_memory[b.nodes]) for b in batches), graph.labels)
            progress.advance(1, "in-memory epoch")
        in_memory_s = time.perf_counter() - began
        mem_accuracy = accuracy(
            model, ((b, in_memory[b.nodes]) for b in test_batches), graph.labels
        )
        raw = graph.features()
        began = time.perf_counter()
        for b in epochs[0]:
            gather_naive(b, raw)
        naive_gather_s = time.perf_counter() - began
        progress.advance(2, "gathers")
    num_batches = sum(len(b) for b in epochs)
    metrics = [
        MetricValue(
            name="bytes_read_per_useful_byte",
            value=amplification["packed_bytes_per_useful_byte"],
            direction="lower",
            reference=amplification["naive_bytes_per_useful_byte"],
            reference_name="naive per-row reads",
            labels={"store": "packed"},
        ),
        MetricValue(
            name="bytes_read_per_useful_byte",
            value=amplification["naive_bytes_per_useful_byte"],
            direction="lower",
            labels={"store": "naive"},
        ),
        MetricValue(
            name="batches_per_second",
            value=num_batches / out_of_core_s,
            direction="higher",
            reference=num_batches / in_memory_s,
            reference_name="features in RAM",
            labels={"store": "packed+prefetch"},
        ),
        MetricValue(
            name="batches_per_second",
            value=num_batches / in_memory_s,
            direction="higher",
            labels={"store": "in-memory"},
        ),
        MetricValue(
            name="test_accuracy",
            value=ooc_accuracy,
            direction="higher",
            reference=mem_accuracy,
            reference_name="features in RAM",
            labels={"store": "packed+prefetch"},
        ),
    ]
    timings.update(
        {
            "train_out_of_core": out_of_core_s,
            "train_in_memory": in_memory_s,
            "naive_gather_epoch": naive_gather_s,
        }
    )
    notes = [
        f"Packed reads cost {amplification['packed_bytes_per_useful_byte']:.3f} bytes per "
        f"useful byte vs {amplification['naive_bytes_per_useful_byte']:.2f} for per-row "
        f"reads (4 KiB pages, {world.num_features * 4}-byte rows).",
        f"Out-of-core training ran {num_batches / out_of_core_s:.1f} batches/s vs "
        f"{num_batches / in_memory_s:.1f} with all features in RAM; "
        f"test accuracy {ooc_accuracy:.3f} vs {mem_accuracy:.3f}.",
        "Files were in the page cache here; the read-amplification numbers are what a "
        "disk would serve.",
    ]
    return BenchmarkResult(metrics=metrics, notes=notes, timings=timings)


# ---------------------------------------------------------------------------------------
# p2p-disruption


class DisruptionRun(StrictModel):
    """The scenarios compared: partitions × which nodes drop."""

    partitions: list[Literal["iid", "non-iid"]] = Field(
        default_factory=_default_partitions, min_length=1
    )
    drop_kinds: list[Literal["data", "connectivity"]] = Field(
        default_factory=_default_drop_kinds, min_length=1
    )


def _p2p_spec(size: Size) -> BenchmarkSpec:
    world = (
        GossipConfig()
        if size == "quick"
        else GossipConfig(num_nodes=200, rounds=150, drop_round=50)
    )
    return BenchmarkSpec(
        benchmark="p2p-disruption",
        size=size,
        seeds=[0] if size == "quick" else [0, 1, 2],
        world=WorldSpec(name="barabasi-albert-gossip", params=world.model_dump(mode="json")),
        methods=[MethodConfig(name="gossip-averaging")],
        params=DisruptionRun().model_dump(),
    )


def _parse_p2p(spec: BenchmarkSpec) -> tuple[GossipConfig, DisruptionRun]:
    if spec.world is None or spec.world.name != "barabasi-albert-gossip":
        raise ValueError("p2p-disruption needs world.name = 'barabasi-albert-gossip'")
    config = validate_or_raise(GossipConfig, spec.world.params, "world.params")
    if config.drop_round is None:
        raise ValueError("p2p-disruption compares drops: world.params.drop_round must be set")
    return config, validate_or_raise(DisruptionRun, spec.params, "params")


def _check_p2p(spec: BenchmarkSpec) -> None:
    _parse_p2p(spec)


def run_p2p(spec: BenchmarkSpec, progress: Progress, out_dir: str) -> BenchmarkResult:
    """Accuracy over rounds: no drop vs dropping data holders vs dropping relays."""
    del out_dir
    from train_infra.decentralized.gossip import run_gossip

    config, run = _parse_p2p(spec)
    scenarios = [(p, k) for p in run.partitions for k in [None, *run.drop_kinds]]
    progress.start(len(scenarios) * len(spec.seeds), "scenarios")
    curves, metrics, notes = [], [], []
    for partition in run.partitions:
        series = []
        finals: dict[str, float] = {}
        for kind in [None, *run.drop_kinds]:
            accs, comps = [], []
            for seed in spec.seeds:
                scenario = config.model_copy(
                    update={
                        "partition": partition,
                        "drop_round": config.drop_round if kind else None,
                        "drop_kind": kind or "data",
                    }
                )
                result = run_gossip(scenario, seed)
                accs.append(result.accuracy)
                comps.append(result.components[-1])
                progress.advance(1, f"{partition}, drop {kind}")
            mean = [statistics.fmean(v) for v in zip(*accs, strict=True)]
            label = "no drop" if kind is None else f"drop {kind} nodes"
            series.append(Series(label=label, x=[float(r) for r in result.rounds], y=mean))
            finals[label] = mean[-1]
            metrics.append(
                MetricValue(
                    name="final_accuracy",
                    value=mean[-1],
                    direction="higher",
                    labels={"partition": partition, "drop": kind or "none"},
                )
            )
            metrics.append(
                MetricValue(
                    name="live_components",
                    value=statistics.fmean(comps),
                    labels={"partition": partition, "drop": kind or "none"},
                )
            )
        curves.append(
            Curve(
                name=f"gossip-{partition}",
                title=f"Gossip on BA({config.num_nodes}, {config.edges_per_node}), {partition}",
                x_label="round",
                y_label="mean test accuracy of live nodes",
                series=series,
                vlines={"drop": float(config.drop_round or 0)},
            )
        )
        notes.append(
            f"{partition}: final accuracy "
            + ", ".join(f"{k} {v:.3f}" for k, v in finals.items())
            + f" ({round(config.drop_fraction * config.num_nodes)} nodes of the kind, "
            f"{config.drop_by} choice, dropped at round {config.drop_round})."
        )
    return BenchmarkResult(metrics=metrics, curves=curves, notes=notes)


SNAPSHOT_RECOVERY = Benchmark(
    name="snapshot-recovery",
    summary="Every-step in-memory snapshots: overhead, crash, bit-identical restore, EC.",
    default_spec=_snapshot_spec,
    run=run_snapshot,
    check=_check_snapshot,
    quick_budget_s=120.0,
)
ROPE_FEASIBILITY = Benchmark(
    name="rope-feasibility",
    summary="Aliasing, DC-stability and precision bounds on the RoPE base; config verdicts.",
    default_spec=_rope_spec,
    run=run_rope,
    check=_check_rope,
    quick_budget_s=5.0,
)
DISKGNN_FEATURES = Benchmark(
    name="diskgnn-features",
    summary="Out-of-core GNN features: offline sampling, per-batch packing, cache, prefetch.",
    default_spec=_diskgnn_spec,
    run=run_diskgnn,
    check=_check_diskgnn,
    quick_budget_s=120.0,
)
P2P_DISRUPTION = Benchmark(
    name="p2p-disruption",
    summary="Gossip learning on a Barabási–Albert graph when data or relay nodes drop.",
    default_spec=_p2p_spec,
    run=run_p2p,
    check=_check_p2p,
    quick_budget_s=60.0,
)
