"""Pieces every graph-algos benchmark shares: the method check, metrics, and the lines of
its curves (default specs come from `unlearn_schema.recipes.spec_from_parts`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from unlearn_schema.plugins import ParsedSpec
from unlearn_schema.recipes import check_methods
from unlearn_schema.results import Direction, MetricValue, Series

Check = Callable[[ParsedSpec[Any, Any, Any]], None]


def method_check(accepted: Sequence[str], then: Check | None = None) -> Check:
    """A benchmark's ``check``: `check_methods` (at least one of ``accepted``, each given
    once), then ``then``."""

    def check(parsed: ParsedSpec[Any, Any, Any]) -> None:
        check_methods(parsed, accepted)
        if then is not None:
            then(parsed)

    return check


def mean_metric(
    name: str,
    values: Sequence[float] | np.ndarray,
    direction: Direction,
    labels: dict[str, str],
    **fields: Any,
) -> MetricValue:
    """A metric whose value is the mean of ``values`` over seeds and trials."""
    return MetricValue(
        name=name, value=float(np.mean(values)), direction=direction, labels=labels, **fields
    )


def mean_series(
    label: str,
    xs: Sequence[float],
    values: Sequence[Sequence[float]],
    spread: bool = False,
) -> Series:
    """One line of a curve: at each x the mean of that x's ``values`` (over seeds and
    trials), with their standard deviation as the error bar when ``spread``."""
    return Series(
        label=label,
        x=[float(x) for x in xs],
        y=[float(np.mean(row)) for row in values],
        y_err=[float(np.std(row)) for row in values] if spread else None,
    )
