"""``graph-rwcs-attack``: black-box feature attacks on a few selected nodes of trained GNNs
(RWCS / GC-RWCS, arXiv:2006.05057).

For every world (a contextual SBM, plus Planetoid-format folders on local disk) and seed,
GCN, GraphSAGE and GAT are trained on clean data (60/20/20 split, as the paper). The
attacker may touch only the nodes of degree at most the top-``degree_top_share`` degree,
picks ``r`` of them from the graph alone (`unlearn_graph.attacks.feature_perturbation`:
``random``, ``degree``, ``rwcs``, ``gc-rwcs``; the last two from graph-algos) and adds
the same vector $\\tau$ to each one's features ($\\lambda$ on the $J$ columns of largest
summed training-loss gradient, the paper's construction). The mis-classification rate
and the cross-entropy of the test nodes are measured for growing ``r`` and for every
multiple of $\\lambda$ in ``strength_scales`` (the full spec: 1 and 3, i.e. $\\lambda$ = 4
and 12 on the CSBM); the random selector is averaged over ``random_draws`` draws.

The paper's claims checked: (1) the mis-classification rate of RWCS shows a diminishing
return as ``r`` grows (``marginal_return``: rate gained per attacked node, first budget
step vs last), although its loss keeps rising; (2) GC-RWCS's greedy correction raises
the mis-classification rate over RWCS and beats the baselines (``gc_rwcs_gain``).

Metrics: ``misclassification_rate`` (and ``_std`` over seeds), ``misclassification_increase``
(minus the clean model's), ``test_loss`` per dataset/model/strength/selector/budget;
``clean_misclassification_rate`` per dataset/model; ``gc_rwcs_gain`` per budget;
``marginal_return`` per selector and segment. A plot of the rate (and one of the loss)
against the number of attacked nodes per dataset and model. No torch at import time;
graph-algos is needed only when ``rwcs`` or ``gc-rwcs`` is among the selectors.
"""

from __future__ import annotations

import itertools
import os
import statistics
import time
from typing import Literal

from pydantic import Field, field_validator
from unlearn_schema.base import StrictModel
from unlearn_schema.configs import BenchmarkSpec, Size
from unlearn_schema.plugins import Benchmark, NoParams, ParsedSpec, Progress
from unlearn_schema.recipes import spec_from_parts
from unlearn_schema.results import BenchmarkResult, Curve, MetricValue, Series, Table

from unlearn_graph.attacks.feature_perturbation import SELECTORS, FeatureAttackParams, Selector
from unlearn_graph.benchmarks import _common
from unlearn_graph.config import TrainConfig
from unlearn_graph.worlds import CSBMConfig, PlanetoidConfig

AttackedModel = Literal["gcn", "sage", "gat"]
RWCSWorld = CSBMConfig | PlanetoidConfig
NEEDS_GRAPH_ALGOS = ("rwcs", "gc-rwcs")


def _all_models() -> list[AttackedModel]:
    return ["gcn", "sage", "gat"]


def _all_selectors() -> list[Selector]:
    return list(SELECTORS)


class RWCSAttackRun(StrictModel):
    """Models, selectors, budgets, the attack, training, and Planetoid folders to add."""

    models: list[AttackedModel] = Field(default_factory=_all_models, min_length=1)
    selectors: list[Selector] = Field(default_factory=_all_selectors, min_length=1)
    budget_shares: list[float] = Field(
        default_factory=lambda: [0.01, 0.02, 0.04, 0.06, 0.1],
        min_length=1,
        description="Attacked nodes r as shares of all nodes; r = 0 (clean) is always run.",
    )
    attack: FeatureAttackParams = Field(
        default_factory=lambda: FeatureAttackParams(strength=4.0),
        description="On the CSBM: lambda 4 on a quarter of its 32 unit-noise Gaussian features.",
    )
    planetoid_feature_share: float = Field(
        default=0.02,
        gt=0.0,
        le=1.0,
        description="J / D on Planetoid worlds (sparse bag-of-words features; the paper's 2 %).",
    )
    planetoid_strength: float = Field(
        default=1.0, ge=0.0, description="lambda on Planetoid worlds (0/1 features; the paper's 1)."
    )
    strength_scales: list[float] = Field(
        default_factory=lambda: [1.0],
        min_length=1,
        description="lambda is run at each of these multiples (the CSBM's and Planetoid's).",
    )
    random_draws: int = Field(default=5, ge=1, le=100, description="Draws of the random selector.")
    hidden: int = Field(default=32, ge=2, le=1024)
    num_layers: int = Field(default=2, ge=1, le=8)
    dropout: float = Field(default=0.5, ge=0.0, lt=1.0)
    heads: int = Field(default=4, ge=1, le=16, description="GAT attention heads.")
    train: TrainConfig = Field(default_factory=lambda: TrainConfig(epochs=200))
    train_ratio: float = Field(default=0.6, gt=0.0, lt=1.0)
    val_ratio: float = Field(default=0.2, ge=0.0, lt=1.0)
    threads: int = Field(default=1, ge=1, le=256, description="torch threads while training.")
    planetoid: list[PlanetoidConfig] = Field(
        default_factory=list,
        description="Planetoid folders on local disk, run after the world; absent: skipped.",
    )

    @field_validator("models", "selectors")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        return _common.distinct_entries(value, "entries")

    @field_validator("strength_scales")
    @classmethod
    def _check_scales(cls, value: list[float]) -> list[float]:
        if any(not v > 0.0 for v in value) or len(set(value)) != len(value):
            raise ValueError(f"strength_scales must be distinct positive numbers, got {value}")
        return value

    @field_validator("budget_shares")
    @classmethod
    def _check_shares(cls, value: list[float]) -> list[float]:
        return _common.distinct_shares(value, "budget_shares")


Parsed = ParsedSpec[RWCSWorld, NoParams, RWCSAttackRun]


def _default_spec(size: Size) -> BenchmarkSpec:
    if size == "quick":
        world = CSBMConfig(num_nodes=1000, average_degree=8.0, feature_signal=1.0)
        run = RWCSAttackRun()
        seeds: tuple[int, ...] = (0,)
    else:
        world = CSBMConfig(num_nodes=3000, average_degree=8.0, feature_signal=1.0)
        run = RWCSAttackRun(
            budget_shares=[0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1],
            strength_scales=[1.0, 3.0],
            random_draws=10,
            planetoid=[
                PlanetoidConfig(folder="data/Planetoid/Cora/raw", name="cora"),
                PlanetoidConfig(folder="data/Planetoid/CiteSeer/raw", name="citeseer"),
            ],
        )
        seeds = (0, 1, 2)
    return spec_from_parts("graph-rwcs-attack", size, seeds, world=("csbm", world), params=run)


def _check(parsed: Parsed) -> None:
    run = parsed.params
    _common.check_planetoid_world(parsed.world)
    _common.check_node_split(run.train_ratio, run.val_ratio)
    if "gat" in run.models and run.hidden % run.heads:
        raise ValueError(
            f"params: GAT needs hidden divisible by heads, got {run.hidden} and {run.heads}"
        )
    if any(s in NEEDS_GRAPH_ALGOS for s in run.selectors):
        try:
            import graph_algos  # noqa: F401
        except ImportError as error:
            raise ValueError(
                "params.selectors: rwcs and gc-rwcs need graph-algos (pip install graph-algos); "
                "without it use selectors random and degree"
            ) from error


def _run(parsed: Parsed, progress: Progress, out_dir: str) -> BenchmarkResult:
    del out_dir
    return _common.with_threads(parsed.params.threads, _attack, parsed, progress)


Cell = tuple[str, str, str, int]
"""(dataset, model variant, selector, budget index); budget index 0 is the clean model."""


def _variant(model: str, scale: float) -> str:
    """The key of one model attacked at one multiple of lambda."""
    return f"{model}@{scale:g}"


def _attack(parsed: Parsed, progress: Progress) -> BenchmarkResult:
    from unlearn_graph.attacks.feature_perturbation import (
        attack_curve,
        build_perturbation,
        select_for_task,
    )
    from unlearn_graph.config import BackboneConfig
    from unlearn_graph.tasks import make_node_task
    from unlearn_graph.training import train_original

    run = parsed.params
    load_before = os.getloadavg()
    started = time.perf_counter()
    notes: list[str] = []
    per_seed = _common.graphs_by_seed(parsed.world, run.planetoid, parsed.seeds, notes)
    names = list(per_seed[parsed.seeds[0]])
    progress.start(len(parsed.seeds) * len(names) * len(run.models), "trained models")
    rates: dict[Cell, list[float]] = {}
    losses: dict[Cell, list[float]] = {}
    budgets_of: dict[str, list[int]] = {}
    selection_seconds: dict[str, float] = {}
    for seed in parsed.seeds:
        for name, graph in per_seed[seed].items():
            task = make_node_task(graph, seed, run.train_ratio, run.val_ratio)
            budgets = [0, *(max(1, round(s * task.num_nodes)) for s in run.budget_shares)]
            budgets_of[name] = budgets
            attack = run.attack
            if name != "csbm":
                attack = attack.model_copy(
                    update={
                        "feature_share": run.planetoid_feature_share,
                        "strength": run.planetoid_strength,
                    }
                )
            # The selection sees only the graph: one ranking per selector serves every model.
            chosen: dict[str, list[list[int]]] = {}
            for selector in run.selectors:
                draws = run.random_draws if selector == "random" else 1
                tick = time.perf_counter()
                chosen[selector] = [
                    select_for_task(task, selector, budgets[-1], attack, seed=seed * 1000 + draw)
                    for draw in range(draws)
                ]
                selection_seconds[selector] = selection_seconds.get(selector, 0.0) + (
                    time.perf_counter() - tick
                )
            for model_name in run.models:
                backbone = BackboneConfig(
                    backbone=model_name,
                    hidden=run.hidden,
                    num_layers=run.num_layers,
                    dropout=run.dropout,
                    heads=run.heads,
                )
                model = train_original(task, backbone, run.train, seed)
                unit = build_perturbation(model, task, attack, seed=seed)
                # tau is linear in lambda, so every scale reuses the one gradient.
                for scale, selector in itertools.product(run.strength_scales, run.selectors):
                    curves = [
                        attack_curve(
                            model, task, selector, budgets, attack, tau=unit * scale, chosen=c
                        )
                        for c in chosen[selector]
                    ]
                    for index in range(len(budgets)):
                        key = (name, _variant(model_name, scale), selector, index)
                        rates.setdefault(key, []).append(
                            statistics.fmean(c[index][1] for c in curves)
                        )
                        losses.setdefault(key, []).append(
                            statistics.fmean(c[index][2] for c in curves)
                        )
                variant = _variant(model_name, run.strength_scales[0])
                clean = rates[(name, variant, run.selectors[0], 0)][-1]
                progress.advance(1, f"seed {seed} {name} {model_name}: clean error {clean:.3f}")
    notes.append(
        "selection wall seconds over all seeds and datasets (the random selector summed over "
        "its draws): " + ", ".join(f"{s} {t:.2f}" for s, t in selection_seconds.items())
    )
    return _report(parsed, names, budgets_of, rates, losses, notes, load_before, started)


def _report(
    parsed: Parsed,
    names: list[str],
    budgets_of: dict[str, list[int]],
    rates: dict[Cell, list[float]],
    losses: dict[Cell, list[float]],
    notes: list[str],
    load_before: tuple[float, float, float],
    started: float,
) -> BenchmarkResult:
    run = parsed.params
    mean = {key: statistics.fmean(v) for key, v in rates.items()}
    spread = {key: statistics.pstdev(v) for key, v in rates.items()}
    loss = {key: statistics.fmean(v) for key, v in losses.items()}
    first = run.selectors[0]
    metrics: list[MetricValue] = []
    curves: list[Curve] = []
    rows: list[list[str]] = []
    gains: dict[str, list[float]] = {}
    diminishing: list[str] = []
    several = len(run.strength_scales) > 1
    for name in names:
        budgets = budgets_of[name]
        steps = range(1, len(budgets))
        unit = run.attack.strength if name == "csbm" else run.planetoid_strength
        for model_name, scale in itertools.product(run.models, run.strength_scales):
            model = _variant(model_name, scale)
            strength = f"{unit * scale:g}"
            clean = mean[(name, model, first, 0)]
            base = {"dataset": name, "model": model_name, "strength": strength}
            if scale == run.strength_scales[0]:
                metrics.append(
                    MetricValue(
                        name="clean_misclassification_rate",
                        value=clean,
                        direction="none",
                        labels={"dataset": name, "model": model_name},
                    )
                )
            for selector in run.selectors:
                for index in steps:
                    key = (name, model, selector, index)
                    labels = {
                        **base,
                        "selector": selector,
                        "attacked": str(budgets[index]),
                        "share": f"{run.budget_shares[index - 1]:g}",
                    }
                    metrics += [
                        MetricValue(
                            name="misclassification_rate",
                            value=mean[key],
                            direction="higher",
                            labels=labels,
                            reference=clean,
                            reference_name="clean model",
                        ),
                        MetricValue(
                            name="misclassification_rate_std", value=spread[key], labels=labels
                        ),
                        MetricValue(
                            name="misclassification_increase",
                            value=mean[key] - clean,
                            direction="higher",
                            labels=labels,
                        ),
                        MetricValue(name="test_loss", value=loss[key], labels=labels),
                    ]
                # Rate gained per attacked node: the first budget step against the last.
                if len(budgets) >= 3 and budgets[-1] > budgets[-2]:
                    segments = {"first": (0, 1), "last": (len(budgets) - 2, len(budgets) - 1)}
                    returns = {}
                    for segment, (a, b) in segments.items():
                        returns[segment] = (
                            mean[(name, model, selector, b)] - mean[(name, model, selector, a)]
                        ) / (budgets[b] - budgets[a])
                        metrics.append(
                            MetricValue(
                                name="marginal_return",
                                value=returns[segment],
                                labels={**base, "selector": selector, "segment": segment},
                            )
                        )
                    if selector == "rwcs" and returns["last"] < returns["first"]:
                        diminishing.append(f"{name}/{model_name}/lambda {strength}")
                rows.append(
                    [name, model_name, strength, selector, f"{clean:.3f}"]
                    + [
                        f"{mean[(name, model, selector, i)]:.3f} ± "
                        f"{spread[(name, model, selector, i)]:.3f}"
                        for i in steps
                    ]
                )
            if "rwcs" in run.selectors and "gc-rwcs" in run.selectors:
                for index in steps:
                    gain = (
                        mean[(name, model, "gc-rwcs", index)] - mean[(name, model, "rwcs", index)]
                    )
                    gains.setdefault(strength, []).append(gain)
                    metrics.append(
                        MetricValue(
                            name="gc_rwcs_gain",
                            value=gain,
                            direction="higher",
                            labels={**base, "attacked": str(budgets[index])},
                        )
                    )
            for quantity, table, label in (
                ("misclassification", mean, "test mis-classification rate"),
                ("loss", loss, "test cross-entropy"),
            ):
                curves.append(
                    Curve(
                        name=f"{quantity}-{name}-{model_name}".lower()
                        + (f"-x{scale:g}" if several else ""),
                        title=f"{name}, {model_name}, lambda {strength}: {label} against the "
                        "number of attacked nodes",
                        x_label="attacked nodes r",
                        y_label=label,
                        series=[
                            Series(
                                label=selector,
                                x=[float(b) for b in budgets],
                                y=[table[(name, model, selector, i)] for i in range(len(budgets))],
                            )
                            for selector in run.selectors
                        ],
                    )
                )
    top_loss: dict[str, int] = {}
    top_rate: dict[str, int] = {}
    for name in names:
        last = len(budgets_of[name]) - 1
        for model_name, scale in itertools.product(run.models, run.strength_scales):
            cells = [(name, _variant(model_name, scale), s, last) for s in run.selectors]
            loudest = max(cells, key=lambda c: loss[c])[2]
            worst = max(cells, key=lambda c: mean[c])[2]
            top_loss[loudest] = top_loss.get(loudest, 0) + 1
            top_rate[worst] = top_rate.get(worst, 0) + 1
    notes.append(
        "at the largest budget, the selector with the highest test loss (dataset/model/lambda "
        "cells): "
        + ", ".join(f"{s} {k}" for s, k in sorted(top_loss.items()))
        + "; with the highest mis-classification rate: "
        + ", ".join(f"{s} {k}" for s, k in sorted(top_rate.items()))
    )
    for strength, values in gains.items():
        notes.append(
            f"lambda {strength}: GC-RWCS minus RWCS mis-classification rate over {len(values)} "
            f"cells: mean {statistics.fmean(values):+.3f}, min {min(values):+.3f}, max "
            f"{max(values):+.3f}; GC-RWCS ahead in {sum(g > 0 for g in values)}, behind in "
            f"{sum(g < 0 for g in values)}"
        )
    if "rwcs" in run.selectors and run.budget_shares[1:]:
        notes.append(
            f"RWCS gains less per attacked node on the last budget step than on the first in "
            f"{len(diminishing)} of {len(names) * len(run.models) * len(run.strength_scales)} "
            "dataset/model/lambda cells "
            "(diminishing return): "
            f"{', '.join(diminishing) or 'none'}"
        )
    attack = run.attack
    notes += [
        f"seeds {parsed.seeds} (world, split, training); split {run.train_ratio:g}/"
        f"{run.val_ratio:g}/rest; {run.train.epochs} epochs, hidden {run.hidden}, "
        f"{run.num_layers} layers, dropout {run.dropout:g}; attack: lambda {attack.strength:g} "
        f"times {run.strength_scales} "
        f"on J = {attack.feature_share:g} of the features (Planetoid: lambda "
        f"{run.planetoid_strength:g} on {run.planetoid_feature_share:g}), direction "
        f"{attack.direction}, nodes above the top-{attack.degree_top_share:g} degree off "
        f"limits, RWCS walk L = {attack.steps}, "
        f"GC-RWCS l = {attack.top_per_target}; random selector mean of {run.random_draws} draws",
        "paper's claims: RWCS raises the loss but its mis-classification rate shows a "
        "diminishing return in r; GC-RWCS corrects it and beats RWCS and the baselines",
    ]
    summary = Table(
        title="Test mis-classification rate (mean ± std over seeds) by attacked share r / n",
        header=[
            "dataset",
            "model",
            "lambda",
            "selector",
            "clean",
            *[f"r/n={s:g}" for s in run.budget_shares],
        ],
        rows=rows,
    )
    return _common.comparison_result(
        metrics, curves, summary, notes, load_before, started, run.threads
    )


GRAPH_RWCS_ATTACK = Benchmark[RWCSWorld, NoParams, RWCSAttackRun](
    name="graph-rwcs-attack",
    summary="Black-box feature attack on r nodes picked by random, degree, RWCS, GC-RWCS: "
    "mis-classification rate of trained GCN/SAGE/GAT against r.",
    default_spec=_default_spec,
    run=_run,
    check=_check,
    params_type=RWCSAttackRun,
    worlds={"csbm": CSBMConfig, "planetoid": PlanetoidConfig},
    metric_names=frozenset(
        {
            "misclassification_rate",
            "misclassification_rate_std",
            "misclassification_increase",
            "test_loss",
            "clean_misclassification_rate",
            "gc_rwcs_gain",
            "marginal_return",
        }
    ),
    quick_budget_s=180.0,
)
