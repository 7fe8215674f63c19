"""Pieces every graph-algos benchmark shares: default specs, the method check, metrics,
and the lines of its curves."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, JsonValue
from unlearn_schema import (
    BenchmarkSpec,
    Direction,
    MethodConfig,
    MetricValue,
    ParsedSpec,
    Series,
    Size,
    WorldSpec,
)
from unlearn_schema.recipes import check_methods

Check = Callable[[ParsedSpec[Any, Any, Any]], None]


def spec_from_parts(
    benchmark: str,
    size: Size,
    seeds: list[int],
    world: tuple[str, BaseModel],
    run: BaseModel,
    methods: Iterable[str] = (),
    method_params: Mapping[str, dict[str, JsonValue]] | None = None,
) -> BenchmarkSpec:
    """A default spec from its typed parts: (world name, world params), run params, methods."""
    options = method_params or {}
    return BenchmarkSpec(
        benchmark=benchmark,
        size=size,
        seeds=seeds,
        world=WorldSpec(name=world[0], params=world[1].model_dump()),
        methods=[MethodConfig(name=name, params=dict(options.get(name, {}))) for name in methods],
        params=run.model_dump(),
    )


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
