"""Metrics of a planted-subgraph test: detection power and false-alarm rate."""

from __future__ import annotations

import numpy as np


def detection_power(decisions: np.ndarray | list[bool]) -> float:
    """Share of planted graphs in which the test declared a planted subgraph."""
    array = np.asarray(decisions, dtype=bool)
    if array.size == 0:
        raise ValueError("detection_power needs at least one decision")
    return float(array.mean())


def false_alarm_rate(decisions: np.ndarray | list[bool]) -> float:
    """Share of null graphs in which the test wrongly declared a planted subgraph."""
    return detection_power(decisions)
