"""Membership-inference attacks on whole training texts (question + answer).

Every attack maps a text to a score where *higher means "was trained on"*; the AUC of
forget texts (positives) against holdout texts never trained on (negatives) measures
how much membership signal an unlearned model still leaks (MUSE, arXiv:2407.06460).
With per-token log-probabilities $\\ell_t = \\log p_\\theta(x_t \\mid x_{<t})$ over
the $T$ tokens after the first:

* LOSS (Yeom et al., arXiv:1709.01604): $s = \\frac{1}{T}\\sum_t \\ell_t$.
* zlib (Carlini et al., arXiv:2012.07805): $s = \\frac{1}{T}\\sum_t \\ell_t \\,/\\,
  |\\mathrm{zlib}(x)|$, the loss divided by the zlib-compressed length in bytes.
* Min-K% (Shi et al., arXiv:2310.16789): the mean of the $k\\%$ lowest
  $\\ell_t$.
* Min-K%++ (Zhang et al., arXiv:2404.02936): the mean of the $k\\%$ lowest
  $(\\ell_t - \\mu_t)/\\sigma_t$, where $\\mu_t = \\mathbb{E}_{z\\sim p_\\theta(
  \\cdot\\mid x_{<t})} \\log p_\\theta(z\\mid x_{<t})$ and $\\sigma_t^2$ its variance.
* Reference (Carlini et al., arXiv:2012.07805, the reference-model comparison):
  $s = \\frac{1}{T}\\sum_t (\\ell_t - \\ell^{ref}_t)$, calibrated by
  a reference model; here the retrain oracle, which never saw the forget set, so only
  what the target learned beyond it counts.
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
    model: torch.nn.Module, tokenizer: PreTrainedTokenizerBase, texts: Sequence[str]
) -> TokenStatistics:
    """Score every token after the first of each text under ``model`` (no gradients)."""
    import torch

    log_probs: list[np.ndarray] = []
    normalised: list[np.ndarray] = []
    chunk = 64
    for start in range(0, len(texts), chunk):
        part = list(texts[start : start + chunk])
        rows = [
            [tokenizer.bos_token_id, *tokenizer.encode(t, add_special_tokens=False)] for t in part
        ]
        width = max(len(r) for r in rows)
        ids = torch.zeros((len(rows), width), dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row)
            mask[i, : len(row)] = 1
        with torch.no_grad():
            logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
            logp_all = torch.log_softmax(logits, dim=-1)
            token_logp = logp_all.gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
            probs = logp_all.exp()
            mu = (probs * logp_all).sum(-1)
            var = (probs * logp_all**2).sum(-1) - mu**2
            z = (token_logp - mu) / var.clamp(min=1e-12).sqrt()
        for i, row in enumerate(rows):
            n = len(row) - 1
            log_probs.append(token_logp[i, :n].numpy().astype(np.float64))
            normalised.append(z[i, :n].numpy().astype(np.float64))
    return TokenStatistics(log_probs, normalised)


class MinKParams(MethodParams):
    """$k$ of Min-K% and Min-K%++: the share of lowest-scoring tokens averaged."""

    k: float = Field(default=0.2, gt=0.0, le=1.0, description="Share of tokens, in (0, 1].")


def _lowest_mean(values: np.ndarray, fraction: float) -> float:
    count = max(1, int(np.ceil(fraction * len(values))))
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
    """Min-K%: the mean of the $k$ lowest token log-probabilities of each text."""
    k = (params or MinKParams()).k
    return np.asarray([_lowest_mean(stats.log_probs[i], k) for i in range(len(texts))])


def min_k_plus_plus_attack(
    stats: TokenStatistics, texts: Sequence[str], params: MinKParams | None = None
) -> np.ndarray:
    """Min-K%++: the mean of the $k$ lowest normalised token scores of each text."""
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
    """ROC AUC of telling members (forget) from non-members (holdout) by score."""
    from sklearn.metrics import roc_auc_score

    if len(member_scores) == 0 or len(nonmember_scores) == 0:
        raise ValueError("membership AUC needs at least one member and one non-member text")
    labels = np.r_[np.ones(len(member_scores)), np.zeros(len(nonmember_scores))]
    return float(roc_auc_score(labels, np.r_[member_scores, nonmember_scores]))
