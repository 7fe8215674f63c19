"""``graph-histograph`` and ``graph-histograph-speed``: HISTOGRAPH against last-layer
pooling as GNNs get deeper, and what it costs (arXiv:2601.01123).

``graph-histograph``: for every backbone (GCN, GIN), depth (4, 8, 16, 32 layers) and
readout (``histograph``, ``mean``, ``sum``, ``attention``: see
`unlearn_graph.readout.classifier`) a `GraphClassifier` is trained from scratch on a
graph-classification world (`unlearn_graph.worlds.graph_classes`: SBM vs planted 4-cliques
vs Barabási–Albert, one-hot degree features) and scored by test accuracy at the epoch of
best validation accuracy, mean and spread over the seeds. ``params.tu_datasets`` adds
TUDataset folders already on disk; an absent one is skipped with a note (nothing is
downloaded). The paper's claim checked: HISTOGRAPH is robust to over-smoothing, i.e.
its accuracy holds as depth grows while last-layer pooling falls.
Metrics: ``test_accuracy`` (and ``_std``) per dataset/backbone/depth/readout,
``histograph_gain`` (HISTOGRAPH minus the best baseline at that depth) and
``depth_drop`` (accuracy at the shallowest minus at the deepest depth) per readout; a
plot of accuracy against depth per backbone, and HISTOGRAPH's mean layer weights.

``graph-histograph-speed``: the forward pass (eval, no gradients) of one backbone with
HISTOGRAPH against the same backbone, same weights, with mean pooling, on a batch of
generated graphs; the two are timed alternately ``repeats`` times, in ABBA order
(thread CPU time, so that other processes on a shared machine do not count; wall time
reported beside it) and the medians compared. Goal (issue 18): HISTOGRAPH adds at most
30 % (``overhead <= 0.30``).
No torch at import time.
"""

# Over 600 lines on purpose: the accuracy benchmark and its speed benchmark share the
# world, the model and the depth validation; each reads top to bottom.

from __future__ import annotations

import os
import platform
import statistics
import time
from functools import partial
from typing import Any

from pydantic import Field, field_validator
from unlearn_schema.base import StrictModel
from unlearn_schema.configs import BenchmarkSpec, Size
from unlearn_schema.plugins import Benchmark, ParsedSpec, Progress
from unlearn_schema.recipes import Goal, machine_load_note, spec_from_parts
from unlearn_schema.results import BenchmarkResult, Curve, MetricValue, Series, Table

from unlearn_graph.benchmarks._common import with_threads
from unlearn_graph.readout import READOUTS, GraphBackbone, ReadoutName
from unlearn_graph.worlds.graph_classes import (
    GraphClassesConfig,
    GraphDataset,
    TUConfig,
    graph_classes,
    load_tu_dir,
    tu_files_missing,
)

OVERHEAD_GOAL = Goal("<=", 0.30)
"""HISTOGRAPH's forward time over mean pooling's, minus 1 (issue 18, Performance)."""
PARTS = ("backbone", "readout", "mean pooling")
"""The parts of a forward that ``graph-histograph-speed`` also times alone."""
HistographWorld = GraphClassesConfig | TUConfig


def _both_backbones() -> list[GraphBackbone]:
    return ["gcn", "gin"]


def _all_readouts() -> list[ReadoutName]:
    return list(READOUTS)


def _distinct(value: list[Any]) -> list[Any]:
    if len(set(map(str, value))) != len(value):
        raise ValueError(f"entries must be distinct, got {value}")
    return value


def _check_depths(value: list[int]) -> list[int]:
    if any(d < 1 or d > 256 for d in value) or len(set(value)) != len(value):
        raise ValueError(f"depths must be distinct integers in 1..256, got {value}")
    return sorted(value)


class HistographRun(StrictModel):
    """Backbones, depths and readouts to compare, and how each classifier is trained."""

    backbones: list[GraphBackbone] = Field(default_factory=_both_backbones, min_length=1)
    depths: list[int] = Field(default_factory=lambda: [4, 8, 16, 32], min_length=1)
    readouts: list[ReadoutName] = Field(default_factory=_all_readouts, min_length=1)
    hidden: int = Field(default=32, ge=4, le=1024)
    heads: int = Field(default=1, ge=1, le=16, description="HISTOGRAPH node-attention heads.")
    epochs: int = Field(default=60, ge=1, le=5000)
    lr: float = Field(default=0.005, gt=0.0, le=1.0)
    batch_size: int = Field(default=32, ge=1, le=100_000)
    threads: int = Field(default=1, ge=1, le=256, description="torch threads while training.")
    tu_datasets: list[TUConfig] = Field(
        default_factory=list,
        description="TUDataset folders on local disk, run after the world; absent: skipped.",
    )

    _unique_backbones = field_validator("backbones")(_distinct)
    _unique_readouts = field_validator("readouts")(_distinct)

    _sorted_depths = field_validator("depths")(_check_depths)


Parsed = ParsedSpec[HistographWorld, Any, HistographRun]


def _default_spec(size: Size) -> BenchmarkSpec:
    if size == "quick":
        world = GraphClassesConfig(graphs_per_class=60)
        run = HistographRun(backbones=["gcn"], depths=[4, 16], epochs=30)
    else:
        world = GraphClassesConfig(graphs_per_class=200)
        run = HistographRun(
            tu_datasets=[
                TUConfig(folder="data/TUDataset", name="MUTAG"),
                TUConfig(folder="data/TUDataset", name="PROTEINS"),
            ]
        )
    seeds = (0,) if size == "quick" else (0, 1, 2)
    return spec_from_parts(
        "graph-histograph", size, seeds, world=("graph-classes", world), params=run
    )


def _check(parsed: Parsed) -> None:
    if isinstance(parsed.world, TUConfig):
        missing = tu_files_missing(parsed.world.folder, parsed.world.name)
        if missing:
            raise ValueError(
                f"world.params: TUDataset folder {parsed.world.folder!r} lacks "
                f"{', '.join(missing)}; give a folder with the {parsed.world.name}_*.txt "
                "files (nothing is downloaded) or use world 'graph-classes'"
            )
    if "histograph" in parsed.params.readouts and parsed.params.hidden % parsed.params.heads:
        raise ValueError(
            f"params.heads ({parsed.params.heads}) must divide params.hidden "
            f"({parsed.params.hidden})"
        )


def _datasets(parsed: Parsed, seed: int, notes: list[str]) -> dict[str, GraphDataset]:
    world = parsed.world
    found: dict[str, GraphDataset] = {}
    if isinstance(world, TUConfig):
        found[world.name] = load_tu_dir(world.folder, world.name)
    else:
        found["graph-classes"] = graph_classes(world, seed)
    for tu in parsed.params.tu_datasets:
        missing = tu_files_missing(tu.folder, tu.name)
        if missing:
            if seed == parsed.seeds[0]:
                notes.append(
                    f"TUDataset {tu.name}: skipped, {tu.folder!r} lacks {', '.join(missing)} "
                    "(put the TUDataset text files there to include it; nothing is downloaded)"
                )
            continue
        found[tu.name] = load_tu_dir(tu.folder, tu.name)
    return found


def _run(parsed: Parsed, progress: Progress, out_dir: str) -> BenchmarkResult:
    del out_dir
    return with_threads(parsed.params.threads, _compare, parsed, progress)


def _compare(parsed: Parsed, progress: Progress) -> BenchmarkResult:
    import numpy as np
    import torch

    from unlearn_graph.readout.classifier import GraphClassifier
    from unlearn_graph.readout.training import collate, split_graphs, train_graph_classifier

    run = parsed.params
    load_before = os.getloadavg()
    started = time.perf_counter()
    notes: list[str] = []
    per_seed = {seed: _datasets(parsed, seed, notes) for seed in parsed.seeds}
    names = list(per_seed[parsed.seeds[0]])
    cells = len(names) * len(run.backbones) * len(run.depths) * len(run.readouts)
    progress.start(cells * len(parsed.seeds), "trainings")
    # (dataset, backbone, depth, readout) -> test accuracy per seed
    scores: dict[tuple[str, str, int, str], list[float]] = {}
    # (dataset, backbone, depth) -> HISTOGRAPH's mean layer weights on the test graphs
    layer_weights: dict[tuple[str, str, int], list[list[float]]] = {}
    for seed in parsed.seeds:
        for name, dataset in per_seed[seed].items():
            split = split_graphs(dataset, seed)
            for backbone in run.backbones:
                for depth in run.depths:
                    for readout in run.readouts:
                        torch.manual_seed(seed)
                        model = GraphClassifier(
                            dataset.num_features,
                            dataset.num_classes,
                            backbone,
                            depth,
                            run.hidden,
                            readout,
                            run.heads,
                        )
                        trained = train_graph_classifier(
                            model, dataset, split, run.epochs, seed, run.lr, run.batch_size
                        )
                        scores.setdefault((name, backbone, depth, readout), []).append(
                            trained.test_accuracy
                        )
                        if model.histograph is not None:
                            test = collate(dataset, split.test)
                            with torch.no_grad():
                                model.eval()
                                history = model.history(test.x, test.edge_index)
                                alpha = model.histograph.layers.weights(
                                    history, test.batch, test.num_graphs
                                )
                            layer_weights.setdefault((name, backbone, depth), []).append(
                                np.asarray(alpha.mean(0)).tolist()
                            )
                        progress.advance(
                            1,
                            f"{name} {backbone} depth {depth} {readout}: "
                            f"test {trained.test_accuracy:.3f}",
                        )
    return _report(parsed, names, scores, layer_weights, notes, load_before, started)


def _report(
    parsed: Parsed,
    names: list[str],
    scores: dict[tuple[str, str, int, str], list[float]],
    layer_weights: dict[tuple[str, str, int], list[list[float]]],
    notes: list[str],
    load_before: tuple[float, float, float],
    started: float,
) -> BenchmarkResult:
    run = parsed.params
    metrics: list[MetricValue] = []
    curves: list[Curve] = []
    rows: list[list[str]] = []
    mean = {key: statistics.fmean(v) for key, v in scores.items()}
    spread = {key: statistics.pstdev(v) for key, v in scores.items()}
    baselines = [r for r in run.readouts if r != "histograph"]
    shallow, deep = run.depths[0], run.depths[-1]
    for name in names:
        for backbone in run.backbones:
            cell = {"dataset": name, "backbone": backbone}
            for depth in run.depths:
                for readout in run.readouts:
                    key = (name, backbone, depth, readout)
                    labels = {**cell, "depth": str(depth), "readout": readout}
                    metrics.append(
                        MetricValue(
                            name="test_accuracy", value=mean[key], direction="higher", labels=labels
                        )
                    )
                    metrics.append(
                        MetricValue(name="test_accuracy_std", value=spread[key], labels=labels)
                    )
                if "histograph" in run.readouts and baselines:
                    best = max(mean[(name, backbone, depth, r)] for r in baselines)
                    gain = mean[(name, backbone, depth, "histograph")] - best
                    metrics.append(
                        MetricValue(
                            name="histograph_gain",
                            value=gain,
                            direction="higher",
                            labels={**cell, "depth": str(depth)},
                        )
                    )
                rows.append(
                    [name, backbone, str(depth)]
                    + [
                        f"{mean[(name, backbone, depth, r)]:.3f} ± "
                        f"{spread[(name, backbone, depth, r)]:.3f}"
                        for r in run.readouts
                    ]
                )
            if len(run.depths) > 1:
                for readout in run.readouts:
                    drop = (
                        mean[(name, backbone, shallow, readout)]
                        - mean[(name, backbone, deep, readout)]
                    )
                    metrics.append(
                        MetricValue(
                            name="depth_drop",
                            value=drop,
                            direction="lower",
                            labels={**cell, "readout": readout},
                        )
                    )
                drops = {
                    r: mean[(name, backbone, shallow, r)] - mean[(name, backbone, deep, r)]
                    for r in run.readouts
                }
                notes.append(
                    f"{name}, {backbone}: accuracy lost from depth {shallow} to {deep}: "
                    + ", ".join(f"{r} {d:+.3f}" for r, d in drops.items())
                )
            curves.append(
                Curve(
                    name=f"accuracy-vs-depth-{name}-{backbone}".lower(),
                    title=f"{name}, {backbone.upper()}: test accuracy against depth",
                    x_label="message-passing layers",
                    y_label="test accuracy",
                    series=[
                        Series(
                            label=readout,
                            x=[float(d) for d in run.depths],
                            y=[mean[(name, backbone, d, readout)] for d in run.depths],
                            y_err=[spread[(name, backbone, d, readout)] for d in run.depths],
                        )
                        for readout in run.readouts
                    ],
                    log_x=True,
                )
            )
            weights = [
                (depth, layer_weights[(name, backbone, depth)])
                for depth in run.depths
                if (name, backbone, depth) in layer_weights
            ]
            if weights:
                curves.append(
                    Curve(
                        name=f"histograph-layer-weights-{name}-{backbone}".lower(),
                        title=f"{name}, {backbone.upper()}: HISTOGRAPH's mean layer weight "
                        "(test graphs) against the layer's relative depth",
                        x_label="layer / depth (0: encoded input, 1: last layer)",
                        y_label="mean attention weight",
                        series=[
                            Series(
                                label=f"depth {depth}",
                                x=[layer / depth for layer in range(depth + 1)],
                                y=[
                                    statistics.fmean(seed[layer] for seed in per_seed)
                                    for layer in range(depth + 1)
                                ],
                            )
                            for depth, per_seed in weights
                        ],
                    )
                )
    notes += [
        f"seeds {parsed.seeds} (world, split and initialisation), {run.epochs} epochs, hidden "
        f"{run.hidden}, Adam lr {run.lr}, batch {run.batch_size}; test accuracy at the best "
        "validation epoch",
        "paper's claim: HISTOGRAPH is robust to over-smoothing in deep GNNs (accuracy holds "
        "as depth grows where last-layer pooling falls); compare depth_drop per readout",
        machine_load_note(load_before, after=os.getloadavg()),
        f"machine: {platform.platform()}, {run.threads} torch thread(s)",
    ]
    summary = Table(
        title="Test accuracy (mean ± std over seeds)",
        header=["dataset", "backbone", "depth", *run.readouts],
        rows=rows,
    )
    return BenchmarkResult(
        metrics=metrics,
        curves=curves,
        summary=summary,
        notes=notes,
        timings={"total": time.perf_counter() - started},
    )


GRAPH_HISTOGRAPH = Benchmark[HistographWorld, Any, HistographRun](
    name="graph-histograph",
    summary="HISTOGRAPH readout vs mean/sum/attention pooling on GCN/GIN at depths 4-32: "
    "accuracy against depth (over-smoothing).",
    default_spec=_default_spec,
    run=_run,
    check=_check,
    params_type=HistographRun,
    worlds={"graph-classes": GraphClassesConfig, "tu": TUConfig},
    metric_names=frozenset({"test_accuracy", "test_accuracy_std", "histograph_gain", "depth_drop"}),
    quick_budget_s=180.0,
)


class HistographSpeedRun(StrictModel):
    """The backbone and batch the forward passes are timed on."""

    backbone: GraphBackbone = "gcn"
    depths: list[int] = Field(default_factory=lambda: [4, 16, 32], min_length=1)
    hidden: int = Field(default=32, ge=4, le=1024)
    heads: int = Field(default=1, ge=1, le=16)
    graphs: int = Field(default=128, ge=1, le=100_000, description="Graphs in the timed batch.")
    repeats: int = Field(default=30, ge=3, le=10_000)
    threads: int = Field(default=1, ge=1, le=256)

    _sorted_depths = field_validator("depths")(_check_depths)


SpeedParsed = ParsedSpec[GraphClassesConfig, Any, HistographSpeedRun]


def _speed_spec(size: Size) -> BenchmarkSpec:
    if size == "quick":
        run = HistographSpeedRun(depths=[4, 16], repeats=15)
    else:
        run = HistographSpeedRun(depths=[4, 8, 16, 32], repeats=50, graphs=512)
    world = GraphClassesConfig(graphs_per_class=max(run.graphs // 3 + 1, 2))
    return spec_from_parts(
        "graph-histograph-speed", size, world=("graph-classes", world), params=run
    )


def _milliseconds(name: str, seconds: float, labels: dict[str, str]) -> MetricValue:
    return MetricValue(name=name, value=seconds * 1000, direction="lower", unit="ms", labels=labels)


def _against_goal(name: str, overhead: float, labels: dict[str, str]) -> MetricValue:
    return MetricValue(
        name=name,
        value=overhead,
        direction="lower",
        labels=labels,
        reference=OVERHEAD_GOAL.bound,
        reference_name="goal",
    )


def _minor_faults() -> int:
    """Minor page faults of this process so far (0 where ``resource`` is missing)."""
    try:
        import resource
    except ImportError:  # not on Windows
        return 0
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _speed(parsed: SpeedParsed, progress: Progress, out_dir: str) -> BenchmarkResult:
    del out_dir
    import numpy as np
    import torch

    from unlearn_graph.readout.classifier import GraphClassifier
    from unlearn_graph.readout.histograph import scatter_mean
    from unlearn_graph.readout.training import collate

    run, seed = parsed.params, parsed.seeds[0]
    threads = torch.get_num_threads()
    torch.set_num_threads(run.threads)
    load_before = os.getloadavg()
    dataset = graph_classes(parsed.world, seed)
    count = min(run.graphs, len(dataset))
    batch = collate(dataset, np.arange(count))
    progress.start(len(run.depths), "depths timed")
    metrics: list[MetricValue] = []
    rows: list[list[str]] = []
    overheads: list[float] = []
    fault_counts: list[str] = []
    try:
        for depth in run.depths:
            torch.manual_seed(seed)
            models: dict[str, Any] = {
                readout: GraphClassifier(
                    dataset.num_features,
                    dataset.num_classes,
                    run.backbone,
                    depth,
                    run.hidden,
                    readout,
                    run.heads,
                ).eval()
                for readout in ("mean", "histograph")
            }
            # Same backbone weights on both sides: only the readout differs.
            shared = {
                k: v for k, v in models["mean"].state_dict().items() if not k.startswith("head")
            }
            models["histograph"].load_state_dict(shared, strict=False)
            # The whole forwards, then the parts of the HISTOGRAPH forward timed alone
            # (where the overhead sits): the backbone both models share, the readout on
            # its list of layers (as the forward passes it, not stacked), and mean
            # pooling for scale.
            calls: dict[str, Any] = {
                readout: partial(model, batch.x, batch.edge_index, batch.batch, count)
                for readout, model in models.items()
            }
            histograph = models["histograph"]
            with torch.no_grad():
                states = histograph.history(batch.x, batch.edge_index)
            calls["backbone"] = partial(histograph.history, batch.x, batch.edge_index)
            calls["readout"] = partial(histograph.histograph, states, batch.batch, count)
            calls["mean pooling"] = partial(scatter_mean, states[-1], batch.batch, count)
            times: dict[str, list[float]] = {name: [] for name in calls}
            walls: dict[str, list[float]] = {name: [] for name in calls}
            faults: dict[str, list[int]] = {name: [] for name in calls}
            # CPU time of this thread (torch runs its one intra-op thread inline): the
            # time slices other processes take on a shared machine are not counted.
            clock = time.thread_time if run.threads == 1 else time.process_time
            with torch.no_grad():
                for call in calls.values():  # warm-up
                    call()
                for repeat in range(run.repeats):
                    # ABBA order: whichever runs second in a round (warmer caches) is
                    # not always the same readout.
                    order = list(calls.items())
                    for name, call in order if repeat % 2 == 0 else order[::-1]:
                        faults_before = _minor_faults()
                        began, wall = clock(), time.perf_counter()
                        call()
                        times[name].append(clock() - began)
                        walls[name].append(time.perf_counter() - wall)
                        faults[name].append(_minor_faults() - faults_before)
            parts = {name: statistics.median(times.pop(name)) for name in PARTS}
            for name in PARTS:
                walls.pop(name)
            median = {r: statistics.median(t) for r, t in times.items()}
            wall_median = {r: statistics.median(t) for r, t in walls.items()}
            overhead = median["histograph"] / median["mean"] - 1.0
            # What HISTOGRAPH adds, counted part by part: the readout in place of mean
            # pooling, over the whole mean-pooling forward.
            added = parts["readout"] - parts["mean pooling"]
            added_overhead = added / median["mean"]
            overheads.append(overhead)
            fault_counts.append(
                f"depth {depth}: mean {statistics.median(faults['mean']):.0f}, "
                f"HISTOGRAPH {statistics.median(faults['histograph']):.0f}"
            )
            cell = {"backbone": run.backbone, "depth": str(depth)}
            for readout, value in median.items():
                labels = {**cell, "readout": readout}
                metrics.append(_milliseconds("forward_time", value, labels))
                metrics.append(_milliseconds("forward_wall_time", wall_median[readout], labels))
                metrics.append(
                    MetricValue(
                        name="page_faults",
                        value=float(statistics.median(faults[readout])),
                        labels=labels,
                    )
                )
            metrics.append(_against_goal("overhead", overhead, cell))
            for part, seconds in parts.items():
                metrics.append(_milliseconds("part_time", seconds, {**cell, "part": part}))
            metrics.append(_against_goal("added_overhead", added_overhead, cell))
            metrics.append(
                MetricValue(
                    name="overhead_met",
                    value=float(OVERHEAD_GOAL.met(overhead)),
                    direction="higher",
                    labels=cell,
                )
            )
            rows.append(
                [
                    str(depth),
                    f"{median['mean'] * 1000:.2f}",
                    f"{median['histograph'] * 1000:.2f}",
                    f"{overhead * 100:+.1f} %",
                    f"{(wall_median['histograph'] / wall_median['mean'] - 1) * 100:+.1f} %",
                    "met" if OVERHEAD_GOAL.met(overhead) else "NOT met",
                    f"{parts['backbone'] * 1000:.2f}",
                    f"{parts['readout'] * 1000:.2f}",
                    f"{added_overhead * 100:+.1f} %",
                ]
            )
            progress.advance(1, f"depth {depth}: overhead {overhead * 100:+.1f} %")
    finally:
        torch.set_num_threads(threads)
    notes = [
        f"batch: {count} generated graphs, {batch.x.shape[0]} nodes, "
        f"{batch.edge_index.shape[1]} directed edges; {run.backbone.upper()} hidden "
        f"{run.hidden}; eval forward without gradients, the two readouts timed alternately, "
        f"median of {run.repeats}; forward_time and the goal use the thread's CPU time "
        "(robust to other processes), forward_wall_time the wall clock",
        f"goal: HISTOGRAPH adds {OVERHEAD_GOAL} (30 %) to the forward pass of the same "
        f"backbone with mean pooling; worst measured {max(overheads) * 100:+.1f} %",
        "parts, timed alone in the same ABBA rounds: backbone (the layers both models "
        "share), readout (HISTOGRAPH on the backbone's list of layers, as the forward "
        "passes it), mean pooling; 'added, part by part' = (readout - mean pooling) / "
        "mean-pooling forward: HISTOGRAPH's own cost, without the whole forwards' noise",
        "page_faults: minor page faults per whole forward (median; "
        + "; ".join(fault_counts)
        + "). The backbone's edge-sized temporaries fault in fresh pages or not depending "
        "on the allocator's state, and the mean-pooling forward's time (the goal's "
        "denominator) follows them: compare runs by the part times as well",
        machine_load_note(load_before, after=os.getloadavg()),
        f"machine: {platform.platform()}, {run.threads} torch thread(s)",
    ]
    return BenchmarkResult(
        metrics=metrics,
        curves=[
            Curve(
                name="histograph-overhead",
                title="HISTOGRAPH's forward-time overhead over mean pooling, by depth",
                x_label="message-passing layers",
                y_label="overhead (fraction of the mean-pooling forward)",
                series=[Series(label=run.backbone, x=[float(d) for d in run.depths], y=overheads)],
                hlines={"goal": OVERHEAD_GOAL.bound},
            )
        ],
        summary=Table(
            title="Forward time (ms of thread CPU time, median)",
            header=[
                "depth",
                "mean pooling",
                "HISTOGRAPH",
                "overhead (CPU)",
                "overhead (wall)",
                "goal <= 30 %",
                "backbone",
                "readout",
                "added, part by part",
            ],
            rows=rows,
        ),
        notes=notes,
    )


GRAPH_HISTOGRAPH_SPEED = Benchmark[GraphClassesConfig, Any, HistographSpeedRun](
    name="graph-histograph-speed",
    summary="Forward time of a GNN with the HISTOGRAPH readout vs mean pooling (goal: "
    "<= 30 % overhead).",
    kind="speed",
    default_spec=_speed_spec,
    run=_speed,
    params_type=HistographSpeedRun,
    worlds={"graph-classes": GraphClassesConfig},
    metric_names=frozenset(
        {
            "forward_time",
            "forward_wall_time",
            "overhead",
            "overhead_met",
            "part_time",
            "added_overhead",
            "page_faults",
        }
    ),
    max_seeds=1,
    quick_budget_s=60.0,
)
