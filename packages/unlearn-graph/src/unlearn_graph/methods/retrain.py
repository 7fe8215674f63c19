"""Exact retraining: the oracle every approximate method is compared with.

A model with the original architecture is initialised afresh and trained on the
retained graph and retained training elements only, minimising
$\\min_\\theta \\sum_{e \\in \\mathcal{D}_r} \\ell(e; \\theta, \\mathcal{G}_r)$. By construction it
holds no information from the deleted elements.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field
from unlearn_schema import MethodParams

if TYPE_CHECKING:
    from unlearn_graph.deletion import DeletionProblem
    from unlearn_graph.models import GraphModel


class RetrainParams(MethodParams):
    """Training budget of the oracle (use the original model's budget for a fair oracle)."""

    epochs: int = Field(default=200, ge=1, le=100_000)
    lr: float = Field(default=0.01, gt=0.0, le=1.0)
    weight_decay: float = Field(default=5e-4, ge=0.0, le=1.0)


def retrain(
    original: GraphModel,
    problem: DeletionProblem,
    params: RetrainParams | None = None,
    seed: int = 0,
) -> GraphModel:
    """Train a fresh copy of ``original``'s architecture on the retained data."""
    from unlearn_graph.config import TrainConfig
    from unlearn_graph.models import fresh_copy
    from unlearn_graph.training import train

    params = params or RetrainParams()
    model = fresh_copy(original, seed)
    config = TrainConfig(epochs=params.epochs, lr=params.lr, weight_decay=params.weight_decay)
    train(
        model,
        problem.x,
        problem.edge_index,
        problem.retained_elements,
        problem.labels,
        config,
        seed,
    )
    return model
