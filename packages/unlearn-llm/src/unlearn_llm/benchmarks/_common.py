"""What the benchmark modules share: building one MetricValue, and the default spec and
declaration of the benchmarks on the facts world and the tiny Llama."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from pydantic import JsonValue
from unlearn_schema import (
    Benchmark,
    BenchmarkResult,
    BenchmarkSpec,
    Direction,
    MethodConfig,
    MetricValue,
    ModelSpec,
    ParsedSpec,
    Progress,
    Size,
    StrictModel,
    WorldSpec,
)

from unlearn_llm.models import TinyLlamaParams
from unlearn_llm.worlds.facts import FactsWorldParams

RunT = TypeVar("RunT", bound=StrictModel)

WORLD_NAME = "fictitious-facts"
"""The facts world's name in a spec (``world.name``)."""
MODEL_NAME = "llama-tiny"
"""The tiny Llama's name in a spec (``model.name``)."""


def metric(
    name: str,
    value: float,
    direction: Direction,
    labels: dict[str, str],
    reference: float | None = None,
    unit: str | None = None,
    reference_name: str = "retrain oracle",
) -> MetricValue:
    """A MetricValue; ``reference_name`` is recorded only when there is a reference."""
    return MetricValue(
        name=name,
        value=float(value),
        direction=direction,
        reference=reference,
        reference_name=reference_name if reference is not None else None,
        unit=unit,
        labels=labels,
    )


def facts_spec(
    name: str,
    size: Size,
    methods: Sequence[str],
    known: Mapping[str, Mapping[str, JsonValue]],
    params: StrictModel,
    world: StrictModel | None = None,
) -> BenchmarkSpec:
    """The default spec of a benchmark on the facts world and the tiny Llama: seed 0
    (quick) or seeds 0-2 (full), the world and model of the size (``world`` overrides
    the world's params), each method with its ``known`` params (``{}`` if none)."""
    from unlearn_llm.models import model_params_for
    from unlearn_llm.worlds.facts import world_params_for

    world_params = world if world is not None else world_params_for(size)
    return BenchmarkSpec(
        benchmark=name,
        size=size,
        seeds=[0] if size == "quick" else [0, 1, 2],
        world=WorldSpec(name=WORLD_NAME, params=world_params.model_dump()),
        model=ModelSpec(name=MODEL_NAME, params=model_params_for(size).model_dump()),
        methods=[MethodConfig(name=n, params=dict(known.get(n, {}))) for n in methods],
        params=params.model_dump(),
    )


def facts_benchmark(
    name: str,
    summary: str,
    default_spec: Callable[[Size], BenchmarkSpec],
    run: Callable[
        [ParsedSpec[FactsWorldParams, TinyLlamaParams, RunT], Progress, str], BenchmarkResult
    ],
    params_type: type[RunT],
    metric_names: frozenset[str],
    check: Callable[[ParsedSpec[FactsWorldParams, TinyLlamaParams, RunT]], None],
) -> Benchmark[FactsWorldParams, TinyLlamaParams, RunT]:
    """The declaration the facts-world quality benchmarks share: the facts world, the
    tiny Llama, every registered method, no forget requests, a 3-minute quick budget."""
    from unlearn_llm.methods import METHODS

    return Benchmark(
        name=name,
        summary=summary,
        default_spec=default_spec,
        run=run,
        params_type=params_type,
        worlds={WORLD_NAME: FactsWorldParams},
        models={MODEL_NAME: TinyLlamaParams},
        methods=METHODS,
        metric_names=metric_names,
        request_kinds=frozenset(),
        check=check,
        kind="quality",
        quick_budget_s=180.0,
    )
