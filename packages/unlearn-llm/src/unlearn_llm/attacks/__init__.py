"""Attacks on unlearned models: membership inference (``membership.py``) and knowledge
recovery (``relearning.py``, ``quantization.py``, ``trace.py``, ... on the contract of
``recovery.py``: ``attack(target, params=None) -> AttackOutcome``; ``suppressed.py``
holds the suppression-only models that show each recovery attack has power).

``ATTACKS`` is the registry: one ``AttackSpec`` per attack; the membership ones score
texts from a model's ``TokenStatistics`` (higher = "was trained on"), in the entry shape
``attack(stats, texts, params=None)`` (the reference attack takes its reference
statistics as ``reference=``). Params classes live in ``membership.py`` (numpy, no
torch at import). The benchmarks report each attack's ROC AUC (``mia_auc``) and
PrivLeak with the ``attack`` label ``loss``, ``zlib``, ``min_k``, ``min_k_plus_plus``
or ``reference``.

This module imports only the schema; the helpers re-exported here
(``membership_scores``, ``mia_auc``, ``token_statistics``) load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from unlearn_schema import AttackSpec, Registry

if TYPE_CHECKING:
    from unlearn_llm.attacks.membership import membership_scores, mia_auc, token_statistics

_M = "unlearn_llm.attacks.membership"

ATTACKS = Registry(
    "attack",
    [
        AttackSpec(
            name="loss",
            params="unlearn_schema:NoParams",
            entry=f"{_M}:loss_attack",
            summary="LOSS membership inference: the mean token log-probability of a text.",
            paper="arXiv:1709.01604",
        ),
        AttackSpec(
            name="zlib",
            params="unlearn_schema:NoParams",
            entry=f"{_M}:zlib_attack",
            summary="zlib: mean token log-probability over the zlib-compressed length.",
            paper="arXiv:2012.07805",
        ),
        AttackSpec(
            name="min-k",
            params=f"{_M}:MinKParams",
            entry=f"{_M}:min_k_attack",
            summary="Min-K%: the mean of the k% lowest token log-probabilities.",
            paper="arXiv:2310.16789",
        ),
        AttackSpec(
            name="min-k++",
            params=f"{_M}:MinKParams",
            entry=f"{_M}:min_k_plus_plus_attack",
            summary="Min-K%++: Min-K% over log-probabilities normalised by the next-token law.",
            paper="arXiv:2404.02936",
        ),
        AttackSpec(
            name="reference",
            params="unlearn_schema:NoParams",
            entry=f"{_M}:reference_attack",
            summary="Reference: log-probability minus a reference model's (a retrain oracle).",
            paper="arXiv:2012.07805",
        ),
        # Recovery attacks (recovery.py contract: AttackTarget in, AttackOutcome out).
        AttackSpec(
            name="relearning",
            params="unlearn_llm.attacks.relearning:RelearningParams",
            entry="unlearn_llm.attacks.relearning:relearning",
            summary="Fine-tune on some of each forget person's facts; score the held-out rest.",
            paper="arXiv:2406.13356",
        ),
        AttackSpec(
            name="relearning-related",
            params="unlearn_llm.attacks.relearning:RelearningParams",
            entry="unlearn_llm.attacks.relearning:related_relearning",
            summary="Fine-tune on retain facts of the forget people's places and employers only.",
            paper="arXiv:2406.13356",
        ),
        AttackSpec(
            name="quantization",
            params="unlearn_llm.attacks.quantization:QuantizationParams",
            entry="unlearn_llm.attacks.quantization:quantization",
            summary="Round-to-nearest per-channel weight quantization (8 and 4 bits), rescored.",
            paper="arXiv:2410.16454",
        ),
        AttackSpec(
            name="trace-detection",
            params="unlearn_llm.attacks.trace:TraceParams",
            entry="unlearn_llm.attacks.trace:trace_detection",
            summary="Logistic regression telling the model from the original on unrelated prompts.",
            paper="arXiv:2506.14003",
        ),
        AttackSpec(
            name="multihop",
            params="unlearn_llm.attacks.multihop:MultihopParams",
            entry="unlearn_llm.attacks.multihop:multihop",
            summary="Step-by-step chains (direct, indirect, implied) through the forget facts.",
            paper="arXiv:2506.17279",
        ),
        AttackSpec(
            name="paraphrase",
            params="unlearn_llm.attacks.paraphrase:ParaphraseParams",
            entry="unlearn_llm.attacks.paraphrase:paraphrase",
            summary="Forget questions in new wordings, other templates and cloze; best format.",
            paper="arXiv:2401.06121",
        ),
        AttackSpec(
            name="probes",
            params="unlearn_llm.attacks.probes:ProbeParams",
            entry="unlearn_llm.attacks.probes:probes",
            summary="Per-layer linear probe (fit on retain people), logit lens: forget values.",
            paper="arXiv:2602.18505",
        ),
    ],
)

_LAZY = {"membership_scores", "mia_auc", "token_statistics"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_M), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["ATTACKS", "membership_scores", "mia_auc", "token_statistics"]
