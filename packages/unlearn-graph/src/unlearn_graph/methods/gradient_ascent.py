"""Gradient ascent on the deleted elements (the simplest approximate baseline).

Starting from the trained parameters, take ``steps`` Adam steps on
$-\\frac{1}{|\\mathcal{D}_f|}\\sum_{e \\in \\mathcal{D}_f} \\ell(e; \\theta, \\mathcal{G}_r)$, i.e.
raise the training loss of the deleted elements (for links only the positive term, so
deleted edges are pushed towards "no edge"). It is unbounded: too many steps destroy
the model, which the benchmark's retained-utility metrics show.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor

from unlearn_graph.deletion import DeletionProblem
from unlearn_graph.methods.params import GradientAscentParams
from unlearn_graph.models import GraphModel
from unlearn_graph.training import element_loss, minimise

__all__ = ["GradientAscentParams", "gradient_ascent"]


def gradient_ascent(
    original: GraphModel, problem: DeletionProblem, params: GradientAscentParams, *, seed: int = 0
) -> GraphModel:
    """A copy of ``original`` after gradient ascent on ``problem.deleted_elements``."""
    problem.require_deleted_elements("gradient ascent")
    torch.manual_seed(seed)
    model = copy.deepcopy(original)

    def ascent_loss() -> Tensor:
        return -element_loss(
            model, problem.x, problem.edge_index, problem.deleted_elements, problem.labels
        )

    model.train()
    minimise(ascent_loss, model.parameters(), params.steps, params.learning_rate)
    model.eval()
    return model
