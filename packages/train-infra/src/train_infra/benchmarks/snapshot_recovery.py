"""``snapshot-recovery``: every-step in-memory snapshots, a crash, a bit-identical restore.

The spec names the model (``mlp``: width, layers) and the snapshot strategies to test
(``methods``: ``copy-snapshot``, ``pingpong-adamw``; each with the AdamW it trains with).
For each strategy the recipe trains to ``crash_after``, throws the trainer's model and
optimizer away, restores into fresh objects and finishes the run, comparing every loss
with an uninterrupted `torch.optim.AdamW` run of the same settings. Then it times steps
without snapshots and with each strategy, blocks of five steps rotating through the
modes so that drifting machine load hits all alike. Also: restore time vs
``torch.load``, ``torch.save``, atomic safetensors persistence and erasure-coding
throughput of the packed state (``k`` data + ``m`` parity fragments).

One seed: it picks the initialisation and the batches of a timing run; the restore's
exactness over many seeds is what the package's tests check.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field, model_validator
from unlearn_schema.base import StrictModel
from unlearn_schema.configs import BenchmarkSpec, Size
from unlearn_schema.plugins import NoParams, ParsedMethod, ParsedSpec, Progress
from unlearn_schema.recipes import check_methods, spec_from_parts
from unlearn_schema.results import BenchmarkResult, Curve, MetricValue, Series

from train_infra.benchmarks._common import metric
from train_infra.methods.params import SnapshotOptimizerParams
from train_infra.models import MLPParams

if TYPE_CHECKING:
    import torch

    from train_infra.snapshot.snapshotter import Snapshotter

# Metric names per strategy: the copy path keeps the plain names it always had.
METRIC_PREFIXES = {"copy-snapshot": "", "pingpong-adamw": "pingpong_"}
_SERIES = {
    "copy-snapshot": "every-step snapshot (copy path)",
    "pingpong-adamw": "every-step snapshot (PingPongAdamW)",
}
_PER_METHOD = (
    "bit_identical_after_restore",
    "max_loss_difference",
    "step_time_overhead",
    "restore_time",
    "snapshot_wait_total",
)
SNAPSHOT_METRIC_NAMES = frozenset(
    {prefix + name for prefix in METRIC_PREFIXES.values() for name in _PER_METHOD}
    | {"torch_load_time", "torch_save_time", "persist_time"}
    | {"encode_throughput", "decode_throughput"}
)


class SnapshotRun(StrictModel):
    """Steps, crash point and the erasure code timed on the packed state."""

    batch_size: int = Field(default=64, ge=1, le=4096)
    steps: int = Field(default=30, ge=4, le=10_000, description="Steps timed per mode.")
    crash_after: int = Field(default=10, ge=1, description="Step after which the trainer dies.")
    k: int = Field(default=2, ge=1, le=16, description="Data fragments.")
    m: int = Field(default=1, ge=0, le=16, description="Parity fragments.")

    @model_validator(mode="after")
    def _crash_inside(self) -> SnapshotRun:
        if self.crash_after >= self.steps:
            raise ValueError(f"crash_after={self.crash_after} must be < steps={self.steps}")
        return self


def snapshot_spec(size: Size) -> BenchmarkSpec:
    quick = size == "quick"
    model = MLPParams() if quick else MLPParams(width=2048, layers=6)
    run = (
        SnapshotRun() if quick else SnapshotRun(batch_size=128, steps=40, crash_after=20, k=4, m=2)
    )
    return spec_from_parts(
        "snapshot-recovery",
        size,
        model=("mlp", model),
        methods=METRIC_PREFIXES,
        method_params={name: SnapshotOptimizerParams() for name in METRIC_PREFIXES},
        params=run,
    )


def check_snapshot(parsed: ParsedSpec[NoParams, MLPParams, SnapshotRun]) -> None:
    """At least one strategy, each once: the metric names are per strategy."""
    check_methods(parsed, tuple(METRIC_PREFIXES))


def run_snapshot(
    parsed: ParsedSpec[NoParams, MLPParams, SnapshotRun], progress: Progress, out_dir: str
) -> BenchmarkResult:
    """Crash and restore with each strategy, then interleaved step timing (module docstring)."""
    del out_dir
    import torch

    from train_infra.models.mlp import MLP
    from train_infra.snapshot.erasure import ErasureCode
    from train_infra.snapshot.manager import ManagerProcess, start_manager
    from train_infra.snapshot.persist import persist
    from train_infra.snapshot.snapshotter import Snapshotter
    from train_infra.snapshot.state import capture_state, pack
    from train_infra.worlds.training_state import CLASSES, FEATURES, training_batch

    run, model_params, methods = parsed.params, parsed.model, parsed.methods
    (seed,) = parsed.seeds
    modes = 1 + len(methods)
    progress.start(modes * run.steps + 5 * modes * -(-run.steps // 5) + 6, "training steps")

    def loop(
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        start: int,
        stop: int,
        snapshots: Snapshotter | None = None,
    ) -> tuple[list[float], list[float]]:
        losses, times = [], []
        for step in range(start, stop):
            began = time.perf_counter()
            x, y = training_batch(step, seed=seed, batch_size=run.batch_size)
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

    def mlp(init_seed: int) -> torch.nn.Module:
        torch.manual_seed(init_seed)
        return MLP(model_params, FEATURES, CLASSES)

    references: dict[tuple[float, float], tuple[list[float], Any, Any]] = {}

    def reference(params: SnapshotOptimizerParams) -> list[float]:
        """Losses of the uninterrupted torch AdamW run with ``params`` (run once)."""
        key = (params.learning_rate, params.weight_decay)
        if key not in references:
            torch.manual_seed(seed)
            model = mlp(seed)
            optimizer = torch.optim.AdamW(
                model.parameters(), lr=params.learning_rate, weight_decay=params.weight_decay
            )
            losses, _ = loop(model, optimizer, 0, run.steps)
            references[key] = (losses, model, optimizer)
        return references[key][0]

    def crash_and_resume(
        method: ParsedMethod, snapshots: Snapshotter
    ) -> tuple[list[float], float, Any, Any]:
        """Train to ``crash_after``, lose the trainer, restore, finish: losses, restore time."""
        build = method.spec.function
        torch.manual_seed(seed)
        model = mlp(seed)
        optimizer = build(model, snapshots, method.params)
        first, _ = loop(model, optimizer, 0, run.crash_after, snapshots)
        snapshots.wait()
        del model, optimizer  # the crash: nothing of the trainer's state survives here
        model = mlp(seed + 12345)
        optimizer = build(model, snapshots, method.params)
        torch.manual_seed(seed + 999)  # scrambled RNG: the restore must put it back
        began = time.perf_counter()
        restored = snapshots.restore(model, optimizer)
        restore_s = time.perf_counter() - began
        assert restored is not None
        rest, _ = loop(model, optimizer, restored[0], run.steps, snapshots)
        snapshots.wait()
        return first + rest, restore_s, model, optimizer

    first_params = methods[0].params
    assert isinstance(first_params, SnapshotOptimizerParams)
    reference(first_params)
    managers: list[ManagerProcess] = []
    outcomes: dict[str, dict[str, Any]] = {}
    try:
        for method in methods:
            assert isinstance(method.params, SnapshotOptimizerParams)
            expected = reference(method.params)
            manager = start_manager()
            managers.append(manager)
            snapshots = Snapshotter(manager.address, manager.authkey)
            resumed, restore_s, model, optimizer = crash_and_resume(method, snapshots)
            outcomes[method.name] = {
                "max_difference": max(abs(a - b) for a, b in zip(resumed, expected, strict=True)),
                "restore_s": restore_s,
                "timed": (model, optimizer, snapshots),
                "times": [],
            }
        _, base_model, base_optimizer = references[
            (first_params.learning_rate, first_params.weight_decay)
        ]
        base_times: list[float] = []
        timed: list[tuple[Any, Any, Snapshotter | None, list[float]]] = [
            (base_model, base_optimizer, None, base_times)
        ]
        for outcome in outcomes.values():
            net, opt, snaps = outcome["timed"]
            snaps.wait_seconds = 0.0
            timed.append((net, opt, snaps, outcome["times"]))
        for block in range(-(-run.steps // 5)):
            for net, opt, snaps, times_out in timed:
                start = run.steps + 5 * block
                _, times = loop(net, opt, start, start + 5, snaps)
                if snaps is not None:
                    snaps.wait()
                times_out.extend(times)
        for outcome in outcomes.values():
            snaps = outcome["timed"][2]
            outcome["wait_s"] = snaps.wait_seconds
            snaps.close()
    finally:
        for manager in managers:
            manager.stop()

    model, optimizer = base_model, base_optimizer
    params = sum(p.numel() for p in model.parameters())
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
    megabytes = packed.numel() / 1e6
    labels = {"params": str(params), "state_mb": f"{megabytes:.1f}"}
    versus = "uninterrupted torch.optim.AdamW run"
    metrics: list[MetricValue] = []
    for name, outcome in outcomes.items():
        prefix, difference = METRIC_PREFIXES[name], outcome["max_difference"]
        outcome["step"] = statistics.median(outcome["times"])
        overhead = outcome["step"] / base_step - 1.0
        exact = 1.0 if difference == 0.0 else 0.0
        metrics += [
            metric(
                f"{prefix}bit_identical_after_restore",
                exact,
                "higher",
                labels,
                reference=1.0,
                reference_name=versus,
            ),
            metric(
                f"{prefix}max_loss_difference",
                difference,
                "lower",
                labels,
                reference=0.0,
                reference_name=versus,
            ),
            metric(
                f"{prefix}step_time_overhead",
                overhead,
                "lower",
                labels,
                unit="fraction",
                reference=0.03,
                reference_name="goal (3 %)",
            ),
            metric(f"{prefix}restore_time", outcome["restore_s"], "lower", labels, unit="s"),
            metric(f"{prefix}snapshot_wait_total", outcome["wait_s"], "lower", labels, unit="s"),
        ]
    code_labels = {**labels, "k": str(run.k), "m": str(run.m)}
    encode_rate = megabytes / max(encode_s, 1e-9)
    decode_rate = megabytes / max(decode_s, 1e-9)
    metrics += [
        metric("torch_load_time", load_s, "none", labels, unit="s"),
        metric("torch_save_time", save_s, "none", labels, unit="s"),
        metric("persist_time", persist_s, "none", labels, unit="s"),
        metric("encode_throughput", encode_rate, "higher", code_labels, unit="MB/s"),
        metric(
            "decode_throughput",
            decode_rate,
            "higher",
            {**code_labels, "lost": str(run.m)},
            unit="MB/s",
        ),
    ]

    def series(label: str, times: list[float]) -> Series:
        return Series(label=label, x=[float(i) for i in range(len(times))], y=times)

    curve = Curve(
        name="snapshot-step-time",
        title=f"Step time, MLP {params / 1e6:.1f} M parameters",
        x_label="timed step (modes interleaved in blocks of 5)",
        y_label="seconds",
        series=[series("no snapshots", base_times)]
        + [series(_SERIES[name], outcome["times"]) for name, outcome in outcomes.items()],
    )
    restored = "; ".join(
        f"{name}: "
        + (
            "equal the uninterrupted run exactly"
            if outcome["max_difference"] == 0
            else f"differ by up to {outcome['max_difference']:.3g}"
        )
        for name, outcome in outcomes.items()
    )
    steps = ", ".join(
        f"{outcome['step'] * 1e3:.1f} ms with {name} "
        f"({100 * (outcome['step'] / base_step - 1):+.1f} %)"
        for name, outcome in outcomes.items()
    )
    restores = ", ".join(
        f"{outcome['restore_s'] * 1e3:.0f} ms ({name})" for name, outcome in outcomes.items()
    )
    notes = [
        f"Restored after a simulated crash at step {run.crash_after}, the remaining "
        f"{run.steps - run.crash_after} losses: {restored}.",
        f"Median step {base_step * 1e3:.1f} ms without snapshots, {steps}; state "
        f"{megabytes:.1f} MB; restore {restores} vs torch.load {load_s * 1e3:.0f} ms.",
    ]
    timings = {f"restore {name}": outcome["restore_s"] for name, outcome in outcomes.items()}
    return BenchmarkResult(
        metrics=metrics,
        curves=[curve],
        notes=notes,
        timings={**timings, "torch_save": save_s, "persist": persist_s},
    )
