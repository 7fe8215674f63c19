"""Typed configs shared by the worlds, models and methods (pydantic only, no torch)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from unlearn_schema import StrictModel

BackboneName = Literal["gcn", "sage", "gat", "gin"]
BACKBONES: tuple[BackboneName, ...] = ("gcn", "sage", "gat", "gin")
TaskKind = Literal["node", "link"]


class BackboneConfig(StrictModel):
    """A GNN backbone built from a small config: ``num_layers`` message-passing layers."""

    backbone: BackboneName = "gcn"
    hidden: int = Field(default=64, ge=2, le=4096)
    num_layers: int = Field(default=2, ge=1, le=8)
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    heads: int = Field(default=4, ge=1, le=16, description="Attention heads (GAT only).")

    @model_validator(mode="after")
    def _heads_divide_hidden(self) -> BackboneConfig:
        if self.backbone == "gat" and self.hidden % self.heads:
            raise ValueError(
                f"GAT needs hidden divisible by heads, got hidden={self.hidden}, heads={self.heads}"
            )
        return self


class TrainConfig(StrictModel):
    """Full-batch training with Adam; the same config trains the original and the oracle."""

    epochs: int = Field(default=200, ge=1, le=100_000)
    lr: float = Field(default=0.01, gt=0.0, le=1.0)
    weight_decay: float = Field(default=5e-4, ge=0.0, le=1.0)
