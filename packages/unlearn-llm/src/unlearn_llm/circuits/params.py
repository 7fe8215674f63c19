"""Parameters of the copy world and the attention-only model (no torch imported here)."""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import Field, model_validator
from unlearn_schema import Size, StrictModel

Ablation = Literal["mean", "zero"]
"""What an ablated head writes: its mean output over the batch's positions, or 0."""
TargetKind = Literal["copy", "walk"]
"""Where a naive copier predicts: the copy half, or a walk's favourite already in context."""


class CopyWorldParams(StrictModel):
    """Sequences of ``length`` tokens over ``vocab_size`` tokens.

    Every sequence starts as a no-repeat walk on a fixed random bigram table (each token
    has ``branching`` likely successors; a successor already in the sequence is never
    drawn, so a model that predicts it has copied naively). With probability
    ``repeat_share`` the walk stops after ``prefix_length`` tokens and the sequence
    continues with a copy of that prefix, each copied token replaced by a random one
    with probability ``copy_noise`` (so a copier that is sure of the copy is
    overconfident).
    """

    vocab_size: int = Field(default=48, ge=8, le=4096)
    length: int = Field(default=24, ge=6, le=512)
    prefix_length: int = Field(default=12, ge=3, le=256)
    branching: int = Field(default=4, ge=1, le=64)
    repeat_share: float = Field(default=0.5, ge=0.0, le=1.0)
    copy_noise: float = Field(default=0.2, ge=0.0, lt=1.0)

    @model_validator(mode="after")
    def _fits(self) -> CopyWorldParams:
        if self.prefix_length * 2 > self.length:
            raise ValueError(
                f"prefix_length {self.prefix_length} must be at most half of length "
                f"{self.length} (the copy of the prefix has to fit)"
            )
        if self.length > self.vocab_size:
            raise ValueError(
                f"length {self.length} must be at most vocab_size {self.vocab_size} "
                "(a no-repeat walk uses each token once)"
            )
        if self.branching >= self.vocab_size:
            raise ValueError(
                f"branching {self.branching} must be below vocab_size {self.vocab_size}"
            )
        return self


class AttentionOnlyParams(StrictModel):
    """An attention-only transformer (no MLPs, no LayerNorm) and its training recipe."""

    layers: int = Field(default=3, ge=1, le=12)
    heads: int = Field(default=4, ge=1, le=32)
    d_model: int = Field(default=64, ge=4, le=1024)
    d_head: int = Field(default=16, ge=2, le=256)
    steps: int = Field(default=3000, ge=1, le=200_000)
    batch_size: int = Field(default=32, ge=1, le=4096)
    learning_rate: float = Field(default=2e-3, gt=0.0, le=1.0)
    weight_decay: float = Field(default=0.01, ge=0.0, le=10.0)
    threads: int = Field(default=1, ge=1, le=256, description="torch CPU threads.")

    def digest(self) -> str:
        blob = json.dumps(self.model_dump(exclude={"threads"}), sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]


def copy_world_params_for(size: Size) -> CopyWorldParams:
    """The world of the ``quick`` and ``full`` benchmark sizes."""
    if size == "quick":
        return CopyWorldParams()
    return CopyWorldParams(vocab_size=96, length=32, prefix_length=16, branching=4)


def attention_model_params_for(size: Size) -> AttentionOnlyParams:
    """The model and recipe of the ``quick`` and ``full`` benchmark sizes."""
    if size == "quick":
        return AttentionOnlyParams()
    return AttentionOnlyParams(heads=8, d_model=96, d_head=12, steps=8000)
