"""Model editing (EGNN): edit success on the targets and the accuracy drop elsewhere."""

from __future__ import annotations

import numpy as np


def edit_success(predicted: np.ndarray, desired: np.ndarray) -> float:
    """Fraction of edited nodes now predicted with their desired label."""
    predicted, desired = np.asarray(predicted), np.asarray(desired)
    if predicted.size == 0:
        raise ValueError("edit success of an empty edit is undefined")
    return float((predicted == desired).mean())


def accuracy_drop(accuracy_before: float, accuracy_after: float) -> float:
    """Accuracy lost on the other (non-edited) nodes; negative means it improved."""
    return float(accuracy_before - accuracy_after)
