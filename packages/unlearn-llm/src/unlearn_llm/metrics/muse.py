"""MUSE metrics (Shi et al., "MUSE: Machine Unlearning Six-Way Evaluation", arXiv:2407.06460).

* verbatim memorisation: ROUGE-L F1 between the model's greedy continuation of the
  first $k$ tokens of each forget passage (a biography text trained on) and the
  passage's true continuation,
  $\\mathrm{VerbMem} = \\frac{1}{|P|}\\sum_{p\\in P}
  \\mathrm{ROUGE\\text{-}L}_{F1}\\big(\\mathrm{greedy}(p_{1..k}),\\, p_{k+1..}\\big)$;
  measured on forget passages and on retain passages;
* knowledge memorisation: ROUGE-L F1 of answers to questions phrased in a way never
  trained on (the held-out paraphrase), on the forget set and on the retain set;
* PrivLeak, against the retrain oracle's own membership AUC (not a constant 0.5), with
  MUSE's orientation of the AUC: non-members (holdout) are the positive class and a
  higher likelihood scores higher, so
  $\\mathrm{AUC}_{MUSE} = \\Pr[s(x_{holdout}) > s(x_{forget})]$, near 0 for a model that
  memorised the forget set and near 0.5 for one that never saw it, and
  $\\mathrm{PrivLeak} = 100 \\cdot (\\mathrm{AUC}_{unl} - \\mathrm{AUC}_{retrain})
  / \\mathrm{AUC}_{retrain}$ (MUSE's ``eval.py``). Near 0 is good; strongly negative
  (down to -100) means the forget set is still recognisably trained on
  (under-unlearning); positive means it is *less* likely than unseen text
  (over-unlearning). $\\mathrm{AUC}_{MUSE} = 1 - $ ``mia_auc`` (members positive).
* ROUGE in MUSE is computed without stemming (``use_stemmer=False``), unlike TOFU's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field
from unlearn_schema import MethodParams

from unlearn_llm.metrics.generation import greedy_continuations

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedTokenizerBase


def rouge_l_f1(predictions: Sequence[str], references: Sequence[str]) -> np.ndarray:
    """ROUGE-L F1 of each prediction against its reference."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    return np.array(
        [
            scorer.score(ref, pred)["rougeL"].fmeasure
            for pred, ref in zip(predictions, references, strict=True)
        ]
    )


def privleak(unlearned_auc: float, retrain_auc: float) -> float:
    """MUSE's PrivLeak (in %) from two AUCs in MUSE's orientation (``muse_auc``).

    ``unlearned_auc`` is the unlearned model's, ``retrain_auc`` the retrain oracle's
    for the same attack; the result lies in $[-100, 100/\\mathrm{AUC}_{retrain} - 100]$.
    """
    if not 0.0 < retrain_auc <= 1.0:
        raise ValueError(f"retrain AUC must lie in (0, 1], got {retrain_auc}")
    if not 0.0 <= unlearned_auc <= 1.0:
        raise ValueError(f"unlearned AUC must lie in [0, 1], got {unlearned_auc}")
    return 100.0 * (unlearned_auc - retrain_auc) / retrain_auc


class VerbatimMemorisationParams(MethodParams):
    """The keyword options of ``verbatim_memorisation``."""

    prefix_tokens: int = Field(default=8, ge=1, le=1024, description="Passage tokens given.")
    max_new_tokens: int = Field(default=48, ge=1, le=4096, description="Greedy tokens decoded.")


def verbatim_memorisation(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    passages: Sequence[str],
    *,
    prefix_tokens: int = 8,
    max_new_tokens: int = 48,
) -> np.ndarray:
    """ROUGE-L F1 of the greedy continuation of each passage's first ``prefix_tokens``.

    Passages are tokenised as in training (start token, then the text with a leading
    space); the reference is the decoded rest of the passage.
    """
    if prefix_tokens < 1:
        raise ValueError(f"prefix_tokens must be >= 1, got {prefix_tokens}")
    prompts: list[list[int]] = []
    references: list[str] = []
    for text in passages:
        ids = tokenizer.encode(" " + text, add_special_tokens=False)
        if len(ids) <= prefix_tokens:
            raise ValueError(
                f"passage {text[:40]!r} has {len(ids)} tokens, not more than "
                f"prefix_tokens={prefix_tokens}: nothing is left to continue"
            )
        prompts.append([tokenizer.bos_token_id, *ids[:prefix_tokens]])
        references.append(str(tokenizer.decode(ids[prefix_tokens:])).strip())
    continuations = greedy_continuations(model, tokenizer, prompts, max_new_tokens)
    return rouge_l_f1(continuations, references)
