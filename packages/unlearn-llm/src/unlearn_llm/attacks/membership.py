"""Membership-inference attacks on whole training texts (question + answer).

Every attack maps a text to a score where *higher means "was trained on"*; the AUC of
forget texts (positives) against holdout texts never trained on (negatives) measures
how much membership signal an unlearned model still leaks (MUSE, arXiv:2407.06460).
With per-token log-probabilities :math:`\\ell_t = \\log p_\\theta(x_t \\mid x_{<t})` over
the :math:`T` tokens after the first:

* LOSS (Yeom et al., arXiv:1709.01604): :math:`s = \\frac{1}{T}\\sum_t \\ell_t`.
* zlib (Carlini et al., arXiv:2012.07805): :math:`s = \\frac{1}{T}\\sum_t \\ell_t \\,/\\,
  |\\mathrm{zlib}(x)|`, the loss divided by the zlib-compressed length in bytes.
* Min-K% (Shi et al., arXiv:2310.16789): the mean of the :math:`k\\%` lowest
  :math:`\\ell_t`.
* Min-K%++ (Zhang et al., arXiv:2404.02936): the mean of the :math:`k\\%` lowest
  :math:`(\\ell_t - \\mu_t)/\\sigma_t`, where :math:`\\mu_t = \\mathbb{E}_{z\\sim p_\\theta(
  \\cdot\\mid x_{<t})} \\log p_\\theta(z\\mid x_{<t})` and :math:`\\sigma_t^2` its variance.
* Reference (Carlini et al., 2021): :math:`s = \\frac{1}{T}\\sum_t (\\ell_t -
  \\ell^{ref}_t)`, calibrated by a reference model; here the retrain oracle, which never
  saw the forget set, so only what the target learned beyond it counts.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedTokenizerBase

ATTACKS = ("loss", "zlib", "min_k", "min_k_plus_plus", "reference")


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


def _lowest_mean(values: np.ndarray, fraction: float) -> float:
    count = max(1, int(np.ceil(fraction * len(values))))
    return float(np.sort(values)[:count].mean())


def membership_scores(
    stats: TokenStatistics,
    texts: Sequence[str],
    k: float = 0.2,
    reference: TokenStatistics | None = None,
) -> dict[str, np.ndarray]:
    """Scores of each attack (higher = member) for each text."""
    if not 0.0 < k <= 1.0:
        raise ValueError(f"k must be a fraction in (0, 1], got {k}")
    scores: dict[str, list[float]] = {name: [] for name in ATTACKS}
    for index, text in enumerate(texts):
        logp = stats.log_probs[index]
        mean_logp = float(logp.mean())
        scores["loss"].append(mean_logp)
        scores["zlib"].append(mean_logp / len(zlib.compress(text.encode("utf-8"))))
        scores["min_k"].append(_lowest_mean(logp, k))
        scores["min_k_plus_plus"].append(_lowest_mean(stats.normalised[index], k))
        if reference is not None:
            scores["reference"].append(mean_logp - float(reference.log_probs[index].mean()))
    return {name: np.asarray(values) for name, values in scores.items() if values}


def mia_auc(member_scores: np.ndarray, nonmember_scores: np.ndarray) -> float:
    """ROC AUC of telling members (forget) from non-members (holdout) by score."""
    from sklearn.metrics import roc_auc_score

    if len(member_scores) == 0 or len(nonmember_scores) == 0:
        raise ValueError("membership AUC needs at least one member and one non-member text")
    labels = np.r_[np.ones(len(member_scores)), np.zeros(len(nonmember_scores))]
    return float(roc_auc_score(labels, np.r_[member_scores, nonmember_scores]))
