"""Pieces every graph-algos benchmark shares: the method-list check and metric building."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from unlearn_schema import Direction, MetricValue, ParsedSpec, SpecError


def check_methods(parsed: ParsedSpec[Any, Any, Any], accepted: Sequence[str]) -> None:
    """At least one method, each given once (a second copy would overwrite the first's rows)."""
    names = [method.name for method in parsed.methods]
    if not names:
        accepted_names = ", ".join(accepted)
        raise SpecError(
            [f"methods: {parsed.benchmark} needs at least one method; accepted: {accepted_names}"]
        )
    problems = [
        f"methods[{index}].name: {name!r} is given twice (first at methods[{names.index(name)}]); "
        "give each method once"
        for index, name in enumerate(names)
        if names.index(name) != index
    ]
    if problems:
        raise SpecError(problems)


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
