"""``graph-hyper-conhd``: edge-dependent node classification, CoNHD against models that
keep one representation per node (arXiv:2405.14286).

For every model of ``params.models`` (`unlearn_graph.hyper.HYPER_MODELS`: ``conhd``
with self-attention operators, ``conhd-deepsets`` with DeepSets operators,
``whatsnet`` (WHATsNet-like node and hyperedge embeddings), ``hgnn`` (HGNN node
embeddings and the mean of the members) and ``node-mlp`` (the node's features alone))
and every depth of ``params.layers``, a model is trained from scratch on the
planted-roles hypergraph (`unlearn_graph.worlds.hyper_roles`: leader / member /
outsider of each hyperedge, or the hyperedge's type) with the hyperedges split 60/20/20
per seed, and scored on the test hyperedges' incidences at the epoch of best
validation micro-F1 (`unlearn_graph.hyper.training`). The paper's claims checked:
CoNHD beats the single-representation models (WHATsNet, HGNN) at edge-dependent node
classification, does not lose accuracy as layers are added (WHATsNet over-smooths), and
costs about as much to train.

Metrics, per model and depth: ``micro_f1``, ``macro_f1`` (mean over seeds, and
``_std``), ``epoch_time`` (ms of one training step), ``parameters``; per depth
``conhd_margin`` (``conhd`` minus the best model that is not a CoNHD). Plots: micro-F1
and epoch time against the number of layers. No torch at import time.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

import numpy as np
from pydantic import Field, field_validator
from unlearn_schema.configs import BenchmarkSpec, Size
from unlearn_schema.plugins import Benchmark, ParsedSpec, Progress
from unlearn_schema.recipes import spec_from_parts
from unlearn_schema.results import BenchmarkResult, Curve, MetricValue, Series, Table

from unlearn_graph.benchmarks._common import comparison_result, distinct_entries, with_threads
from unlearn_graph.hyper import HYPER_MODELS, HyperModelName, HyperModelParams
from unlearn_graph.worlds.hyper_roles import HyperRolesConfig, HyperWorld, hyper_roles

CONHD_VARIANTS = ("conhd", "conhd-deepsets")


def _all_models() -> list[HyperModelName]:
    return list(HYPER_MODELS)


class ConhdRun(HyperModelParams):
    """Models and depths to compare; the width and training knobs are inherited from
    `HyperModelParams` (one torch thread by default)."""

    models: list[HyperModelName] = Field(default_factory=_all_models, min_length=1)
    layers: list[int] = Field(default_factory=lambda: [1, 2], min_length=1)
    val_share: float = Field(default=0.2, gt=0.0, lt=1.0)
    test_share: float = Field(default=0.2, gt=0.0, lt=1.0)
    threads: int = Field(default=1, ge=1, le=256, description="torch threads while training.")

    @field_validator("models")
    @classmethod
    def _distinct_models(cls, value: list[HyperModelName]) -> list[HyperModelName]:
        return distinct_entries(value, "models")

    @field_validator("layers")
    @classmethod
    def _check_layers(cls, value: list[int]) -> list[int]:
        if any(d < 1 or d > 64 for d in value) or len(set(value)) != len(value):
            raise ValueError(f"layers must be distinct integers in 1..64, got {value}")
        return sorted(value)


Parsed = ParsedSpec[HyperRolesConfig, Any, ConhdRun]


def _default_spec(size: Size) -> BenchmarkSpec:
    if size == "quick":
        world = HyperRolesConfig()
        run = ConhdRun()
        seeds: tuple[int, ...] = (0,)
    else:
        world = HyperRolesConfig(num_nodes=3000, num_hyperedges=2000)
        run = ConhdRun(layers=[1, 2, 4, 8], epochs=300)
        seeds = (0, 1, 2)
    return spec_from_parts(
        "graph-hyper-conhd", size, seeds, world=("hyper-roles", world), params=run
    )


def _check(parsed: Parsed) -> None:
    run = parsed.params
    if run.hidden % run.heads and {"conhd", "whatsnet"} & set(run.models):
        raise ValueError(f"params.heads ({run.heads}) must divide params.hidden ({run.hidden})")
    if run.val_share + run.test_share >= 1.0:
        raise ValueError(
            f"params: val_share + test_share must be below 1 (training hyperedges are "
            f"needed), got {run.val_share} + {run.test_share}"
        )
    if parsed.world.num_hyperedges < 3:
        raise ValueError("world.params.num_hyperedges: a split needs at least 3 hyperedges")


def _run(parsed: Parsed, progress: Progress, out_dir: str) -> BenchmarkResult:
    del out_dir
    return with_threads(parsed.params.threads, _compare, parsed, progress)


def _label_shares(world: HyperWorld) -> str:
    counts = np.bincount(world.labels, minlength=world.num_classes) / len(world.labels)
    return ", ".join(
        f"{name} {share:.2f}" for name, share in zip(world.class_names, counts, strict=True)
    )


def _compare(parsed: Parsed, progress: Progress) -> BenchmarkResult:
    import torch

    from unlearn_graph.hyper.training import build_hyper_model, split_hyperedges, train_hyper_model

    run = parsed.params
    load_before = os.getloadavg()
    started = time.perf_counter()
    progress.start(len(parsed.seeds) * len(run.layers) * len(run.models), "trainings")
    # (model, layers) -> one value per seed
    micro: dict[tuple[str, int], list[float]] = {}
    macro: dict[tuple[str, int], list[float]] = {}
    epoch_ms: dict[tuple[str, int], list[float]] = {}
    parameters: dict[tuple[str, int], int] = {}
    notes: list[str] = []
    for seed in parsed.seeds:
        world = hyper_roles(parsed.world, seed)
        if seed == parsed.seeds[0]:
            degree = np.bincount(world.nodes, minlength=world.num_nodes)
            notes.append(
                f"world (seed {seed}): {world.num_nodes} nodes, {world.num_hyperedges} "
                f"hyperedges, {len(world.labels)} incidences (mean node degree "
                f"{degree.mean():.2f}, max {degree.max()}); labels: {_label_shares(world)}"
            )
        split = split_hyperedges(world.num_hyperedges, seed, run.val_share, run.test_share)
        for layers in run.layers:
            for name in run.models:
                torch.manual_seed(seed)
                width = world.features.shape[1]
                model = build_hyper_model(name, width, world.num_classes, run, layers)
                fit = train_hyper_model(model, world, split, run, seed)
                key = (name, layers)
                micro.setdefault(key, []).append(fit.test_micro_f1)
                macro.setdefault(key, []).append(fit.test_macro_f1)
                epoch_ms.setdefault(key, []).append(fit.epoch_seconds * 1000)
                parameters[key] = fit.parameters
                progress.advance(
                    1,
                    f"seed {seed} {name} {layers} layer(s): micro-F1 {fit.test_micro_f1:.3f}, "
                    f"macro-F1 {fit.test_macro_f1:.3f}",
                )
    return _report(parsed, micro, macro, epoch_ms, parameters, notes, load_before, started)


def _report(
    parsed: Parsed,
    micro: dict[tuple[str, int], list[float]],
    macro: dict[tuple[str, int], list[float]],
    epoch_ms: dict[tuple[str, int], list[float]],
    parameters: dict[tuple[str, int], int],
    notes: list[str],
    load_before: tuple[float, float, float],
    started: float,
) -> BenchmarkResult:
    run = parsed.params
    metrics: list[MetricValue] = []
    rows: list[list[str]] = []
    mean = {key: statistics.fmean(v) for key, v in micro.items()}
    for name in run.models:
        row: list[str] = [name]
        for layers in run.layers:
            key = (name, layers)
            labels = {"model": name, "layers": str(layers)}
            for metric, values in (("micro_f1", micro[key]), ("macro_f1", macro[key])):
                metrics.append(
                    MetricValue(
                        name=metric,
                        value=statistics.fmean(values),
                        direction="higher",
                        labels=labels,
                    )
                )
                metrics.append(
                    MetricValue(
                        name=f"{metric}_std", value=statistics.pstdev(values), labels=labels
                    )
                )
            metrics.append(
                MetricValue(
                    name="epoch_time",
                    value=statistics.fmean(epoch_ms[key]),
                    direction="lower",
                    unit="ms",
                    labels=labels,
                )
            )
            metrics.append(
                MetricValue(name="parameters", value=float(parameters[key]), labels=labels)
            )
            row.append(
                f"{mean[key]:.3f} / {statistics.fmean(macro[key]):.3f} "
                f"({statistics.fmean(epoch_ms[key]):.0f} ms)"
            )
        rows.append(row)
    others = [m for m in run.models if m not in CONHD_VARIANTS]
    if "conhd" in run.models and others:
        for layers in run.layers:
            best = max(others, key=lambda m: mean[(m, layers)])
            margin = mean[("conhd", layers)] - mean[(best, layers)]
            metrics.append(
                MetricValue(
                    name="conhd_margin",
                    value=margin,
                    direction="higher",
                    labels={"layers": str(layers), "best_other": best},
                )
            )
            notes.append(
                f"{layers} layer(s): CoNHD micro-F1 {mean[('conhd', layers)]:.3f}, best other "
                f"{best} {mean[(best, layers)]:.3f} (margin {margin:+.3f})"
            )
    depths = [float(d) for d in run.layers]
    curves = [
        Curve(
            name="conhd-micro-f1-vs-layers",
            title="Edge-dependent node classification: test micro-F1 against layers",
            x_label="layers (diffusion steps / message-passing rounds)",
            y_label="test micro-F1",
            series=[
                Series(
                    label=name,
                    x=depths,
                    y=[mean[(name, d)] for d in run.layers],
                    y_err=[statistics.pstdev(micro[(name, d)]) for d in run.layers],
                )
                for name in run.models
            ],
        ),
        Curve(
            name="conhd-epoch-time-vs-layers",
            title="Training step time (forward + backward, full batch) against layers",
            x_label="layers",
            y_label="ms per training step",
            series=[
                Series(
                    label=name,
                    x=depths,
                    y=[statistics.fmean(epoch_ms[(name, d)]) for d in run.layers],
                )
                for name in run.models
            ],
        ),
    ]
    notes += [
        f"seeds {parsed.seeds} (world, split and initialisation), {run.epochs} full-batch "
        f"epochs, hidden {run.hidden}, {run.heads} heads, Adam lr {run.lr}, dropout "
        f"{run.dropout}; hyperedges split {1 - run.val_share - run.test_share:.0%} / "
        f"{run.val_share:.0%} / {run.test_share:.0%}; scores at the best validation epoch",
        "paper's claim: CoNHD beats single-representation HGNNs (WHATsNet and others) on "
        "every ENC dataset, holds up as layers are added, at no loss of efficiency",
    ]
    summary = Table(
        title="Test micro-F1 / macro-F1 (mean over seeds; ms per training step)",
        header=["model", *(f"{d} layer(s)" for d in run.layers)],
        rows=rows,
    )
    return comparison_result(metrics, curves, summary, notes, load_before, started, run.threads)


GRAPH_HYPER_CONHD = Benchmark[HyperRolesConfig, Any, ConhdRun](
    name="graph-hyper-conhd",
    summary="Edge-dependent node classification on a planted-roles hypergraph: CoNHD "
    "co-representations vs WHATsNet-like, HGNN and node-only models, by depth.",
    default_spec=_default_spec,
    run=_run,
    check=_check,
    params_type=ConhdRun,
    worlds={"hyper-roles": HyperRolesConfig},
    metric_names=frozenset(
        {
            "micro_f1",
            "micro_f1_std",
            "macro_f1",
            "macro_f1_std",
            "epoch_time",
            "parameters",
            "conhd_margin",
        }
    ),
    quick_budget_s=180.0,
)

__all__ = ["GRAPH_HYPER_CONHD", "ConhdRun"]
