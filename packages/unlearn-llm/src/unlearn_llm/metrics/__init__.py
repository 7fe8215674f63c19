"""Metrics: TOFU, MUSE, memorisation, the validity gate, and whole-model evaluation.

``METRICS`` is the registry of the metric functions (one ``MetricSpec`` each, with
``"module:attribute"`` references). A metric's params class lists its keyword
options (``verbatim_memorisation(model, tokenizer, passages, **params.model_dump())``);
a metric without options has ``unlearn_schema:NoParams``. Modules, one per family:
``tofu.py``, ``muse.py``, ``memorisation.py``, ``validity.py``; ``generation.py``
(greedy decoding) and ``evaluate.py`` (every number of one model, as the benchmarks
use it) build on them, one way (no module imports ``evaluate``).

The names a benchmark reports (``forget_quality``, ``mia_auc`` with an ``attack``
label, ...) are listed in each benchmark's ``metric_names``.

This module imports only the schema; the functions re-exported here load (with numpy)
on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from unlearn_schema import MetricSpec, Registry

if TYPE_CHECKING:
    from unlearn_llm.metrics.memorisation import exact_memorisation, extraction_strength
    from unlearn_llm.metrics.muse import privleak, rouge_l_f1
    from unlearn_llm.metrics.tofu import (
        answer_probability,
        forget_quality,
        forget_truth_ratio,
        model_utility,
        option_probability,
        rouge_l_recall,
        truth_ratio,
        truth_ratio_score,
    )
    from unlearn_llm.metrics.validity import ValidityGate, validity_gate

_M = "unlearn_llm.metrics"
_NONE = "unlearn_schema:NoParams"
TOFU = "arXiv:2401.06121"
MUSE = "arXiv:2407.06460"
DUSK = "arXiv:2505.15209"

METRICS = Registry(
    "metric",
    [
        MetricSpec(
            name="forget-quality",
            params=_NONE,
            entry=f"{_M}.tofu:forget_quality",
            summary="KS-test p-value between the forget-set truth ratios of model and oracle.",
            paper=TOFU,
        ),
        MetricSpec(
            name="model-utility",
            params=_NONE,
            entry=f"{_M}.tofu:model_utility",
            summary="Harmonic mean of probability, ROUGE-L and max(0, 1-R) on retain and general.",
            paper=TOFU,
        ),
        MetricSpec(
            name="truth-ratio",
            params=_NONE,
            entry=f"{_M}.tofu:truth_ratio",
            summary="Geometric-mean perturbed-answer probability over the paraphrased answer's.",
            paper=TOFU,
        ),
        MetricSpec(
            name="forget-truth-ratio",
            params=_NONE,
            entry=f"{_M}.tofu:forget_truth_ratio",
            summary="Forget-set summary of the truth ratio: mean of min(R, 1/R).",
            paper=TOFU,
        ),
        MetricSpec(
            name="answer-probability",
            params=_NONE,
            entry=f"{_M}.tofu:answer_probability",
            summary="Length-normalised probability of the answer given the question.",
            paper=TOFU,
        ),
        MetricSpec(
            name="option-probability",
            params=_NONE,
            entry=f"{_M}.tofu:option_probability",
            summary="Answer probability normalised over the true and the perturbed answers.",
            paper=TOFU,
        ),
        MetricSpec(
            name="rouge-l-recall",
            params=_NONE,
            entry=f"{_M}.tofu:rouge_l_recall",
            summary="ROUGE-L recall (Porter stemmer) of the greedy answer against the answer.",
            paper=TOFU,
        ),
        MetricSpec(
            name="verbatim-memorisation",
            params=f"{_M}.muse:VerbatimMemorisationParams",
            entry=f"{_M}.muse:verbatim_memorisation",
            summary="ROUGE-L F1 of the greedy continuation of a passage's first tokens.",
            paper=MUSE,
        ),
        MetricSpec(
            name="knowledge-memorisation",
            params=_NONE,
            entry=f"{_M}.muse:rouge_l_f1",
            summary="ROUGE-L F1 of answers to a question phrasing never trained on.",
            paper=MUSE,
        ),
        MetricSpec(
            name="privleak",
            params=_NONE,
            entry=f"{_M}.muse:privleak",
            summary="100 (AUC - AUC_retrain) / AUC_retrain, MUSE-oriented AUC (-100 = memorised).",
            paper=MUSE,
        ),
        MetricSpec(
            name="mia-auc",
            params=_NONE,
            entry="unlearn_llm.attacks.membership:mia_auc",
            summary="ROC AUC of a membership attack, forget texts positive (0.5 = no signal).",
            paper=MUSE,
        ),
        MetricSpec(
            name="exact-memorisation",
            params=_NONE,
            entry=f"{_M}.memorisation:exact_memorisation",
            summary="Share of answer tokens predicted exactly under teacher forcing.",
            paper="arXiv:2205.10770",
        ),
        MetricSpec(
            name="extraction-strength",
            params=_NONE,
            entry=f"{_M}.memorisation:extraction_strength",
            summary="1 - shortest answer prefix after which greedy decoding gives the rest.",
            paper="arXiv:2202.07646",
        ),
        MetricSpec(
            name="dusk-knowledge-recall",
            params=_NONE,
            entry=f"{_M}.dusk:knowledge_recall",
            summary="ROUGE-L recall of each gold answer in the model's answer (DUSK's UFK/SK/URK).",
            paper=DUSK,
        ),
        MetricSpec(
            name="dusk-retain-deviation",
            params=_NONE,
            entry=f"{_M}.dusk:retain_deviation",
            summary="100 |AUC - AUC_retrain| / AUC_retrain of holdout-vs-retain membership AUCs.",
            paper=DUSK,
        ),
        MetricSpec(
            name="validity-gate",
            params=_NONE,
            entry=f"{_M}.validity:validity_gate",
            summary="Original fails forget quality and other-seed oracles pass it (or no verdict).",
            paper=None,
        ),
    ],
)

_LAZY = {
    "ValidityGate": "validity",
    "answer_probability": "tofu",
    "exact_memorisation": "memorisation",
    "extraction_strength": "memorisation",
    "forget_quality": "tofu",
    "knowledge_recall": "dusk",
    "retain_deviation": "dusk",
    "forget_truth_ratio": "tofu",
    "model_utility": "tofu",
    "option_probability": "tofu",
    "privleak": "muse",
    "rouge_l_f1": "muse",
    "rouge_l_recall": "tofu",
    "truth_ratio": "tofu",
    "truth_ratio_score": "tofu",
    "validity_gate": "validity",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{_M}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "METRICS",
    "ValidityGate",
    "answer_probability",
    "exact_memorisation",
    "extraction_strength",
    "forget_quality",
    "forget_truth_ratio",
    "knowledge_recall",
    "model_utility",
    "option_probability",
    "privleak",
    "retain_deviation",
    "rouge_l_f1",
    "rouge_l_recall",
    "truth_ratio",
    "truth_ratio_score",
    "validity_gate",
]
