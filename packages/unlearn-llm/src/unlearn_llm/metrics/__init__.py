"""Metrics: TOFU, MUSE, memorisation, the validity gate, and whole-model evaluation."""

from unlearn_llm.metrics.memorisation import exact_memorisation, extraction_strength
from unlearn_llm.metrics.muse import privleak, rouge_l_f1
from unlearn_llm.metrics.tofu import (
    answer_probability,
    forget_quality,
    model_utility,
    rouge_l_recall,
    truth_ratio,
    truth_ratio_score,
)
from unlearn_llm.metrics.validity import ValidityGate, validity_gate

__all__ = [
    "ValidityGate",
    "answer_probability",
    "exact_memorisation",
    "extraction_strength",
    "forget_quality",
    "model_utility",
    "privleak",
    "rouge_l_f1",
    "rouge_l_recall",
    "truth_ratio",
    "truth_ratio_score",
    "validity_gate",
]
