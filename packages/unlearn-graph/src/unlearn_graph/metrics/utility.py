"""Utility on retained data: node accuracy and link AUROC/AUPR."""

from __future__ import annotations

import numpy as np


def accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of rows whose most probable class is the label."""
    probabilities, labels = np.asarray(probabilities), np.asarray(labels)
    if labels.size == 0:
        raise ValueError("accuracy of an empty set is undefined")
    return float((probabilities.argmax(-1) == labels).mean())


def link_auroc(positive_scores: np.ndarray, negative_scores: np.ndarray) -> float:
    """AUROC of edges (label 1) against non-edges (label 0)."""
    from sklearn.metrics import roc_auc_score

    pos, neg = np.asarray(positive_scores), np.asarray(negative_scores)
    if pos.size == 0 or neg.size == 0:
        raise ValueError("link AUROC needs at least one positive and one negative pair")
    return float(roc_auc_score(np.r_[np.ones(pos.size), np.zeros(neg.size)], np.r_[pos, neg]))
