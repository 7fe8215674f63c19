"""Params shared by the classifier-unlearning methods (torch-free)."""

from __future__ import annotations

from pydantic import Field
from unlearn_schema import StrictModel


class StepParams(StrictModel):
    """How many optimiser steps a method takes, at which rate and batch size."""

    steps: int = Field(default=60, ge=1, le=1_000_000)
    learning_rate: float = Field(default=1e-3, gt=0.0, le=1.0)
    batch_size: int = Field(default=32, ge=1, le=4096)
    seed: int = 0
