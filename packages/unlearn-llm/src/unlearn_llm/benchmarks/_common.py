"""What the benchmark modules share: building one MetricValue, the default spec and
declaration of the benchmarks on the facts world and the tiny Llama, the per-method step
budgets several of them start from, and the per-phase wall-time tally of a run."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

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


def single_seed_spec(
    name: str, size: Size, world: StrictModel, model: StrictModel, params: StrictModel
) -> BenchmarkSpec:
    """The spec of a one-seed (seed 0) benchmark on the facts world and the tiny Llama with
    no methods of its own: the given world, model and run params."""
    return BenchmarkSpec(
        benchmark=name,
        size=size,
        seeds=[0],
        world=WorldSpec(name=WORLD_NAME, params=world.model_dump()),
        model=ModelSpec(name=MODEL_NAME, params=model.model_dump()),
        params=params.model_dump(),
    )


def step_budget_params(steps: int, eval_every: int) -> dict[str, dict[str, Any]]:
    """Every method given the same ``steps`` (gradient ascent and difference, NPO,
    SimNPO and IdkPO at lr 5e-4; RMU on the last layer of 2 at lr 1e-2, its two MLP
    matrices needing the larger step; the task vector's fine-tune; SANI's repair), each
    scored every ``eval_every`` steps where the method takes it."""
    light: dict[str, Any] = {"steps": steps, "learning_rate": 5e-4, "eval_every": eval_every}
    return {
        "gradient-ascent": dict(light),
        "gradient-difference": dict(light),
        "npo": dict(light),
        "simnpo": dict(light),
        "idk-po": dict(light),
        "rmu": {"steps": steps, "layer": 1, "learning_rate": 1e-2, "eval_every": eval_every},
        "task-vector": {"finetune_steps": steps, "learning_rate": 5e-4},
        "sani": {"repair_steps": steps, "eval_every": eval_every},
    }


def phase_timer() -> tuple[dict[str, float], Callable[[str, float], None]]:
    """A run's wall time per phase and the function adding to it: ``timed(phase, start)``
    adds the time since ``start`` (a ``time.perf_counter()`` value) to ``phase``."""
    timings: dict[str, float] = {}

    def timed(phase: str, start: float) -> None:
        timings[phase] = timings.get(phase, 0.0) + time.perf_counter() - start

    return timings, timed


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
