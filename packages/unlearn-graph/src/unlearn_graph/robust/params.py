"""The typed parameters of the label-noise learners (pydantic only: no torch).

Kept apart from the learner modules, which import torch, so that listing the learners
and validating a ``graph-label-noise`` spec stay fast (the package's rule, as in
`unlearn_graph.methods.params`).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from unlearn_schema import MethodParams

from unlearn_graph.config import BackboneName, LearningRate, WeightDecay

Epochs = Annotated[int, Field(ge=1, le=100_000)]
Width = Annotated[int, Field(ge=2, le=4096)]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


class SupervisedParams(MethodParams):
    """A GNN node classifier trained on the (noisy) training labels, full batch, Adam;
    the epoch kept is the one with the best accuracy on the (noisy) validation labels."""

    backbone: BackboneName = "gcn"
    hidden: Width = 64
    num_layers: int = Field(default=2, ge=1, le=8)
    dropout: float = Field(default=0.5, ge=0.0, lt=1.0)
    epochs: Epochs = 100
    learning_rate: LearningRate = 0.01
    weight_decay: WeightDecay = 5e-4


class GCEParams(SupervisedParams):
    """The classifier of `SupervisedParams` trained with the generalised cross entropy."""

    q: float = Field(
        default=0.7,
        gt=0.0,
        le=1.0,
        description="GCE exponent: q -> 0 is cross entropy, q = 1 the mean absolute error.",
    )


class LabelPropagationParams(MethodParams):
    """Zhou et al.'s label spreading from the (noisy) training labels; nothing is trained."""

    num_layers: int = Field(default=50, ge=1, le=10_000, description="Propagation steps.")
    alpha: float = Field(default=0.9, gt=0.0, lt=1.0, description="Weight of the neighbours.")


class ERASEParams(MethodParams):
    """ERASE (arXiv:2312.08852). Defaults follow the authors' Cora settings except the
    widths and epochs, which are smaller for CPU runs (the code uses 256/512 and 400)."""

    hidden: Width = 64
    embedding: Width = Field(default=64, description="Dimension d of the representations Z.")
    dropout: float = Field(default=0.5, ge=0.0, lt=1.0)
    epochs: Epochs = 100
    learning_rate: LearningRate = 0.001
    weight_decay: WeightDecay = 5e-4
    epsilon_squared: float = Field(
        default=0.05,
        gt=0.0,
        le=100.0,
        description="The distortion eps^2 of the coding rates (the authors' code calls it eps).",
    )
    expansion_weight: float = Field(
        default=2.0,
        gt=0.0,
        le=100.0,
        description="gamma_2, the weight of R(Z) against R_c(Z | Pi); 1 is plain MCR^2.",
    )
    alpha: Fraction = Field(
        default=0.6, description="Weight a node keeps on its own label at each propagation step."
    )
    beta: Fraction = Field(
        default=0.6, description="Weight of the denoised labels against the prototype similarity."
    )
    propagation_steps: int = Field(
        default=5, ge=0, le=1000, description="T, steps per propagation."
    )
    probe_every: int = Field(
        default=10, ge=1, le=100_000, description="Epochs between linear-probe evaluations."
    )
