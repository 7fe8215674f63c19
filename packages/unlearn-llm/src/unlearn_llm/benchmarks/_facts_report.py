"""Reporting helpers of the facts benchmarks: per-model metrics, curves, seed means.

Split from ``facts.py`` so the recipe reads top to bottom in one screenful of files;
``FACTS_METRIC_NAMES`` lists every metric name they (and the recipe) report.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from unlearn_schema import Curve, Direction, MetricValue, Series

from unlearn_llm.benchmarks._common import metric

if TYPE_CHECKING:
    from unlearn_llm.metrics.evaluate import ModelEvaluation

_UTILITY_COMPONENTS = tuple(
    f"utility_{split}_{part}"
    for split in ("retain", "general")
    for part in ("probability", "rouge_l", "truth_ratio")
)

FACTS_METRIC_NAMES = frozenset(
    {
        # per model (methods, the original and the other-seed oracle)
        "forget_quality",
        "model_utility",
        "gate_firing_rate",  # test-time steering's and kif-runtime's gate, per split
        "hook_latency_ratio",  # a hooked model's forward pass over the unhooked one's
        "hook_latency_ratio_wall",
        "forget_answer_probability",
        "forget_truth_ratio",
        "forget_exact_answer_accuracy",
        "forget_exact_memorisation",
        "forget_extraction_strength",
        "retain_exact_answer_accuracy",
        "verbatim_memorisation_forget",
        "verbatim_memorisation_retain",
        "knowledge_memorisation_forget",
        "knowledge_memorisation_retain",
        *_UTILITY_COMPONENTS,
        "mia_auc",
        "privleak",
        "unlearning_wall_time",
        # training and the validity gate, per seed (and forget ratio)
        "original_training_wall_time",
        "oracle_retrain_wall_time",
        "original_training_epochs",
        "oracle_training_epochs",
        "original_training_exact_answer_accuracy",
        "validity_gate_passed",
        "validity_original_forget_quality",
        "validity_other_oracles_median_forget_quality",
        "validity_other_oracles_min_forget_quality",
        "oracle_model_utility",
        # over seeds, with several seeds or forget ratios
        "forget_quality_seed_mean",
        "forget_quality_pass_share",
        "model_utility_seed_mean",
    }
)


def model_metrics(
    evaluation: ModelEvaluation,
    oracle: ModelEvaluation,
    forget_quality_p: float,
    labels: dict[str, str],
) -> list[MetricValue]:
    from unlearn_llm.metrics.muse import privleak
    from unlearn_llm.metrics.tofu import forget_truth_ratio

    metrics = [
        metric("forget_quality", forget_quality_p, "higher", labels),
        metric(
            "model_utility", evaluation.model_utility(), "higher", labels, oracle.model_utility()
        ),
    ]
    # Means of per-fact (or per-passage) scores, against the oracle's mean:
    # (metric name, attribute of a ModelEvaluation, direction); None: not measured.
    means: list[tuple[str, str, Direction]] = [
        ("forget_answer_probability", "forget.answer_probability", "none"),
        ("forget_exact_answer_accuracy", "forget.exact_match", "lower"),
        ("forget_exact_memorisation", "forget.exact_memorisation", "lower"),
        ("forget_extraction_strength", "forget.extraction_strength", "lower"),
        ("retain_exact_answer_accuracy", "retain.exact_match", "higher"),
        ("verbatim_memorisation_forget", "forget_verbatim", "lower"),
        ("verbatim_memorisation_retain", "retain_verbatim", "higher"),
        ("knowledge_memorisation_forget", "forget.knowledge_f1", "lower"),
        ("knowledge_memorisation_retain", "retain.knowledge_f1", "higher"),
    ]
    for name, attribute, direction in means:
        values, reference = attrgetter(attribute)(evaluation), attrgetter(attribute)(oracle)
        if values is not None and reference is not None:
            mean, oracle_mean = float(values.mean()), float(reference.mean())
            metrics.append(metric(name, mean, direction, labels, oracle_mean))
    # TOFU's forget-set summary of the truth ratio: mean of min(R, 1/R)
    forget_tr = forget_truth_ratio(evaluation.forget.truth_ratio)
    oracle_tr = forget_truth_ratio(oracle.forget.truth_ratio)
    metrics.append(metric("forget_truth_ratio", forget_tr, "none", labels, oracle_tr))
    for name, value in evaluation.utility_components().items():
        metrics.append(
            metric(f"utility_{name}", value, "higher", labels, oracle.utility_components()[name])
        )
    # mia_auc: forget texts positive (0.5 = no signal); PrivLeak on MUSE's AUC (holdout
    # positive), so a memorised forget set gives about -100
    for attack, auc in evaluation.mia.items():
        metrics.append(
            metric("mia_auc", auc, "none", {**labels, "attack": attack}, oracle.mia[attack])
        )
        metrics.append(
            metric(
                "privleak",
                privleak(evaluation.muse_auc[attack], oracle.muse_auc[attack]),
                "none",
                {**labels, "attack": attack},
                0.0,
                unit="%",
            )
        )
    return metrics


def curve_recorder(
    tokenizer: Any,
    forget_facts: list[Any],
    retain_eval: list[Any],
    oracle_ratios: Any,
    points: dict[str, list[float]],
) -> Callable[[int, Any], None]:
    """An ``on_step`` callback that appends per-step forget quality and probabilities."""
    from unlearn_llm.metrics.evaluate import score_facts
    from unlearn_llm.metrics.tofu import forget_quality

    def on_step(step: int, current: Any) -> None:
        forget_scores = score_facts(current, tokenizer, forget_facts, generate=False)
        retain_scores = score_facts(current, tokenizer, retain_eval, generate=False)
        points["step"].append(float(step))
        points["fq"].append(forget_quality(forget_scores.truth_ratio, oracle_ratios))
        points["fp"].append(float(forget_scores.answer_probability.mean()))
        points["rp"].append(float(retain_scores.answer_probability.mean()))

    return on_step


def aggregate_seeds(metrics: list[MetricValue], notes: list[str]) -> None:
    """Per method and forget ratio, the mean over seeds of forget quality and utility.

    Adds ``*_seed_mean`` metrics (with the seed count and standard deviation in the
    labels) and the share of seeds whose forget quality passes p > 0.1.
    """
    import numpy as np

    groups: dict[tuple[str, str], dict[str, list[float]]] = {}
    for value in metrics:
        if value.name not in ("forget_quality", "model_utility") or "attack" in value.labels:
            continue
        key = (value.labels.get("method", ""), value.labels.get("forget_ratio", ""))
        groups.setdefault(key, {}).setdefault(value.name, []).append(value.value)
    for (method, ratio), values in groups.items():
        labels = {"method": method, **({"forget_ratio": ratio} if ratio else {})}
        fq = np.array(values.get("forget_quality", []))
        mu = np.array(values.get("model_utility", []))
        if not len(fq) or not len(mu):
            continue
        n = str(len(fq))
        fq_labels = {**labels, "seeds": n, "std": f"{fq.std():.3g}"}
        mu_labels = {**labels, "seeds": n, "std": f"{mu.std():.3g}"}
        metrics += [
            metric("forget_quality_seed_mean", float(fq.mean()), "higher", fq_labels),
            metric("forget_quality_pass_share", float((fq > 0.1).mean()), "higher", labels),
            metric("model_utility_seed_mean", float(mu.mean()), "higher", mu_labels),
        ]
        where = f"{method}" + (f" @ forget ratio {ratio}" if ratio else "")
        notes.append(
            f"mean over {n} seeds, {where}: forget quality {fq.mean():.2g} (std {fq.std():.2g}, "
            f"{int((fq > 0.1).sum())}/{n} pass p > 0.1), model utility {mu.mean():.3f} "
            f"(std {mu.std():.3f})."
        )


def result_curves(
    scatter: dict[str, tuple[list[float], list[float]]], step_curves: dict[str, list[Series]]
) -> list[Curve]:
    """The forget-quality-vs-utility scatter and the per-step curves that have points."""
    curves: list[Curve] = []
    curves.append(
        Curve(
            name="forget-quality-vs-utility",
            title="Forget quality (KS p-value vs oracle) against model utility",
            x_label="model utility",
            y_label="forget quality (p-value)",
            series=[Series(label=label, x=xs, y=ys) for label, (xs, ys) in scatter.items()],
            hlines={"p = 0.1": 0.1, "p = 0.01": 0.01},
        )
    )
    titles = {
        "forget_quality": ("forget quality (KS p-value)", "Forget quality per unlearning step"),
        "forget_probability": (
            "forget answer probability",
            "Forget-set answer probability per step",
        ),
        "retain_probability": (
            "retain answer probability",
            "Retain-set answer probability per step",
        ),
    }
    for key, series in step_curves.items():
        if series:
            y_label, title = titles[key]
            curves.append(
                Curve(
                    name=f"steps-{key.replace('_', '-')}",
                    title=title,
                    x_label="unlearning step",
                    y_label=y_label,
                    series=series,
                )
            )
    return curves
