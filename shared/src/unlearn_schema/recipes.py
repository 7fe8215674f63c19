"""Small pure-data helpers that the benchmark recipes of several packages share.

A speed benchmark states each of its goals as a `Goal` (a comparison and a bound),
reports the measured value with the bound as its ``reference`` and a ``*_met`` flag
built by `met_flag` (1.0 met, 0.0 not), and records the machine load its timings ran
under with `machine_load_note`::

    goal = Goal(">=", 20.0)
    metrics = [
        MetricValue(name="speedup", value=speedup, direction=goal.direction,
                    reference=goal.bound, reference_name="goal"),
        met_flag("speedup_met", goal.met(speedup)),
    ]
    notes = [machine_load_note(os.getloadavg(), after=load_after)]

A benchmark's default spec is built from its typed parts by `spec_from_parts`, and a
recipe whose results are labelled by method name checks its ``methods:`` with
`check_methods`: as many as it runs, each given once.

Plain Python only (no numpy, no torch), like the rest of the schema package.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

from pydantic import BaseModel, JsonValue

from unlearn_schema.configs import BenchmarkSpec, MethodConfig, ModelSpec, Size, WorldSpec
from unlearn_schema.errors import SpecError
from unlearn_schema.plugins import ParsedSpec
from unlearn_schema.results import Direction, MetricValue

Comparison = Literal["<", "<=", ">=", ">"]
"""How a measured value must compare with a goal's bound."""


@dataclass(frozen=True)
class Goal:
    """A bound that a measured value must meet: ``Goal(">=", 20.0)`` is met from 20.0 up.

    ``direction`` is the one a metric measured against the goal has (``higher`` for
    ``>=``/``>``, ``lower`` for ``<=``/``<``); ``str(goal)`` reads ``">= 20.0"``.
    """

    comparison: Comparison
    bound: float

    def __post_init__(self) -> None:
        accepted = get_args(Comparison)
        if self.comparison not in accepted:
            raise ValueError(
                f"a goal's comparison must be one of {', '.join(accepted)}, got {self.comparison!r}"
            )

    def met(self, value: float) -> bool:
        """Whether ``value`` meets the goal."""
        if self.comparison == "<":
            return value < self.bound
        if self.comparison == "<=":
            return value <= self.bound
        if self.comparison == ">=":
            return value >= self.bound
        return value > self.bound

    @property
    def direction(self) -> Direction:
        return "higher" if self.comparison.startswith(">") else "lower"

    def __str__(self) -> str:
        return f"{self.comparison} {self.bound}"


def met_flag(
    name: str,
    met: bool,
    labels: Mapping[str, str] | None = None,
    *,
    reference: float | None = None,
    reference_name: str | None = None,
) -> MetricValue:
    """The flag metric ``name`` of a goal: 1.0 when it is met, 0.0 when not (``higher``)."""
    return MetricValue(
        name=name,
        value=1.0 if met else 0.0,
        direction="higher",
        labels=dict(labels or {}),
        reference=reference,
        reference_name=reference_name,
    )


def machine_load_note(
    before: Sequence[float], after: Sequence[float] | None = None, cores: int | None = None
) -> str:
    """The note that records the load average (``os.getloadavg()``) a timing ran under.

    ``before`` and ``after`` are the 1-, 5- and 15-minute averages taken when the
    measurement started and ended; ``cores`` defaults to ``os.cpu_count()``.
    """
    for label, load in (("before", before), ("after", after)):
        if load is not None and len(load) != 3:
            raise ValueError(
                f"{label} must hold the 1-, 5- and 15-minute load averages, got {list(load)}"
            )
    cores = os.cpu_count() if cores is None else cores
    when = f"{_load(before)} before" + (f" and {_load(after)} after" if after is not None else "")
    return (
        f"machine load (1/5/15-minute load average) {when}, on {cores} cores: on a busy "
        "machine every time grows; ratios of timings taken in the same run suffer less."
    )


def _load(load: Sequence[float]) -> str:
    return " / ".join(f"{value:.2f}" for value in load)


def check_methods(
    parsed: ParsedSpec[Any, Any, Any],
    accepted: Sequence[str] = (),
    *,
    at_least: int = 1,
    at_most: int | None = None,
) -> None:
    """A spec's ``methods:`` hold ``at_least`` to ``at_most`` methods, each given once.

    Results are labelled by method name, so a second copy of a method (another learning
    rate, say) would be averaged into the first's rows: one spec per setting instead.
    ``accepted`` (the benchmark's method names) is quoted when too few are given. Every
    problem is one line of the `SpecError`, naming the field.
    """
    names = [method.name for method in parsed.methods]
    problems = []
    if len(names) < at_least:
        accepted_names = f"; accepted: {', '.join(accepted)}" if accepted else ""
        problems.append(
            f"methods: {parsed.benchmark} needs at least {_methods(at_least)}, "
            f"got {names}{accepted_names}"
        )
    if at_most is not None and len(names) > at_most:
        problems.append(
            f"methods: {parsed.benchmark} runs at most {_methods(at_most)} per spec, got {names}"
        )
    problems += [
        f"methods[{index}].name: {name!r} is given twice (first at methods[{names.index(name)}]); "
        "give each method once (results are labelled by method name: one spec per setting)"
        for index, name in enumerate(names)
        if names.index(name) != index
    ]
    if problems:
        raise SpecError(problems)


def _methods(count: int) -> str:
    return "one method" if count == 1 else f"{count} methods"


def spec_from_parts(
    benchmark: str,
    size: Size,
    seeds: Sequence[int] = (0,),
    *,
    world: tuple[str, BaseModel] | None = None,
    model: tuple[str, BaseModel] | None = None,
    methods: Iterable[str] = (),
    method_params: Mapping[str, BaseModel | Mapping[str, JsonValue]] | None = None,
    params: BaseModel | None = None,
) -> BenchmarkSpec:
    """A default spec from its typed parts, each dumped to JSON values.

    ``world`` and ``model`` are (name, params); ``methods`` the method names in order,
    with ``method_params`` for those whose params the spec spells out (typed, or a
    mapping of the fields that differ from the defaults); ``params`` the run knobs.
    """
    options = method_params or {}
    return BenchmarkSpec(
        benchmark=benchmark,
        size=size,
        seeds=list(seeds),
        world=None if world is None else WorldSpec(name=world[0], params=_dump(world[1])),
        model=None if model is None else ModelSpec(name=model[0], params=_dump(model[1])),
        methods=[MethodConfig(name=name, params=_dump(options.get(name, {}))) for name in methods],
        params={} if params is None else _dump(params),
    )


def _dump(part: BaseModel | Mapping[str, JsonValue]) -> dict[str, JsonValue]:
    if isinstance(part, BaseModel):
        dumped: dict[str, JsonValue] = part.model_dump(mode="json")
        return dumped
    return dict(part)
