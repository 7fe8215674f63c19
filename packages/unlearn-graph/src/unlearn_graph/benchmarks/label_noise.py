"""``graph-label-noise``: ERASE against the usual learners when training labels are wrong
(arXiv:2312.08852).

For every world (a contextual SBM, or a Planetoid-format folder on local disk), noise
kind (`unlearn_graph.robust.noise`: symmetric, pair-flip) and rate, the training and
validation labels of a seeded random split are corrupted at exactly that rate (each
split separately), and every learner of ``methods`` (`unlearn_graph.robust.LEARNERS`:
``erase``, ``gcn-ce``, ``gcn-gce``, ``label-propagation``) is fitted on them; the
validation labels it selects its epoch on are the noisy ones. The test labels stay
clean. Rate 0 is always run: ``gcn-ce`` there is the clean-label model, the reference
every accuracy is compared with. The paper's claim checked: ERASE outperforms the
baselines with clear margins across noise levels.

Metrics: ``test_accuracy`` (and ``_std`` over seeds) per dataset/noise/rate/method,
``accuracy_vs_clean`` (minus the clean-label model's), ``erase_margin`` (ERASE minus the
best other learner) per noisy cell, ``denoised_label_accuracy`` and
``observed_label_accuracy`` (ERASE's pre-corrected training labels and the noisy ones,
scored against the clean labels), ``clean_accuracy``; a plot of accuracy against the
noise rate per dataset and noise kind. No torch at import time.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

from pydantic import Field, field_validator
from unlearn_schema.base import StrictModel
from unlearn_schema.configs import BenchmarkSpec, Size
from unlearn_schema.plugins import Benchmark, ParsedSpec, Progress
from unlearn_schema.recipes import spec_from_parts
from unlearn_schema.results import BenchmarkResult, Curve, MetricValue, Series, Table

from unlearn_graph.benchmarks import _common
from unlearn_graph.robust import LEARNERS
from unlearn_graph.robust.noise import NOISE_KINDS, NoiseKind
from unlearn_graph.worlds import CSBMConfig, PlanetoidConfig

LabelNoiseWorld = CSBMConfig | PlanetoidConfig
REFERENCE = "gcn-ce"
"""The learner whose rate-0 fit is the clean-label model."""


def _both_kinds() -> list[NoiseKind]:
    return list(NOISE_KINDS)


class LabelNoiseRun(StrictModel):
    """Noise kinds and rates, the split, and Planetoid folders to add."""

    noise_kinds: list[NoiseKind] = Field(default_factory=_both_kinds, min_length=1)
    rates: list[float] = Field(
        default_factory=lambda: [0.2, 0.4],
        min_length=1,
        description="Noise rates in (0, 1); rate 0 (clean labels) is always run as well.",
    )
    train_ratio: float = Field(default=0.2, gt=0.0, lt=1.0)
    val_ratio: float = Field(default=0.2, gt=0.0, lt=1.0)
    threads: int = Field(default=1, ge=1, le=256, description="torch threads while training.")
    planetoid: list[PlanetoidConfig] = Field(
        default_factory=list,
        description="Planetoid folders on local disk, run after the world; absent: skipped.",
    )

    @field_validator("noise_kinds")
    @classmethod
    def _distinct_kinds(cls, value: list[NoiseKind]) -> list[NoiseKind]:
        return _common.distinct_entries(value, "noise kinds")

    @field_validator("rates")
    @classmethod
    def _check_rates(cls, value: list[float]) -> list[float]:
        return _common.distinct_shares(value, "rates")


Parsed = ParsedSpec[LabelNoiseWorld, Any, LabelNoiseRun]


def _default_spec(size: Size) -> BenchmarkSpec:
    if size == "quick":
        world = CSBMConfig(num_nodes=800, homophily=0.7, average_degree=6.0)
        run = LabelNoiseRun()
        seeds: tuple[int, ...] = (0,)
    else:
        world = CSBMConfig(num_nodes=2000, homophily=0.7, average_degree=6.0)
        run = LabelNoiseRun(
            rates=[0.1, 0.2, 0.3, 0.4],
            planetoid=[
                PlanetoidConfig(folder="data/Planetoid/Cora/raw", name="cora"),
                PlanetoidConfig(folder="data/Planetoid/CiteSeer/raw", name="citeseer"),
            ],
        )
        seeds = (0, 1, 2)
    return spec_from_parts(
        "graph-label-noise", size, seeds, world=("csbm", world), methods=list(LEARNERS), params=run
    )


def _check(parsed: Parsed) -> None:
    run = parsed.params
    if "pair-flip" in run.noise_kinds and run.rates[-1] >= 0.5:
        raise ValueError(
            f"params.rates: pair-flip noise at rate {run.rates[-1]} makes the wrong class the "
            "majority of every class (nothing can recover it); give pair-flip rates below 0.5"
        )
    if isinstance(parsed.world, CSBMConfig):
        bound = 1.0 - 1.0 / parsed.world.num_classes
        if "symmetric" in run.noise_kinds and run.rates[-1] >= bound:
            raise ValueError(
                f"params.rates: symmetric noise at rate {run.rates[-1]} leaves the true class "
                f"no more likely than the others ({parsed.world.num_classes} classes); give "
                f"rates below {bound:.3f}"
            )
    _common.check_planetoid_world(parsed.world)
    _common.check_node_split(run.train_ratio, run.val_ratio)


def _run(parsed: Parsed, progress: Progress, out_dir: str) -> BenchmarkResult:
    del out_dir
    return _common.with_threads(parsed.params.threads, _compare, parsed, progress)


Cell = tuple[str, str, float, str]
"""(dataset, noise kind, rate, learner); rate 0 is stored under every noise kind."""


def _compare(parsed: Parsed, progress: Progress) -> BenchmarkResult:
    import torch

    from unlearn_graph.robust.common import NoisyNodeTask, accuracy
    from unlearn_graph.robust.noise import corrupt_labels
    from unlearn_graph.tasks import make_node_task

    run = parsed.params
    load_before = os.getloadavg()
    started = time.perf_counter()
    notes: list[str] = []
    per_seed = _common.graphs_by_seed(parsed.world, run.planetoid, parsed.seeds, notes)
    names = list(per_seed[parsed.seeds[0]])
    settings: list[tuple[str, float]] = [("clean", 0.0)]
    settings += [(kind, rate) for kind in run.noise_kinds for rate in run.rates]
    progress.start(len(parsed.seeds) * len(names) * len(settings) * len(parsed.methods), "fits")
    scores: dict[Cell, list[float]] = {}
    label_quality: dict[tuple[str, str, float, str], list[float]] = {}
    for seed in parsed.seeds:
        for name, graph in per_seed[seed].items():
            task = make_node_task(graph, seed, run.train_ratio, run.val_ratio)
            clean = task.y.numpy()
            for kind_index, (kind, rate) in enumerate(settings):
                observed = clean
                if kind != "clean":
                    noise: NoiseKind = "symmetric" if kind == "symmetric" else "pair-flip"
                    for part, nodes in enumerate((task.train_idx, task.val_idx)):
                        observed = corrupt_labels(
                            observed,
                            noise,
                            rate,
                            task.num_classes,
                            seed=[seed, kind_index, part],
                            nodes=nodes.numpy(),
                        )
                noisy = NoisyNodeTask(task, torch.as_tensor(observed))
                kinds = run.noise_kinds if kind == "clean" else [kind]
                for method in parsed.methods:
                    fitted = method.spec.function(noisy, method.params, seed=seed)
                    value = accuracy(fitted.predictions, task.y, task.test_idx)
                    for shown in kinds:
                        scores.setdefault((name, shown, rate, method.name), []).append(value)
                    if fitted.corrected_labels is not None:
                        for label, labels in (
                            ("denoised", fitted.corrected_labels),
                            ("observed", noisy.observed),
                        ):
                            quality = accuracy(labels, task.y, task.train_idx)
                            for shown in kinds:
                                label_quality.setdefault(
                                    (name, shown, rate, f"{method.name}:{label}"), []
                                ).append(quality)
                    progress.advance(1, f"{name} {kind} {rate:g} {method.name}: test {value:.3f}")
    return _report(parsed, names, scores, label_quality, notes, load_before, started)


def _report(
    parsed: Parsed,
    names: list[str],
    scores: dict[Cell, list[float]],
    label_quality: dict[tuple[str, str, float, str], list[float]],
    notes: list[str],
    load_before: tuple[float, float, float],
    started: float,
) -> BenchmarkResult:
    run = parsed.params
    methods = [m.name for m in parsed.methods]
    rates = [0.0, *run.rates]
    mean = {key: statistics.fmean(v) for key, v in scores.items()}
    spread = {key: statistics.pstdev(v) for key, v in scores.items()}
    metrics: list[MetricValue] = []
    curves: list[Curve] = []
    rows: list[list[str]] = []
    wins, margins = 0, []
    for name in names:
        kind0 = run.noise_kinds[0]
        clean = mean.get((name, kind0, 0.0, REFERENCE))
        if clean is not None:
            metrics.append(
                MetricValue(
                    name="clean_accuracy", value=clean, direction="higher", labels={"dataset": name}
                )
            )
        for kind in run.noise_kinds:
            for rate in rates:
                cell = {"dataset": name, "noise": kind, "rate": f"{rate:g}"}
                for method in methods:
                    key = (name, kind, rate, method)
                    labels = {**cell, "method": method}
                    metrics.append(
                        MetricValue(
                            name="test_accuracy", value=mean[key], direction="higher", labels=labels
                        )
                    )
                    metrics.append(
                        MetricValue(name="test_accuracy_std", value=spread[key], labels=labels)
                    )
                    if clean is not None:
                        metrics.append(
                            MetricValue(
                                name="accuracy_vs_clean",
                                value=mean[key] - clean,
                                direction="higher",
                                labels=labels,
                                reference=0.0,
                                reference_name="clean-label model",
                            )
                        )
                others = [m for m in methods if m != "erase"]
                if "erase" in methods and others and rate > 0:
                    margin = mean[(name, kind, rate, "erase")] - max(
                        mean[(name, kind, rate, m)] for m in others
                    )
                    margins.append(margin)
                    wins += margin > 0
                    metrics.append(
                        MetricValue(
                            name="erase_margin", value=margin, direction="higher", labels=cell
                        )
                    )
                for label in ("denoised", "observed"):
                    values = label_quality.get((name, kind, rate, f"erase:{label}"))
                    if values:
                        metrics.append(
                            MetricValue(
                                name=f"{label}_label_accuracy",
                                value=statistics.fmean(values),
                                direction="higher" if label == "denoised" else "none",
                                labels=cell,
                            )
                        )
                rows.append(
                    [name, kind, f"{rate:g}"]
                    + [
                        f"{mean[(name, kind, rate, m)]:.3f} ± {spread[(name, kind, rate, m)]:.3f}"
                        for m in methods
                    ]
                )
            curves.append(
                Curve(
                    name=f"accuracy-vs-noise-{name}-{kind}".lower(),
                    title=f"{name}, {kind} noise: test accuracy against the noise rate",
                    x_label="noise rate (training and validation labels)",
                    y_label="test accuracy",
                    series=[
                        Series(
                            label=method,
                            x=rates,
                            y=[mean[(name, kind, r, method)] for r in rates],
                            y_err=[spread[(name, kind, r, method)] for r in rates],
                        )
                        for method in methods
                    ],
                    hlines={} if clean is None else {"clean-label model": clean},
                )
            )
    if margins:
        notes.append(
            f"ERASE is the most accurate learner in {wins} of {len(margins)} noisy cells; margin "
            f"over the best other learner: mean {statistics.fmean(margins):+.3f}, min "
            f"{min(margins):+.3f}, max {max(margins):+.3f}"
        )
    notes += [
        f"seeds {parsed.seeds} (world, split, noise and initialisation); split "
        f"{run.train_ratio:g}/{run.val_ratio:g}/rest; training and validation labels corrupted "
        "at exactly the rate (each split separately), test labels clean; every learner keeps "
        "its epoch of best noisy-validation accuracy",
        "paper's claim: ERASE outperforms the baselines with clear margins across noise levels; "
        "compare erase_margin per cell",
    ]
    summary = Table(
        title="Test accuracy (mean ± std over seeds); rate 0 is the clean labels",
        header=["dataset", "noise", "rate", *methods],
        rows=rows,
    )
    return _common.comparison_result(
        metrics, curves, summary, notes, load_before, started, run.threads
    )


GRAPH_LABEL_NOISE = Benchmark[LabelNoiseWorld, Any, LabelNoiseRun](
    name="graph-label-noise",
    summary="ERASE vs GCN cross entropy, GCE and label propagation under symmetric and "
    "pair-flip label noise: accuracy against the noise rate and the clean-label model.",
    default_spec=_default_spec,
    run=_run,
    check=_check,
    params_type=LabelNoiseRun,
    worlds={"csbm": CSBMConfig, "planetoid": PlanetoidConfig},
    methods=LEARNERS,
    metric_names=frozenset(
        {
            "test_accuracy",
            "test_accuracy_std",
            "accuracy_vs_clean",
            "erase_margin",
            "denoised_label_accuracy",
            "observed_label_accuracy",
            "clean_accuracy",
        }
    ),
    quick_budget_s=180.0,
)
