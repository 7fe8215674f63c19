"""Benchmark recipes of unlearn-graph, registered under the ``unlearn.benchmarks`` group.

``graph-unlearn-quick`` and ``graph-unlearn-full`` compose a contextual SBM, a GNN
backbone, deletion requests sampled at several deletion ratios, the exact retrain
oracle, every approximate method and the metrics into one report. Two scenarios:

* ``edges``: link prediction; training edges are deleted (GNNDelete's "in"/"out"
  sampling); deletion efficacy is the deleted-edge AUROC/AUPR;
* ``nodes``: node classification; training nodes are deleted; EGNN edits run here too.

Beside membership inference every model (the original, the original weights on the
retained graph as ``no-unlearning``, the oracle and each method) is attacked by link
stealing on the deleted edges (`unlearn_graph.attacks.link_stealing`) and put through
the relearning check (`unlearn_graph.attacks.relearning`): a few fine-tuning steps on
the retained data, after which the attack and the forget accuracy are measured again
and compared with the oracle relearned the same way.

Declared parts: worlds ``csbm``, ``karate`` and ``planetoid`` (``WORLD_PARAMS``),
models ``gcn``/``sage``/``gat``/``gin`` (``BACKBONE_PARAMS``), ``params`` a
`GraphUnlearnRun`, methods from ``METHODS`` except ``retrain`` (the oracle always
runs), any number of seeds, no requests (deletions are sampled from
``params.deletion_ratios``) and no checkpoint. Torch is imported only when a benchmark
runs.
"""

# Over 600 lines on purpose: one recipe read top to bottom (delete, evaluate, attack,
# report); the attack loop already lives in _attack_audit.py and the evaluation in _evaluate.py.

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, Field, field_validator
from unlearn_schema.base import StrictModel
from unlearn_schema.configs import BenchmarkSpec, MethodConfig, ModelSpec, Size, WorldSpec
from unlearn_schema.errors import SpecError
from unlearn_schema.plugins import Benchmark, ParsedSpec, Progress
from unlearn_schema.recipes import check_methods
from unlearn_schema.requests import EdgeDeletionRequest, NodeDeletionRequest
from unlearn_schema.results import BenchmarkResult, Curve, Direction, Flag, MetricValue, Series

from unlearn_graph.attacks.link_stealing import Distance
from unlearn_graph.config import BACKBONE_PARAMS, BackboneParams, LearningRate, TrainConfig
from unlearn_graph.methods import METHODS
from unlearn_graph.worlds import WORLD_PARAMS, CSBMConfig

if TYPE_CHECKING:
    from unlearn_graph.benchmarks._attack_audit import AttackAudit
    from unlearn_graph.tasks import Task

Scenario = Literal["edges", "nodes"]
SCENARIOS: tuple[Scenario, ...] = ("edges", "nodes")
# The retrain oracle always runs (with params.train, the originals' budget), so
# `retrain` is not a method a spec lists; EGNN runs as an edit in the nodes scenario.
METHOD_NAMES = ("gradient-ascent", "gnndelete", "d2dgn", "grapheraser", "gif", "egnn")


class GraphUnlearnRun(StrictModel):
    """Benchmark knobs (``spec.params``)."""

    scenarios: list[Scenario] = Field(default_factory=lambda: list(SCENARIOS), min_length=1)
    deletion_ratios: list[float] = Field(
        default_factory=lambda: [0.01, 0.02, 0.05],
        min_length=1,
        description="Fraction of the training edges (edges) or nodes (nodes) deleted.",
    )
    edge_sampling: Literal["in", "out"] = "in"
    train: TrainConfig = Field(default_factory=lambda: TrainConfig(epochs=100))
    resamples: int = Field(default=10, ge=1, le=1000)
    egnn_edits: int = Field(default=10, ge=0, le=10_000)
    num_threads: int = Field(
        default=1, ge=1, le=256, description="torch threads; 1 is fastest on a shared CPU."
    )
    link_stealing_distance: Distance = Field(
        default="correlation", description="Distance between posteriors of the link stealing."
    )
    negatives_per_edge: int = Field(
        default=5, ge=1, le=1000, description="Anchored non-edges per deleted edge."
    )
    profile_anchors: int = Field(
        default=64, ge=1, le=100_000, description="Anchor nodes of a link model's posterior."
    )
    relearn_steps: list[int] = Field(
        default_factory=lambda: [5, 20],
        description="Relearning checkpoints (fine-tuning steps on retained data); [] skips it.",
    )
    relearn_learning_rate: LearningRate | None = Field(
        default=None, description="Adam step size of the relearning; None: train.learning_rate."
    )

    @field_validator("deletion_ratios")
    @classmethod
    def _ratios(cls, ratios: list[float]) -> list[float]:
        bad = [r for r in ratios if not 0 < r <= 0.5]
        if bad:
            raise ValueError(f"deletion ratios must lie in (0, 0.5], got {bad}")
        if len(set(ratios)) != len(ratios):
            raise ValueError(f"deletion ratios must be unique, got {ratios}")
        return sorted(ratios)

    @field_validator("relearn_steps")
    @classmethod
    def _steps(cls, steps: list[int]) -> list[int]:
        bad = [k for k in steps if not 1 <= k <= 100_000]
        if bad:
            raise ValueError(f"relearn steps must lie in [1, 100000], got {bad}")
        if len(set(steps)) != len(steps):
            raise ValueError(f"relearn steps must be unique, got {steps}")
        return sorted(steps)


Parsed = ParsedSpec[BaseModel, BackboneParams, GraphUnlearnRun]


def _default_spec(name: str, size: Size) -> BenchmarkSpec:
    if size == "quick":
        world = CSBMConfig(num_nodes=2000, average_degree=10.0)
        run = GraphUnlearnRun()
        seeds = [0]
    else:
        world = CSBMConfig(num_nodes=10_000, average_degree=10.0)
        run = GraphUnlearnRun(
            deletion_ratios=[0.005, 0.01, 0.02, 0.05, 0.1],
            train=TrainConfig(epochs=200),
            relearn_steps=[10, 50],
        )
        seeds = [0, 1, 2]
    epochs = run.train.epochs
    methods = [
        MethodConfig(name="gradient-ascent"),
        MethodConfig(name="gnndelete"),
        MethodConfig(name="d2dgn"),
        MethodConfig(name="grapheraser", params={"num_shards": 4, "epochs": epochs}),
        MethodConfig(name="gif"),
        MethodConfig(name="egnn"),
    ]
    return BenchmarkSpec(
        benchmark=name,
        size=size,
        seeds=seeds,
        world=WorldSpec(name="csbm", params=world.model_dump()),
        model=ModelSpec(name="sage", params={"hidden": 64, "num_layers": 2}),
        methods=methods,
        metrics=[],
        params=run.model_dump(),
    )


def _quick_spec(size: Size) -> BenchmarkSpec:
    return _default_spec("graph-unlearn-quick", size)


def _full_spec(size: Size) -> BenchmarkSpec:
    return _default_spec("graph-unlearn-full", size)


def _check(parsed: Parsed) -> None:
    """What the types cannot say: each method once, EGNN only with the nodes scenario."""
    check_methods(parsed, METHOD_NAMES, at_least=0)  # no method: the oracle alone
    scenarios = parsed.params.scenarios
    problems = [
        f"methods[{index}].name: egnn edits node classifiers and runs only in the nodes "
        f"scenario, but params.scenarios is {scenarios}; add 'nodes' or remove egnn"
        for index, method in enumerate(parsed.methods)
        if method.name == "egnn" and "nodes" not in scenarios
    ]
    problems += _infeasible_deletions(parsed)
    if problems:
        raise SpecError(problems)


def _infeasible_deletions(parsed: Parsed) -> list[str]:
    """The deletions ``run`` would refuse: more 'in'/'out' edges (or training nodes) asked
    for than the split of some seed has. Numpy only, the same splits as the run."""
    from unlearn_graph.splits import edge_deletion_candidates, link_split_order, node_split_order
    from unlearn_graph.worlds import load_world

    assert parsed.world_name is not None
    run = parsed.params
    problems: list[str] = []
    for seed in parsed.seeds:
        try:
            graph = load_world(parsed.world_name, parsed.world, seed)
        except (OSError, ValueError) as error:  # e.g. a Planetoid folder that is not there
            return [f"world.params: {error}"]
        for scenario in run.scenarios:
            rng = np.random.default_rng(seed)
            if scenario == "edges":
                order, n_test, n_val = link_split_order(graph.edges.shape[1], rng)
                train = graph.edges[:, np.sort(order[n_test + n_val :])]
                sources = np.unique(graph.edges[:, order[:n_test]].reshape(-1))
                available = edge_deletion_candidates(
                    train, graph.num_nodes, sources, run.edge_sampling
                ).size
                size, unit = train.shape[1], "edges"
                what = f"training edges lie {'inside' if run.edge_sampling == 'in' else 'outside'}"
                what += " the test set's 2-hop neighbourhood"
            else:
                _, n_train, _ = node_split_order(graph.num_nodes, rng)
                size, available, unit = n_train, n_train - 1, "nodes"
                what = "training nodes may be deleted (all but one)"
            for ratio in run.deletion_ratios:
                count = max(1, round(ratio * size))
                if count > available:
                    problems.append(
                        f"params.deletion_ratios: {ratio} asks to delete {count} {unit} in the "
                        f"{scenario} scenario of seed {seed}, but only {available} {what} "
                        f"(params.edge_sampling={run.edge_sampling!r}); lower the ratio"
                        + (
                            ", or make the graph sparser or sample 'in' edges"
                            if unit == "edges"
                            else ""
                        )
                    )
    return problems


def _make_task(parsed: Parsed, scenario: Scenario, seed: int) -> Task:
    from unlearn_graph.tasks import make_link_task, make_node_task
    from unlearn_graph.worlds import load_world

    assert parsed.world_name is not None
    graph = load_world(parsed.world_name, parsed.world, seed)
    return make_link_task(graph, seed) if scenario == "edges" else make_node_task(graph, seed)


METRIC_INFO: dict[str, tuple[Direction, str | None]] = {
    # name -> (direction, unit)
    "retained_test_auroc": ("higher", None),
    "retained_test_accuracy": ("higher", None),
    # Deletion metrics: the retrain oracle's value is the target; overshooting it shows
    # as much as falling short (a model that singles the deleted edges out leaks them).
    "deleted_edge_auroc": ("target", None),
    "deleted_edge_aupr": ("target", None),
    "mi_auc": ("target", None),
    "mi_member_ratio": ("target", None),
    "kl_to_oracle": ("lower", "nats"),
    "utility_gap_to_oracle": ("lower", None),
    "wall_time": ("lower", "s"),
    "time_ratio_to_retrain": ("lower", None),
    "peak_memory": ("lower", "MiB"),
    "edit_success": ("higher", None),
    "accuracy_drop": ("lower", None),
    # Link stealing and relearning (attacks/link_stealing.py, attacks/relearning.py):
    # the oracle's value is the target, after relearning the relearned oracle's.
    "link_stealing_auc": ("target", None),
    "link_query_auc": ("target", None),
    "forget_accuracy": ("target", None),
    "relearned_link_stealing_auc": ("target", None),
    "relearned_link_query_auc": ("target", None),
    "relearned_forget_accuracy": ("target", None),
}


def _run(parsed: Parsed, progress: Progress, out_dir: str) -> BenchmarkResult:
    """Train, delete, unlearn with every method, and compare each with the oracle."""
    del out_dir  # no artifacts: plots are returned as curves
    import time

    import torch

    from unlearn_graph.benchmarks._attack_audit import AttackAudit
    from unlearn_graph.benchmarks._evaluate import DeletionEvaluator
    from unlearn_graph.deletion import apply_requests, sample_edge_deletion, sample_node_deletion
    from unlearn_graph.methods.egnn import NodeEdit, egnn_edit, stitch_mlp
    from unlearn_graph.methods.grapheraser import train_grapheraser
    from unlearn_graph.methods.params import EGNNParams, GraphEraserParams, RetrainParams
    from unlearn_graph.methods.retrain import retrain
    from unlearn_graph.metrics import accuracy, accuracy_drop, kl_to_oracle, measure_cost
    from unlearn_graph.tasks import NodeTask
    from unlearn_graph.training import predict, train_original

    run = parsed.params
    assert parsed.model_name is not None
    backbone = parsed.model.backbone_config(parsed.model_name)
    torch.set_num_threads(run.num_threads)
    methods = {m.name: m for m in parsed.methods if m.name != "egnn"}
    edit = next((m for m in parsed.methods if m.name == "egnn"), None)
    per_ratio = len(methods) + 1
    total = len(parsed.seeds) * len(run.scenarios) * (len(run.deletion_ratios) * per_ratio + 1)
    progress.start(total, "unlearning runs")

    values: dict[tuple[str, str, float, str], list[float]] = defaultdict(list)
    oracle_values: dict[tuple[str, float, str], list[float]] = defaultdict(list)
    timings: dict[str, float] = defaultdict(float)
    retrain_params = RetrainParams(**run.train.model_dump())
    for seed in parsed.seeds:
        for scenario in run.scenarios:
            began = time.perf_counter()
            task = _make_task(parsed, scenario, seed)
            original = train_original(task, backbone, run.train, seed)
            sharded = None
            if "grapheraser" in methods:
                shard_params = methods["grapheraser"].params
                assert isinstance(shard_params, GraphEraserParams)
                sharded = train_grapheraser(task, backbone, shard_params, seed=seed)
            timings[f"train originals ({scenario})"] += time.perf_counter() - began
            size = task.train_elements.shape[-1]
            for ratio in run.deletion_ratios:
                count = max(1, round(ratio * size))
                request: EdgeDeletionRequest | NodeDeletionRequest
                if scenario == "edges":
                    request = sample_edge_deletion(task, count, run.edge_sampling, seed)
                else:
                    request = sample_node_deletion(task, count, seed)
                problem = apply_requests(task, [request])
                evaluator = DeletionEvaluator(problem, original, run.resamples, seed)
                began = time.perf_counter()
                audit = AttackAudit(
                    problem,
                    relearn_steps=run.relearn_steps,
                    learning_rate=run.relearn_learning_rate or run.train.learning_rate,
                    negatives_per_edge=run.negatives_per_edge,
                    profile_anchors=run.profile_anchors,
                    metric=run.link_stealing_distance,
                    seed=seed,
                )
                # The original as the adversary met it before deletion (original graph),
                # and the same weights served on the retained graph without unlearning.
                for metric, value in audit.attack(original, task.x, task.edge_index).items():
                    values[(scenario, "original", ratio, metric)].append(value)
                for metric, value in _attacked(audit, original).items():
                    values[(scenario, "no-unlearning", ratio, metric)].append(value)
                timings["attacks and relearning"] += time.perf_counter() - began
                kept: list[Any] = []
                oracle_metrics, oracle_predictions, oracle_cost = evaluator.measure(
                    _keeping(partial(retrain, original, problem, retrain_params, seed=seed), kept)
                )
                began = time.perf_counter()
                oracle_metrics |= _attacked(audit, kept.pop())
                timings["attacks and relearning"] += time.perf_counter() - began
                for metric, value in oracle_metrics.items():
                    oracle_values[(scenario, ratio, metric)].append(value)
                    values[(scenario, "retrain", ratio, metric)].append(value)
                timings["retrain oracle"] += oracle_cost.wall_s
                progress.advance(1, f"{scenario} ratio {ratio}: retrain")
                utility = "retained_test_auroc" if scenario == "edges" else "retained_test_accuracy"
                for name, method in methods.items():
                    start = sharded if name == "grapheraser" else original
                    metrics, predictions, cost = evaluator.measure(
                        _keeping(
                            partial(method.spec.function, start, problem, method.params, seed=seed),
                            kept,
                        )
                    )
                    began = time.perf_counter()
                    metrics |= _attacked(audit, kept.pop())
                    timings["attacks and relearning"] += time.perf_counter() - began
                    metrics["kl_to_oracle"] = kl_to_oracle(oracle_predictions, predictions)
                    metrics["utility_gap_to_oracle"] = abs(
                        metrics[utility] - oracle_metrics[utility]
                    )
                    metrics["time_ratio_to_retrain"] = cost.wall_s / max(oracle_cost.wall_s, 1e-9)
                    for metric, value in metrics.items():
                        values[(scenario, name, ratio, metric)].append(value)
                    timings[name] += cost.wall_s
                    progress.advance(1, f"{scenario} ratio {ratio}: {name}")
            if isinstance(task, NodeTask) and edit is not None and run.egnn_edits > 0:
                egnn_params = edit.params
                assert isinstance(egnn_params, EGNNParams)
                stitched = stitch_mlp(original, task, egnn_params, seed=seed)
                probabilities = predict(stitched, task.x, task.edge_index, task.test_idx)
                wrong = task.test_idx[probabilities.argmax(-1) != task.y[task.test_idx]]
                targets = wrong[: run.egnn_edits]
                if targets.numel():
                    others = task.test_idx[~torch.isin(task.test_idx, targets)]
                    before = accuracy(
                        predict(stitched, task.x, task.edge_index, others).numpy(),
                        task.y[others].numpy(),
                    )
                    node_edit = NodeEdit(task=task, nodes=targets, labels=task.y[targets])
                    result, cost = measure_cost(
                        partial(egnn_edit, stitched, node_edit, egnn_params, seed=seed)
                    )
                    after = accuracy(
                        predict(result.model, task.x, task.edge_index, others).numpy(),
                        task.y[others].numpy(),
                    )
                    key = ("edit", "egnn", 0.0)
                    values[(*key, "edit_success")].append(result.edit_success)
                    values[(*key, "accuracy_drop")].append(accuracy_drop(before, after))
                    values[(*key, "wall_time")].append(cost.wall_s)
                    timings["egnn edit"] += cost.wall_s
            progress.advance(1, f"{scenario}: done")
    return _report(parsed, values, oracle_values, dict(timings))


def _keeping(make: Callable[[], Any], into: list[Any]) -> Callable[[], Any]:
    """``make`` that also appends the model it returns to ``into`` (the evaluator's
    `measure` returns metrics, not the model, and the attacks need the model)."""

    def call() -> Any:
        model = make()
        into.append(model)
        return model

    return call


def _attacked(audit: AttackAudit, model: Any) -> dict[str, float]:
    """Link stealing and forget accuracy of ``model``, the same after the last relearning
    checkpoint (``relearned_*``), and every checkpoint's values for the trace plots
    (``_relearned_<metric>@<steps>``, not reported as metrics)."""
    out = audit.evaluate(model)
    trace = audit.relearning(model)
    for step, measured in trace.items():
        for metric, value in measured.items():
            out[f"_relearned_{metric}@{step}"] = value
    if trace:
        out |= {f"relearned_{metric}": value for metric, value in trace[max(trace)].items()}
    return out


def _report(
    parsed: Parsed,
    values: dict[tuple[str, str, float, str], list[float]],
    oracle_values: dict[tuple[str, float, str], list[float]],
    timings: dict[str, float],
) -> BenchmarkResult:
    from unlearn_graph.attacks.membership import CLIPPED_SHARE

    run = parsed.params
    metrics: list[MetricValue] = []
    for (scenario, method, ratio, metric), series in sorted(values.items()):
        if metric.startswith("_"):
            continue
        direction, unit = METRIC_INFO.get(metric, ("none", None))
        clipped = values.get((scenario, method, ratio, f"_{metric}_clipped_share"))
        flag: Flag | None = "clipped" if clipped and max(clipped) > CLIPPED_SHARE else None
        reference = oracle_values.get((scenario, ratio, metric))
        has_reference = method != "retrain" and reference is not None
        labels = {"scenario": scenario, "method": method}
        if scenario != "edit":
            labels["deletion_ratio"] = f"{ratio:g}"
        metrics.append(
            MetricValue(
                name=metric,
                value=float(np.mean(series)),
                direction=direction,
                reference=float(np.mean(reference)) if has_reference and reference else None,
                reference_name="retrain oracle" if has_reference else None,
                unit=unit,
                labels=labels,
                flag=flag,
            )
        )

    def mean(scenario: str, method: str, ratio: float, metric: str) -> float | None:
        series = values.get((scenario, method, ratio, metric))
        return float(np.mean(series)) if series else None

    curves: list[Curve] = []
    notes: list[str] = []
    method_names = ["retrain", *[m.name for m in parsed.methods if m.name != "egnn"]]
    for scenario in run.scenarios:
        utility = "retained_test_auroc" if scenario == "edges" else "retained_test_accuracy"
        efficacy = "deleted_edge_auroc" if scenario == "edges" else "mi_member_ratio"
        points, times = [], []
        for method in method_names:
            xs = [mean(scenario, method, r, efficacy) for r in run.deletion_ratios]
            ys = [mean(scenario, method, r, utility) for r in run.deletion_ratios]
            ts = [mean(scenario, method, r, "wall_time") for r in run.deletion_ratios]
            if all(v is not None for v in xs + ys):
                points.append(Series(label=method, x=xs, y=ys))  # type: ignore[arg-type]
            if all(t is not None for t in ts):
                times.append(
                    Series(label=method, x=list(run.deletion_ratios), y=ts)  # type: ignore[arg-type]
                )
        what = "edges (link prediction)" if scenario == "edges" else "nodes (classification)"
        if points:
            curves.append(
                Curve(
                    name=f"utility-vs-efficacy-{scenario}",
                    title=f"Deleting {what}: utility vs deletion efficacy (one point per ratio)",
                    x_label=efficacy.replace("_", " "),
                    y_label=utility.replace("_", " "),
                    series=points,
                )
            )
        if times:
            curves.append(
                Curve(
                    name=f"time-vs-ratio-{scenario}",
                    title=f"Deleting {what}: wall time vs deletion ratio",
                    x_label="deletion ratio",
                    y_label="wall time (s)",
                    series=times,
                    log_x=True,
                )
            )
        ratio = run.deletion_ratios[0]
        parts = []
        for method in method_names[1:]:
            u, e = mean(scenario, method, ratio, utility), mean(scenario, method, ratio, efficacy)
            t = mean(scenario, method, ratio, "time_ratio_to_retrain")
            if u is not None and e is not None and t is not None:
                parts.append(
                    f"{method} {utility} {u:.3f}, {efficacy} {e:.3f}, {t:.2f}× retrain time"
                )
        ou, oe = (
            mean(scenario, "retrain", ratio, utility),
            mean(scenario, "retrain", ratio, efficacy),
        )
        if ou is not None and oe is not None:
            notes.append(
                f"{scenario}, deletion ratio {ratio:g}: retrain oracle {utility} {ou:.3f}, "
                f"{efficacy} {oe:.3f}; " + "; ".join(parts) + "."
            )
    attack_curves, attack_notes = _attack_report(parsed, values)
    curves += attack_curves
    notes += attack_notes
    success = mean("edit", "egnn", 0.0, "edit_success")
    drop = mean("edit", "egnn", 0.0, "accuracy_drop")
    if success is not None and drop is not None:
        notes.append(
            f"EGNN edits of {run.egnn_edits} misclassified test nodes: edit success "
            f"{success:.2f}, accuracy drop on the other test nodes {drop:+.3f}."
        )
    notes.append(
        "Deleted-edge AUROC/AUPR: retained training edges (positive) vs deleted edges, "
        f"{run.resamples} resamples; 0.5 means the deleted edges still look trained. MI AUC: "
        "membership attack fitted on the original model, deleted elements vs held-out ones; "
        "compare it with the oracle's value."
    )
    return BenchmarkResult(metrics=metrics, curves=curves, timings=timings, notes=notes)


def _attack_report(
    parsed: Parsed, values: dict[tuple[str, str, float, str], list[float]]
) -> tuple[list[Curve], list[str]]:
    """Plots and notes of the link stealing and the relearning check: the attack's AUC
    per method against the deletion ratio, with the oracle's line, and the traces of
    the AUC and the forget accuracy over the relearning steps at the largest ratio."""
    run = parsed.params

    def mean(scenario: str, method: str, ratio: float, metric: str) -> float | None:
        series = values.get((scenario, method, ratio, metric))
        return float(np.mean(series)) if series else None

    methods = [m.name for m in parsed.methods if m.name != "egnn"]
    served = ["no-unlearning", "retrain", *methods]
    label = {"retrain": "retrain (oracle)", "original": "original (before deletion)"}
    curves: list[Curve] = []
    notes: list[str] = []
    ratio = run.deletion_ratios[-1]
    steps = [0, *run.relearn_steps]
    for scenario in run.scenarios:
        by_ratio = []
        for method in ["original", *served]:
            ys = [mean(scenario, method, r, "link_stealing_auc") for r in run.deletion_ratios]
            if all(y is not None for y in ys):
                by_ratio.append(
                    Series(
                        label=label.get(method, method),
                        x=list(run.deletion_ratios),
                        y=ys,  # type: ignore[arg-type]
                    )
                )
        if by_ratio:
            curves.append(
                Curve(
                    name=f"link-stealing-{scenario}",
                    title=f"Link stealing on the deleted edges ({scenario} scenario): AUC of "
                    "deleted edges vs non-edges; the oracle's line is the target",
                    x_label="deletion ratio",
                    y_label="link stealing AUC",
                    series=by_ratio,
                    hlines={"chance": 0.5},
                    log_x=True,
                )
            )
        for metric, what in (("link_stealing_auc", "link stealing AUC"), ("forget_accuracy", "")):
            trace = []
            for method in served:
                ys = [mean(scenario, method, ratio, metric)] + [
                    mean(scenario, method, ratio, f"_relearned_{metric}@{k}")
                    for k in run.relearn_steps
                ]
                if len(steps) > 1 and all(y is not None for y in ys):
                    trace.append(Series(label=label.get(method, method), x=steps, y=ys))  # type: ignore[arg-type]
            if trace:
                curves.append(
                    Curve(
                        name=f"relearning-{metric.replace('_', '-')}-{scenario}",
                        title=f"Relearning on the retained data ({scenario} scenario, deletion "
                        f"ratio {ratio:g}): {what or metric.replace('_', ' ')} per step",
                        x_label="fine-tuning steps on the retained graph",
                        y_label=what or metric.replace("_", " "),
                        series=trace,
                    )
                )
        parts = []
        for method in ["original", *served]:
            before = mean(scenario, method, ratio, "link_stealing_auc")
            after = mean(scenario, method, ratio, "relearned_link_stealing_auc")
            if before is None:
                continue
            text = f"{label.get(method, method)} {before:.3f}"
            if after is not None:
                text += f" -> {after:.3f}"
            parts.append(text)
        if parts:
            relearned = (
                f" -> after {run.relearn_steps[-1]} relearning steps" if run.relearn_steps else ""
            )
            notes.append(
                f"{scenario}, deletion ratio {ratio:g}: link stealing AUC on the deleted edges "
                f"({run.link_stealing_distance} distance, {run.negatives_per_edge} anchored "
                f"non-edges per edge){relearned}: " + "; ".join(parts) + "."
            )
    return curves, notes


def _declare(
    name: str, summary: str, default_spec: Callable[[Size], BenchmarkSpec], budget: float | None
) -> Benchmark[BaseModel, BackboneParams, GraphUnlearnRun]:
    return Benchmark[BaseModel, BackboneParams, GraphUnlearnRun](
        name=name,
        summary=summary,
        default_spec=default_spec,
        run=_run,
        check=_check,
        params_type=GraphUnlearnRun,
        worlds=WORLD_PARAMS,
        models=BACKBONE_PARAMS,
        methods=METHODS,
        method_names=METHOD_NAMES,
        metric_names=frozenset(METRIC_INFO),
        request_kinds=frozenset(),
        quick_budget_s=budget,
    )


GRAPH_UNLEARN_QUICK = _declare(
    "graph-unlearn-quick",
    "Edge and node deletion on a 2000-node CSBM: every method vs the retrain oracle.",
    _quick_spec,
    300.0,
)

GRAPH_UNLEARN_FULL = _declare(
    "graph-unlearn-full",
    "Nightly: 10 000-node CSBM, 3 seeds, 5 deletion ratios, every method vs retraining.",
    _full_spec,
    None,
)
