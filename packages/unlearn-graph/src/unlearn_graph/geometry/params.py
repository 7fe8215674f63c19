"""The typed parameters of the geometry learners (pydantic only: no torch).

Kept apart from the modules that define the encoders, so that listing the learners and
validating a ``graph-geometry-shaper`` spec stay fast (the package's rule, as in
`unlearn_graph.robust.params`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field
from unlearn_schema import MethodParams

from unlearn_graph.config import LearningRate, WeightDecay

Width = Annotated[int, Field(ge=2, le=4096)]
Geometry = Literal["euclidean", "hyperbolic", "spherical"]


def _all_geometries() -> list[Geometry]:
    return ["euclidean", "hyperbolic", "spherical"]


class AlignedEncoderParams(MethodParams):
    """What every learner here shares: an encoder of ``num_layers`` graph layers whose
    node embedding is projected next to the projected text embeddings; a node's class
    scores are its cosine similarities to the class descriptions over ``temperature``.
    Trained full batch with Adam on cross entropy of the training labels plus
    ``alignment_weight`` times the symmetric InfoNCE between each node's graph embedding
    and its own text embedding; the epoch kept is the one of best validation accuracy."""

    hidden: Width = 64
    embedding: Width = Field(default=32, description="Width of the shared graph/text space.")
    num_layers: int = Field(default=2, ge=1, le=8)
    dropout: float = Field(default=0.2, ge=0.0, lt=1.0)
    epochs: int = Field(default=150, ge=1, le=100_000)
    learning_rate: LearningRate = 0.01
    weight_decay: WeightDecay = 5e-4
    temperature: float = Field(default=0.1, gt=0.0, le=10.0)
    alignment_weight: float = Field(
        default=0.5, ge=0.0, le=100.0, description="Weight of the graph-text InfoNCE term."
    )
    alignment_batch: int = Field(
        default=512, ge=2, le=1_000_000, description="Nodes drawn per step for InfoNCE."
    )
    curvature: float = Field(
        default=1.0,
        gt=0.0,
        le=100.0,
        description="|kappa| of the hyperbolic (-|kappa|) and spherical (+|kappa|) experts.",
    )


class GraphShaperParams(AlignedEncoderParams):
    """GraphShaper (arXiv:2510.12085): one expert per geometry, fused per node with
    weights computed from the node's local structure."""

    experts: list[Geometry] = Field(default_factory=_all_geometries, min_length=2)
    fusion: Literal["structural", "uniform"] = Field(
        default="structural",
        description="structural: the paper's structure-driven weights; uniform: 1/E each "
        "(an ablation, registered as graphshaper-uniform).",
    )
    attention: Width = Field(default=16, description="Width of the fusion query and keys.")


class UniformMixtureParams(GraphShaperParams):
    """The same experts averaged with equal weights (no structural fusion)."""

    fusion: Literal["structural", "uniform"] = "uniform"


class SingleGeometryParams(AlignedEncoderParams):
    """One encoder in one geometry (the single-geometry baselines)."""
