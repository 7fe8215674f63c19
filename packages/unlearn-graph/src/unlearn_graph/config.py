"""Typed configs shared by the worlds, models and methods (pydantic only, no torch)."""

from __future__ import annotations

from typing import Annotated, Literal, cast

from pydantic import Field, model_validator
from unlearn_schema import StrictModel

BackboneName = Literal["gcn", "sage", "gat", "gin"]
BACKBONES: tuple[BackboneName, ...] = ("gcn", "sage", "gat", "gin")
TaskKind = Literal["node", "link"]

LearningRate = Annotated[float, Field(gt=0.0, le=1.0)]
"""An Adam learning rate (of a training config and of every method that steps)."""
WeightDecay = Annotated[float, Field(ge=0.0, le=1.0)]
"""The L2 weight decay of training (Adam's ``weight_decay``)."""


def _check_heads(backbone: str, hidden: int, heads: int) -> None:
    if backbone == "gat" and hidden % heads:
        raise ValueError(f"GAT needs hidden divisible by heads, got hidden={hidden}, heads={heads}")


class BackboneConfig(StrictModel):
    """A GNN backbone built from a small config: ``num_layers`` message-passing layers."""

    backbone: BackboneName = "gcn"
    hidden: int = Field(default=64, ge=2, le=4096)
    num_layers: int = Field(default=2, ge=1, le=8)
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    heads: int = Field(default=4, ge=1, le=16, description="Attention heads (GAT only).")

    @model_validator(mode="after")
    def _heads_divide_hidden(self) -> BackboneConfig:
        _check_heads(self.backbone, self.hidden, self.heads)
        return self


class BackboneParams(StrictModel):
    """``model.params`` of a benchmark spec for GCN, GraphSAGE and GIN (``model.name``
    is the backbone)."""

    hidden: int = Field(default=64, ge=2, le=4096)
    num_layers: int = Field(default=2, ge=1, le=8)
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)

    def backbone_config(self, backbone: str) -> BackboneConfig:
        """The full `BackboneConfig` of ``backbone`` (a spec's ``model.name``) with these
        knobs."""
        if backbone not in BACKBONES:
            raise ValueError(f"unknown backbone {backbone!r}; accepted: {', '.join(BACKBONES)}")
        return BackboneConfig(backbone=cast(BackboneName, backbone), **self.model_dump())


class GATParams(BackboneParams):
    """``model.params`` for GAT: the GCN/SAGE/GIN knobs plus the attention heads."""

    heads: int = Field(default=4, ge=1, le=16, description="Attention heads.")

    @model_validator(mode="after")
    def _heads_divide_hidden(self) -> GATParams:
        _check_heads("gat", self.hidden, self.heads)
        return self


BACKBONE_PARAMS: dict[str, type[BackboneParams]] = {
    "gcn": BackboneParams,
    "sage": BackboneParams,
    "gat": GATParams,
    "gin": BackboneParams,
}
"""Benchmark model name -> the type of its ``model.params`` (``heads`` is GAT's only)."""


# The params of the methods that train models from scratch (RetrainParams and
# GraphEraserParams in methods/params.py) inherit these fields: they are training configs.
class TrainConfig(StrictModel):
    """Full-batch training with Adam; the same config trains the original and the oracle."""

    epochs: int = Field(default=200, ge=1, le=100_000)
    learning_rate: LearningRate = 0.01
    weight_decay: WeightDecay = 5e-4
