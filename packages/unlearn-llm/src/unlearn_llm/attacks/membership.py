"""Membership-inference attacks on the trained part of each text: the answer tokens.

Every attack maps a text to a score where *higher means "was trained on"*. For a
question/answer fact the scored tokens are the answer's, given the question (the
question is masked in training, so it carries no membership signal; the references
score what the model was trained to produce: MUSE and Min-K% whole training texts,
OpenUnlearning the labelled answer tokens of TOFU); the end-of-sequence token is left
out, as OpenUnlearning's token-wise scores and the Min-K%/Min-K%++ references do
(OpenUnlearning's LOSS and zlib on TOFU keep it: a one-token difference). A text
without a prompt (a passage) is scored on every token after the start token.

With per-token log-probabilities $\\ell_t = \\log p_\\theta(x_t \\mid x_{<t})$ over
the $T$ scored tokens:

* LOSS (Yeom et al., arXiv:1709.01604): $s = \\frac{1}{T}\\sum_t \\ell_t$.
* zlib (Carlini et al., arXiv:2012.07805): $s = \\frac{1}{T}\\sum_t \\ell_t \\,/\\,
  |\\mathrm{zlib}(x)|$, over the zlib-compressed length in bytes of the scored text.
* Min-K% (Shi et al., arXiv:2310.16789): the mean of the $K = \\max(1,
  \\lfloor kT \\rfloor)$ lowest $\\ell_t$.
* Min-K%++ (Zhang et al., arXiv:2404.02936): the mean of the $K$ lowest
  $(\\ell_t - \\mu_t)/\\sigma_t$, where $\\mu_t = \\mathbb{E}_{z\\sim p_\\theta(
  \\cdot\\mid x_{<t})} \\log p_\\theta(z\\mid x_{<t})$ and $\\sigma_t^2$ its variance.
* Reference (Carlini et al., arXiv:2012.07805, the reference-model comparison):
  $s = \\frac{1}{T}\\sum_t (\\ell_t - \\ell^{ref}_t)$, calibrated by
  a reference model; here a retrain oracle, which never saw the forget set, so only
  what the target learned beyond it counts.

Two AUC orientations: ``mia_auc`` is the usual one (forget texts positive, 1 = every
forget text outscores every holdout text, 0.5 = no signal); ``muse_auc`` is MUSE's
(holdout texts positive, so $1 -$ ``mia_auc``), the one PrivLeak is defined on.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field
from unlearn_schema import MethodParams

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedTokenizerBase

ATTACK_KEYS = ("loss", "zlib", "min_k", "min_k_plus_plus", "reference")
"""The ``attack`` label of the ``mia_auc``/``privleak`` metrics, one per registered attack
(``min-k`` and ``min-k++`` are labelled ``min_k`` and ``min_k_plus_plus``)."""


@dataclass
class TokenStatistics:
    """Per text: token log-probs and the Min-K%++ normalised scores (ragged lists)."""

    log_probs: list[np.ndarray]
    normalised: list[np.ndarray]


def token_statistics(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    texts: Sequence[str],
    prompts: Sequence[str] | None = None,
) -> TokenStatistics:
    """Score the tokens of each text, given its prompt, under ``model`` (no gradients).

    Each pair is tokenised as in training (``unlearn_llm.data.encode``: start token,
    prompt, then the text with a leading space and the end-of-sequence token); the
    text's tokens are scored, the end-of-sequence token is not. Without ``prompts``
    every text is scored after the start token alone.
    """
    import torch

    from unlearn_llm.data import IGNORE_INDEX, encode

    if prompts is not None and len(prompts) != len(texts):
        raise ValueError(f"got {len(prompts)} prompts for {len(texts)} texts")
    log_probs: list[np.ndarray] = []
    normalised: list[np.ndarray] = []
    chunk = 64
    for start in range(0, len(texts), chunk):
        part = list(texts[start : start + chunk])
        part_prompts = [""] * len(part) if prompts is None else prompts[start : start + chunk]
        batch = encode(tokenizer, part_prompts, part).trimmed()
        with torch.no_grad():
            logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
            logp_all = torch.log_softmax(logits[:, :-1].float(), dim=-1)
            targets = batch.labels[:, 1:]
            token_logp = logp_all.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
            probs = logp_all.exp()
            mu = (probs * logp_all).sum(-1)
            var = (probs * logp_all**2).sum(-1) - mu**2
            z = (token_logp - mu) / var.clamp(min=1e-12).sqrt()
        for i in range(len(part)):
            # the labelled positions are the text's tokens and, last, the end of sequence
            scored = (targets[i] != IGNORE_INDEX).nonzero().squeeze(-1)[:-1]
            log_probs.append(token_logp[i, scored].numpy().astype(np.float64))
            normalised.append(z[i, scored].numpy().astype(np.float64))
    return TokenStatistics(log_probs, normalised)


class MinKParams(MethodParams):
    """$k$ of Min-K% and Min-K%++: the share of lowest-scoring tokens averaged."""

    k: float = Field(default=0.2, gt=0.0, le=1.0, description="Share of tokens, in (0, 1].")


def _lowest_mean(values: np.ndarray, fraction: float) -> float:
    """Mean of the $\\max(1, \\lfloor kT \\rfloor)$ lowest values (as the references count)."""
    if len(values) == 0:
        raise ValueError("Min-K% needs at least one scored token per text, got an empty text")
    count = max(1, int(np.floor(fraction * len(values))))
    return float(np.sort(values)[:count].mean())


def loss_attack(stats: TokenStatistics, texts: Sequence[str]) -> np.ndarray:
    """LOSS: the mean token log-probability of each text."""
    return np.asarray([float(stats.log_probs[i].mean()) for i in range(len(texts))])


def zlib_attack(stats: TokenStatistics, texts: Sequence[str]) -> np.ndarray:
    """zlib: the mean token log-probability over the zlib-compressed length in bytes."""
    return np.asarray(
        [
            float(stats.log_probs[i].mean()) / len(zlib.compress(text.encode("utf-8")))
            for i, text in enumerate(texts)
        ]
    )


def min_k_attack(
    stats: TokenStatistics, texts: Sequence[str], params: MinKParams | None = None
) -> np.ndarray:
    """Min-K%: the mean of the $\\max(1, \\lfloor kT \\rfloor)$ lowest token log-probabilities."""
    k = (params or MinKParams()).k
    return np.asarray([_lowest_mean(stats.log_probs[i], k) for i in range(len(texts))])


def min_k_plus_plus_attack(
    stats: TokenStatistics, texts: Sequence[str], params: MinKParams | None = None
) -> np.ndarray:
    """Min-K%++: the mean of the $\\max(1, \\lfloor kT \\rfloor)$ lowest normalised token scores."""
    k = (params or MinKParams()).k
    return np.asarray([_lowest_mean(stats.normalised[i], k) for i in range(len(texts))])


def reference_attack(
    stats: TokenStatistics, texts: Sequence[str], *, reference: TokenStatistics
) -> np.ndarray:
    """Reference: the mean token log-probability minus the reference model's."""
    return np.asarray(
        [
            float(stats.log_probs[i].mean()) - float(reference.log_probs[i].mean())
            for i in range(len(texts))
        ]
    )


def membership_scores(
    stats: TokenStatistics,
    texts: Sequence[str],
    k: float = 0.2,
    reference: TokenStatistics | None = None,
) -> dict[str, np.ndarray]:
    """Scores of each attack (higher = member) for each text, keyed by ``ATTACK_KEYS``.

    ``reference`` is left out without reference statistics.
    """
    if not 0.0 < k <= 1.0:
        raise ValueError(f"k must be a fraction in (0, 1], got {k}")
    min_k = MinKParams(k=k)
    scores = {
        "loss": loss_attack(stats, texts),
        "zlib": zlib_attack(stats, texts),
        "min_k": min_k_attack(stats, texts, min_k),
        "min_k_plus_plus": min_k_plus_plus_attack(stats, texts, min_k),
    }
    if reference is not None:
        scores["reference"] = reference_attack(stats, texts, reference=reference)
    return scores


def mia_auc(member_scores: np.ndarray, nonmember_scores: np.ndarray) -> float:
    """ROC AUC with members (forget) as the positive class: 1 = members always score higher."""
    from sklearn.metrics import roc_auc_score

    if len(member_scores) == 0 or len(nonmember_scores) == 0:
        raise ValueError("membership AUC needs at least one member and one non-member text")
    labels = np.r_[np.ones(len(member_scores)), np.zeros(len(nonmember_scores))]
    return float(roc_auc_score(labels, np.r_[member_scores, nonmember_scores]))


def muse_auc(member_scores: np.ndarray, nonmember_scores: np.ndarray) -> float:
    """ROC AUC in MUSE's orientation: non-members (holdout) positive, same scores.

    MUSE labels holdout texts 1 and forget texts 0 and ranks by likelihood, so a model
    that memorised the forget set gets an AUC near 0 (PrivLeak's input); it equals
    $1 -$ ``mia_auc`` of the same scores.
    """
    from sklearn.metrics import roc_auc_score

    if len(member_scores) == 0 or len(nonmember_scores) == 0:
        raise ValueError("membership AUC needs at least one member and one non-member text")
    labels = np.r_[np.zeros(len(member_scores)), np.ones(len(nonmember_scores))]
    return float(roc_auc_score(labels, np.r_[member_scores, nonmember_scores]))
