"""Configs: methods, worlds, models and whole benchmark specs."""

from __future__ import annotations

from typing import Literal, TypeVar

from pydantic import Field, JsonValue, NonNegativeInt, field_validator

from unlearn_schema.base import StrictModel
from unlearn_schema.requests import ForgetRequest

Size = Literal["quick", "full"]
"""Benchmark size: ``quick`` runs in CI in minutes, ``full`` is the nightly size."""

SIZES: tuple[Size, ...] = ("quick", "full")

ParamsT = TypeVar("ParamsT", bound="MethodParams")


class MethodParams(StrictModel):
    """Base class of every method's typed parameters.

    Each method module subclasses it with its own fields, bounds and defaults (a
    learning rate must be positive, a steering coefficient finite); the generic
    `MethodConfig` carries them as plain JSON until the package that owns the
    method validates them with `MethodConfig.typed_params`.
    """


class MethodConfig(StrictModel):
    """A method chosen by registered name, with its parameters."""

    name: str = Field(min_length=1, description="Registered method name, e.g. 'npo'.")
    params: dict[str, JsonValue] = Field(default_factory=dict)

    def typed_params(self, params_type: type[ParamsT]) -> ParamsT:
        """Validate ``params`` against the method's own parameter model."""
        return params_type.model_validate(self.params)


class WorldSpec(StrictModel):
    """A synthetic (or user-supplied) world: data generator name and its knobs."""

    name: str = Field(min_length=1)
    params: dict[str, JsonValue] = Field(default_factory=dict)


class ModelSpec(StrictModel):
    """A model: an architecture built from a small config, or a local checkpoint."""

    name: str = Field(min_length=1, description="Architecture or family, e.g. 'llama-tiny'.")
    checkpoint: str | None = Field(
        default=None, description="Local directory loaded with from_pretrained; never a hub id."
    )
    params: dict[str, JsonValue] = Field(default_factory=dict)


class BenchmarkSpec(StrictModel):
    """Everything needed to rerun a benchmark: world, model, methods, metrics, seeds, size."""

    benchmark: str = Field(min_length=1, description="Registered benchmark name.")
    size: Size = "quick"
    seeds: list[NonNegativeInt] = Field(default_factory=lambda: [0], min_length=1)
    world: WorldSpec | None = None
    model: ModelSpec | None = None
    requests: list[ForgetRequest] = Field(default_factory=list)
    methods: list[MethodConfig] = Field(default_factory=list)
    metrics: list[str] = Field(default_factory=list, description="Metric names; empty = all.")
    params: dict[str, JsonValue] = Field(
        default_factory=dict, description="Benchmark-specific knobs (grid sizes, levels)."
    )

    @field_validator("seeds")
    @classmethod
    def _unique_seeds(cls, seeds: list[int]) -> list[int]:
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds must be unique, got {seeds}")
        return seeds
