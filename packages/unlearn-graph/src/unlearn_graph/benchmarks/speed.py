"""``unlearn-graph-speed``: approximate unlearning against exact retraining, timed.

Setup (full size): a contextual SBM with 24 000 nodes and average degree 10 (about
102 000 training edges after the link split), link prediction with a 2-layer GraphSAGE
(64 hidden) trained for 100 full-batch epochs, and 0.5% of the training edges deleted
(GNNDelete "in" sampling). The quick size runs the same code on a 300-node graph with
5 epochs and two methods, in well under a minute of measuring.

Baseline, measured in the same run: exact retraining, a fresh model trained on the
retained graph with the original's budget (``params.epochs``, same optimiser). It
records its retained test AUROC after every epoch (evaluation time is not counted). It
runs ``params.baseline_runs`` times (default 2), once before the approximate methods and
the rest after (so a change of machine load affects both sides); the time to each epoch
is the mean over the runs.

Matched retained accuracy: for a method whose unlearned model has retained test AUROC
$u$, retraining is stopped at the first epoch whose AUROC is at least
$u - \\text{tolerance}$ (``params.tolerance``, 0.005); ``retrain_s_to_match`` is the
training time up to that epoch and

$$\\text{speedup\\_at\\_matched\\_utility} = \\frac{\\text{retrain\\_s\\_to\\_match}}
{\\text{method wall time}}.$$

If retraining never gets there, its full time is used and ``retrain_matched`` is 0 (the
ratio then understates the speed-up). ``speedup_vs_full_retrain`` divides the full
retraining time instead. Method wall times are the median of 3 runs (1 for methods
slower than 5 s).

Peak memory: every measurement runs in a fresh process
(`unlearn_graph.benchmarks._speed_worker`: forked from a server process that has only
imported the libraries), which rebuilds the same graph from the seed and loads the
trained weights. After this setup the process resets the kernel's
peak-RSS counter (``VmHWM``, through ``/proc/self/clear_refs``), runs the method, and
reports ``VmHWM`` minus the resident size at the reset: the extra host memory the
method needed at its peak. A fresh process matters because memory freed earlier in a
long-lived process is reused by the allocator without growing the resident size.
Where ``clear_refs`` is unavailable the resident size is sampled every 2 ms instead.

Goals (from the issue): at least 10x at matched retained accuracy for GNNDelete and
D2DGN. Each measured goal method gets ``speedup_at_matched_utility_met`` and
``speedup_vs_full_retrain_met`` (1.0 met, 0.0 not). Run it with
``unlearn-bench run unlearn-graph-speed --size full``.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field
from unlearn_schema.base import StrictModel
from unlearn_schema.configs import BenchmarkSpec, MethodConfig, ModelSpec, Size, WorldSpec
from unlearn_schema.plugins import Benchmark, ParsedSpec, Progress
from unlearn_schema.recipes import Goal, check_methods, machine_load_note
from unlearn_schema.results import BenchmarkResult, Curve, Direction, MetricValue, Series

from unlearn_graph.config import BACKBONE_PARAMS, BackboneParams
from unlearn_graph.methods import METHODS
from unlearn_graph.worlds import CSBMConfig

if TYPE_CHECKING:
    from unlearn_graph.benchmarks._speed_worker import Setup

GOALS = {"gnndelete": Goal(">=", 10.0), "d2dgn": Goal(">=", 10.0)}
"""Method -> the speed-up over retraining it should reach at matched retained AUROC."""
METHOD_NAMES = ("gnndelete", "d2dgn", "gif", "gradient-ascent", "grapheraser")
NUM_SHARDS = 4
BACKBONE_NAMES = {"gcn": "GCN", "sage": "GraphSAGE", "gat": "GAT", "gin": "GIN"}


class UnlearnGraphSpeedRun(StrictModel):
    """Knobs of the speed benchmark (``spec.params``)."""

    epochs: int = Field(
        default=100, ge=5, le=10_000, description="Epochs of the original and of retraining."
    )
    deletion_ratio: float = Field(
        default=0.005, gt=0.0, le=0.5, description="Fraction of the training edges deleted."
    )
    tolerance: float = Field(
        default=0.005,
        ge=0.0,
        le=1.0,
        description="Retraining matches a method at the method's AUROC minus this.",
    )
    baseline_runs: int = Field(
        default=2,
        ge=1,
        le=10,
        description="Retraining runs: one before the methods, the rest after.",
    )
    num_threads: int = Field(default=1, ge=1, le=256, description="torch threads per process.")


Parsed = ParsedSpec[CSBMConfig, BackboneParams, UnlearnGraphSpeedRun]


def _default_spec(size: Size) -> BenchmarkSpec:
    if size == "quick":
        world = CSBMConfig(num_nodes=300, average_degree=10.0)
        run = UnlearnGraphSpeedRun(epochs=5, baseline_runs=1)
        names: tuple[str, ...] = ("gnndelete", "d2dgn")
    else:
        world = CSBMConfig(num_nodes=24_000, average_degree=10.0)
        run = UnlearnGraphSpeedRun()
        names = METHOD_NAMES
    methods = [
        MethodConfig(name=name, params={"num_shards": NUM_SHARDS, "epochs": run.epochs})
        if name == "grapheraser"
        else MethodConfig(name=name)
        for name in names
    ]
    return BenchmarkSpec(
        benchmark="unlearn-graph-speed",
        size=size,
        seeds=[0],
        world=WorldSpec(name="csbm", params=world.model_dump()),
        model=ModelSpec(name="sage", params={"hidden": 64, "num_layers": 2}),
        methods=methods,
        params=run.model_dump(),
    )


def _check(parsed: Parsed) -> None:
    check_methods(parsed, METHOD_NAMES)


class _Measurer:
    """The server process of `unlearn_graph.benchmarks._speed_worker`; one fresh forked
    child per measurement."""

    def __init__(self, folder: Path) -> None:
        from unlearn_graph.benchmarks._speed_worker import SERVER_COMMAND

        self.folder = folder
        # Started first, so that its imports overlap with training the original.
        self.server = subprocess.Popen(
            [sys.executable, "-c", SERVER_COMMAND],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.ready = False

    def _answer(self, what: str) -> str:
        assert self.server.stdout is not None
        line = self.server.stdout.readline().strip()
        if not line:
            raise RuntimeError(f"the measuring server stopped while {what}")
        return line

    def measure(self, mode: str, state_path: Path) -> dict[str, Any]:
        """Measure ``mode`` (``retrain`` or a method) in a fresh child of the server."""
        import json

        assert self.server.stdin is not None
        if not self.ready:
            self._answer("starting")
            self.ready = True
        out = self.folder / f"{mode}-{time.monotonic_ns()}.json"
        request = [mode, str(state_path), str(out)]
        self.server.stdin.write(json.dumps(request) + "\n")
        self.server.stdin.flush()
        code = self._answer(f"measuring {mode!r}")
        if code != "0":
            raise RuntimeError(f"measuring {mode!r} failed in its process (exit {code})")
        measured: dict[str, Any] = json.loads(out.read_text())
        return measured

    def close(self) -> None:
        if self.server.stdin is not None:
            self.server.stdin.close()
        try:
            self.server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.server.kill()
            self.server.wait()
        if self.server.stdout is not None:
            self.server.stdout.close()


def _prepare(setup: Setup, folder: Path) -> tuple[Any, Any, float, Path]:
    """Train the original (and GraphEraser's shards) and save what the children load:
    the task, the deletion problem, the original's training time and the state file."""
    import torch
    import torch_geometric.nn  # noqa: F401  (imported before the clock starts)

    from unlearn_graph.benchmarks._speed_worker import build_problem
    from unlearn_graph.config import TrainConfig
    from unlearn_graph.methods.grapheraser import train_grapheraser
    from unlearn_graph.methods.params import GraphEraserParams
    from unlearn_graph.training import train_original

    task, problem = build_problem(setup)
    began = time.perf_counter()
    original = train_original(task, setup.backbone, TrainConfig(epochs=setup.epochs), setup.seed)
    train_s = time.perf_counter() - began
    sharded = None
    if "grapheraser" in setup.params:
        shard_params = setup.params["grapheraser"]
        assert isinstance(shard_params, GraphEraserParams)
        sharded = train_grapheraser(task, setup.backbone, shard_params, seed=setup.seed)
    state_path = folder / "state.pt"
    torch.save(
        {
            "setup": setup,
            "original": original.state_dict(),
            "shards": [shard.state_dict() for shard in sharded.shards] if sharded else [],
            "assignment": sharded.assignment if sharded else None,
            "aggregation": sharded.weights.detach() if sharded else None,
        },
        state_path,
    )
    return task, problem, train_s, state_path


def _run(parsed: Parsed, progress: Progress, out_dir: str) -> BenchmarkResult:
    """Train the original (and GraphEraser's shards), then time every measurement."""
    del out_dir  # the report carries everything
    import torch

    from unlearn_graph.benchmarks._speed_worker import Setup

    run = parsed.params
    assert parsed.model_name is not None
    load_before = os.getloadavg()
    setup = Setup(
        world=parsed.world,
        backbone=parsed.model.backbone_config(parsed.model_name),
        epochs=run.epochs,
        deletion_ratio=run.deletion_ratio,
        seed=parsed.seeds[0],
        num_threads=run.num_threads,
        params={method.name: method.params for method in parsed.methods},
    )
    measure = [method.name for method in parsed.methods]
    progress.start(len(measure) + run.baseline_runs + 1, "speed measurements")
    torch.set_num_threads(run.num_threads)
    with tempfile.TemporaryDirectory() as folder_name:
        folder = Path(folder_name)
        measurer = _Measurer(folder)
        try:
            task, problem, train_s, state_path = _prepare(setup, folder)
            progress.advance(1, "trained the original")
            retrains = [measurer.measure("retrain", state_path)]
            progress.advance(1, "retrain (before)")
            measured: dict[str, dict[str, Any]] = {}
            for name in measure:
                measured[name] = measurer.measure(name, state_path)
                progress.advance(1, name)
            for _ in range(run.baseline_runs - 1):
                retrains.append(measurer.measure("retrain", state_path))
                progress.advance(1, "retrain (after)")
        finally:
            measurer.close()
    graph = {
        "training_edges": float(task.edges.shape[1]),
        "deleted_edges": float(problem.deleted_pairs.shape[1]),
    }
    return _report(parsed, setup, retrains, measured, graph, train_s, load_before)


def goal_metric(
    info: dict[str, tuple[Direction, str | None]],
    name: str,
    value: float,
    method: str | None = None,
    goal: Goal | None = None,
) -> MetricValue:
    """``name``'s `MetricValue` (direction and unit from ``info``), labelled with the
    method when given and carrying ``goal``'s bound as its reference."""
    direction, unit = info[name]
    return MetricValue(
        name=name,
        value=value,
        direction=direction,
        unit=unit,
        labels={} if method is None else {"method": method},
        reference=None if goal is None else goal.bound,
        reference_name=None if goal is None else "goal",
    )


def _report(
    parsed: Parsed,
    setup: Setup,
    retrains: list[dict[str, Any]],
    measured: dict[str, dict[str, Any]],
    graph: dict[str, float],
    train_s: float,
    load_before: tuple[float, float, float],
) -> BenchmarkResult:
    run = parsed.params
    traces = [r["trace"] for r in retrains]
    aurocs = [value for _, value in traces[0]]
    seconds = [statistics.mean(trace[i][0] for trace in traces) for i in range(len(aurocs))]
    retrain_s = seconds[-1]
    retrain_peak = max(r["peak_mib"] for r in retrains)
    metrics: list[MetricValue] = []

    def add(name: str, value: float, method: str | None = None, goal: Goal | None = None) -> None:
        metrics.append(goal_metric(METRIC_INFO, name, value, method, goal))

    for name, value in graph.items():
        add(name, value)
    add("train_original_time", train_s)
    add("wall_time", retrain_s, "retrain")
    add("retained_test_auroc", aurocs[-1], "retrain")
    add("peak_memory", retrain_peak, "retrain")
    notes: list[str] = []
    for name, row in measured.items():
        achieved = row["retained_test_auroc"]
        reached = [i for i, value in enumerate(aurocs) if value >= achieved - run.tolerance]
        matched_s = seconds[reached[0]] if reached else retrain_s
        wall = max(row["wall_s"], 1e-9)
        speedup, full = matched_s / wall, retrain_s / wall
        goal = GOALS.get(name)
        add("wall_time", row["wall_s"], name)
        add("retained_test_auroc", achieved, name)
        add("peak_memory", row["peak_mib"], name)
        if retrain_peak > 1:
            add("memory_ratio", row["peak_mib"] / retrain_peak, name)
        if reached:
            add("retrain_epochs_to_match", float(reached[0] + 1), name)
        add("retrain_s_to_match", matched_s, name)
        add("retrain_matched", float(bool(reached)), name)
        add("speedup_at_matched_utility", speedup, name, goal=goal)
        add("speedup_vs_full_retrain", full, name)
        if goal is not None:
            add("speedup_at_matched_utility_met", float(goal.met(speedup)), name)
            add("speedup_vs_full_retrain_met", float(goal.met(full)), name)
            flag = "met" if goal.met(speedup) else "NOT met"
            notes.append(
                f"goal {name}: {goal.comparison} {goal.bound:.0f}x at matched retained AUROC: "
                f"{speedup:.1f}x ({flag}); {full:.1f}x against the full retraining"
            )
    backbone = BACKBONE_NAMES.get(setup.backbone.backbone, setup.backbone.backbone)
    load_after = os.getloadavg()
    notes += [
        f"baseline: exact retraining (fresh {backbone}, {run.epochs} epochs, same data), "
        f"{len(retrains)} run(s): {', '.join(f'{t[-1][0]:.2f} s' for t in traces)}",
        f"matching: retraining stopped at the first epoch whose retained test AUROC >= the "
        f"method's - {run.tolerance}",
        "memory: VmHWM growth over the call in a fresh process per measurement",
        f"graph: {int(graph['training_edges'])} training edges, "
        f"{int(graph['deleted_edges'])} deleted",
        machine_load_note(load_before, after=load_after),
        f"machine: {platform.platform()}, {setup.num_threads} torch thread(s) per process",
    ]
    curve = Curve(
        name="retrain-auroc-trace",
        title="Exact retraining: retained test AUROC against training time; lines: methods",
        x_label="retraining time (s)",
        y_label="retained test AUROC",
        series=[Series(label="retrain", x=seconds, y=aurocs)],
        hlines={name: row["retained_test_auroc"] for name, row in measured.items()},
    )
    timings = {"train original": train_s, "retrain (mean)": retrain_s}
    timings.update({name: row["wall_s"] for name, row in measured.items()})
    return BenchmarkResult(metrics=metrics, curves=[curve], timings=timings, notes=notes)


METRIC_INFO: dict[str, tuple[Direction, str | None]] = {
    # name -> (direction, unit)
    "training_edges": ("none", None),
    "deleted_edges": ("none", None),
    "train_original_time": ("lower", "s"),
    "wall_time": ("lower", "s"),
    "retained_test_auroc": ("higher", None),
    "peak_memory": ("lower", "MiB"),
    "memory_ratio": ("lower", None),
    "retrain_epochs_to_match": ("none", None),
    "retrain_s_to_match": ("none", "s"),
    "retrain_matched": ("none", None),
    "speedup_at_matched_utility": ("higher", None),
    "speedup_vs_full_retrain": ("higher", None),
    "speedup_at_matched_utility_met": ("higher", None),
    "speedup_vs_full_retrain_met": ("higher", None),
}

UNLEARN_GRAPH_SPEED = Benchmark[CSBMConfig, BackboneParams, UnlearnGraphSpeedRun](
    name="unlearn-graph-speed",
    summary="Approximate methods vs exact retraining at matched AUROC: time and peak memory.",
    kind="speed",
    default_spec=_default_spec,
    run=_run,
    check=_check,
    params_type=UnlearnGraphSpeedRun,
    worlds={"csbm": CSBMConfig},
    models=BACKBONE_PARAMS,
    methods=METHODS,
    method_names=METHOD_NAMES,
    metric_names=frozenset(METRIC_INFO),
    request_kinds=frozenset(),
    max_seeds=1,
    quick_budget_s=60.0,
)
