"""Defences: procedures that sit in front of a model and refuse harmful prompts.

A defence does not change the model; it decides, prompt by prompt, whether the prompt
may reach it. The one here is erase-and-check (Kumar et al., *Certifying LLM Safety
against Adversarial Prompting*, arXiv:2309.02705) with its in-world safety filter:

- ``safety_prompts.py``: harmful-like and harmless prompts built from the facts world,
  the word tokenizer the filter reads and erase-and-check erases, the filter's params
  (pure Python, no torch).
- ``safety_classifier.py``: the safety filter, a tiny transformer classifier trained
  from scratch on those prompts and cached under ``cache_root()/defences/``.
- ``erase_and_check.py``: the certified procedure in the suffix, insertion and
  infusion modes, the closed-form count of erased subsequences, the three empirical
  variants the paper proposes for speed (randomized RandEC, greedy GreedyEC,
  gradient-guided GradEC) and one deliberate variant (gradient-ranked GreedyEC). It
  calls the filter through a plain function and imports no torch at module level; the
  two gradient procedures take the classifier itself and import torch when called.
- ``suffix_attack.py``: a GCG-like greedy coordinate search for adversarial tokens that
  make the filter call a harmful prompt harmless (suffix, insertion or infusion).

The ``llm-erase-and-check`` benchmark (``benchmarks/erase_and_check.py``) composes them.
There is one defence, so there is no registry.
"""

from __future__ import annotations

from unlearn_llm.defences.erase_and_check import (
    MODES,
    CheckResult,
    EmbeddingClassifier,
    Mode,
    erase_and_check,
    erased_subsequences,
    gradient_erase_and_check,
    gradient_erasure_masks,
    gradient_ranked_erase_and_check,
    greedy_erase_and_check,
    randomized_erase_and_check,
    subsequence_count,
)

__all__ = [
    "MODES",
    "CheckResult",
    "EmbeddingClassifier",
    "Mode",
    "erase_and_check",
    "erased_subsequences",
    "gradient_erase_and_check",
    "gradient_erasure_masks",
    "gradient_ranked_erase_and_check",
    "greedy_erase_and_check",
    "randomized_erase_and_check",
    "subsequence_count",
]
