"""Exact retraining: the oracle every approximate method is compared with.

A model with the original architecture is initialised afresh and trained on the
retained graph and retained training elements only, minimising
$\\min_\\theta \\sum_{e \\in \\mathcal{D}_r} \\ell(e; \\theta, \\mathcal{G}_r)$. By construction it
holds no information from the deleted elements.
"""

from __future__ import annotations

from unlearn_graph.deletion import DeletionProblem
from unlearn_graph.methods.params import RetrainParams
from unlearn_graph.models import GraphModel, fresh_copy
from unlearn_graph.training import train

__all__ = ["RetrainParams", "retrain"]


def retrain(
    original: GraphModel, problem: DeletionProblem, params: RetrainParams, *, seed: int = 0
) -> GraphModel:
    """Train a fresh copy of ``original``'s architecture on the retained data."""
    model = fresh_copy(original, seed)
    # RetrainParams is a TrainConfig: the oracle trains exactly as the original did.
    train(
        model,
        problem.x,
        problem.edge_index,
        problem.retained_elements,
        problem.labels,
        params,
        seed,
    )
    return model
