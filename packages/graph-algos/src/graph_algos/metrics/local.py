"""Metric of a local clustering: F1 of the node set found against the target cluster."""

from __future__ import annotations

import numpy as np


def f1_score(predicted: np.ndarray | list[int], target: np.ndarray | list[int]) -> float:
    """F1 of a predicted node set against the target node set (0 when either is empty)."""
    found, truth = set(np.asarray(predicted).tolist()), set(np.asarray(target).tolist())
    hits = len(found & truth)
    if hits == 0:
        return 0.0
    precision, recall = hits / len(found), hits / len(truth)
    return 2 * precision * recall / (precision + recall)
