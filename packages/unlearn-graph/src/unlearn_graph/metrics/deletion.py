r"""Deletion efficacy: can the model still tell deleted edges from retained ones?

GNNDelete protocol (Cheng et al., ICLR 2023): score the deleted edges $\mathcal{E}_f$
and an equal number of retained training edges drawn at random, label retained edges 1
and deleted edges 0, and compute AUROC and AUPR; redraw the retained sample
``resamples`` times and average. A model that still believes in the deleted edges
scores about 0.5; one that has forgotten them scores them like non-edges, near 1.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field
from unlearn_schema import MethodParams


class DeletedEdgeAUCParams(MethodParams):
    """Options of `deleted_edge_auc` (its keyword arguments besides ``seed``)."""

    resamples: int = Field(default=10, ge=1, le=10_000)


def deleted_edge_auc(
    deleted_scores: np.ndarray,
    retained_scores: np.ndarray,
    *,
    resamples: int = 10,
    seed: int = 0,
) -> tuple[float, float]:
    """(AUROC, AUPR) of retained (positive) vs deleted (negative) edges, resampled."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    deleted, retained = np.asarray(deleted_scores), np.asarray(retained_scores)
    if deleted.size == 0 or retained.size == 0:
        raise ValueError("need at least one deleted and one retained edge")
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    rng = np.random.default_rng(seed)
    size = deleted.size
    labels = np.r_[np.ones(size), np.zeros(size)]
    aurocs, auprs = [], []
    for _ in range(resamples):
        sample = rng.choice(retained, size=size, replace=retained.size < size)
        scores = np.r_[sample, deleted]
        aurocs.append(roc_auc_score(labels, scores))
        auprs.append(average_precision_score(labels, scores))
    return float(np.mean(aurocs)), float(np.mean(auprs))
