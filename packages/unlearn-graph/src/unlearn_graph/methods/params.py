"""The typed parameters of every method (pydantic only: importing this imports no torch).

The method modules import torch and define their ``nn.Module`` classes at module level,
so their params classes live here, where the registry and spec validation can import
them in milliseconds. Each method module re-exports its own class
(``from unlearn_graph.methods.gnndelete import GNNDeleteParams`` works too).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field
from unlearn_schema import MethodParams

from unlearn_graph.config import LearningRate, TrainConfig, WeightDecay

PARTITIONS = ("blpa", "balanced-kmeans", "random")
"""GraphEraser's node partitions (see `unlearn_graph.methods.grapheraser`)."""

SampleSize = Annotated[int, Field(ge=1, le=10_000_000)]
"""How many elements (or nodes) a method draws once and works on."""
LossWeight = Annotated[float, Field(ge=0.0, le=1000.0)]
"""The weight of one term of a method's loss."""


class RetrainParams(TrainConfig, MethodParams):
    """Training budget of the oracle (use the original model's budget for a fair oracle):
    the fields of `unlearn_graph.config.TrainConfig`."""


class GradientAscentParams(MethodParams):
    """Number and size of the ascent steps."""

    steps: int = Field(default=10, ge=1, le=10_000)
    learning_rate: LearningRate = 1e-3


class GNNDeleteParams(MethodParams):
    """Training of the deletion operators."""

    # 10 epochs at learning rate 0.01 forget about as much as 50 and keep the retained
    # AUROC within 0.02 of the original (measured on CSBMs of 2000 and 20 000 nodes).
    epochs: int = Field(default=10, ge=1, le=10_000)
    learning_rate: LearningRate = 0.01
    trade_off: float = Field(
        default=0.5, ge=0.0, le=1.0, description="λ: weight of deleted-edge consistency vs NI."
    )
    neighbourhood_sample: SampleSize = Field(
        default=2048, description="Nodes of the L-hop neighbourhood drawn (once) for the NI term."
    )


class D2DGNParams(MethodParams):
    """Distillation schedule and loss weights."""

    # Short and gentle by default: longer or stronger distillation from the destroyer
    # over-forgets and costs retained utility (measured on the quick CSBM).
    # 5 epochs at learning rate 0.004 on ~100k training edges: retained AUROC within
    # 0.01 of the original and deleted-edge AUROC at the oracle's, in about 2
    # retraining epochs.
    epochs: int = Field(default=5, ge=1, le=10_000)
    learning_rate: LearningRate = 0.004
    temperature: float = Field(default=1.0, gt=0.0, le=100.0)
    feature_weight: LossWeight = Field(default=1.0, description="β")
    deleted_weight: LossWeight = Field(default=0.1, description="γ")
    destroyer: Literal["negative", "fresh"] = "negative"
    destroyer_epochs: int = Field(default=5, ge=0, le=10_000)
    destroyer_learning_rate: LearningRate = 0.01
    retained_sample: SampleSize = Field(
        default=512,
        description="Retained elements drawn once and distilled on (with the deleted ones).",
    )


class GraphEraserParams(TrainConfig, MethodParams):
    """Sharding, per-shard training (the fields of `unlearn_graph.config.TrainConfig`)
    and aggregation."""

    num_shards: int = Field(default=4, ge=1, le=256)
    partition: Literal["blpa", "balanced-kmeans", "random"] = Field(
        default="blpa",
        description="How nodes are sharded (see the grapheraser module docstring).",
    )
    partition_iterations: int = Field(default=5, ge=1, le=100)
    shard_slack: float = Field(
        default=0.1,
        ge=0.0,
        le=1.0,
        description="Community-aware shards hold at most ceil((1 + slack) N / K) nodes.",
    )
    aggregation_steps: int = Field(default=100, ge=0, le=10_000)


class GIFParams(MethodParams):
    """The inverse-Hessian-vector product solver, and the element samples."""

    solver: Literal["cg", "lissa"] = Field(
        default="cg", description="Conjugate gradient on H + λI, or the LiSSA series on H."
    )
    iterations: int = Field(default=10, ge=1, le=100_000)
    regularisation: float = Field(
        default=0.03, ge=0.0, le=1e6, description="λ added to H (both solvers)."
    )
    scale: float = Field(
        default=10.0, gt=0.0, le=1e9, description="s: must exceed the Hessian's top eigenvalue."
    )
    damping: float = Field(default=0.0, ge=0.0, lt=1.0, description="d")
    weight_decay: WeightDecay = Field(default=5e-4, description="μ")
    line_search_steps: int = Field(
        default=6, ge=0, le=50, description="Step halvings allowed (0 = take the full step)."
    )
    line_search_tolerance: float = Field(
        default=0.01,
        ge=0.0,
        le=1.0,
        description="Relative rise of the retained loss a step may cause before it is halved.",
    )
    hessian_sample: SampleSize = Field(
        default=2048, description="Retained elements for the Hessian."
    )
    neighbour_sample: SampleSize = Field(
        default=4096, description="Retained elements near the deletion (their loss changes) for v."
    )


class EGNNParams(MethodParams):
    """Stitched MLP size, its fitting, and the edit loop."""

    mlp_hidden: int = Field(default=64, ge=1, le=4096)
    stitch_epochs: int = Field(default=100, ge=0, le=100_000)
    edit_steps: int = Field(default=100, ge=1, le=100_000)
    learning_rate: LearningRate = 0.01
    retain_weight: LossWeight = Field(default=1.0, description="γ")
