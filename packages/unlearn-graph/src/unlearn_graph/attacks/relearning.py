"""Relearning check: do deleted elements come back after fine-tuning on retained data?

An unlearned model is released and then fine-tuned for a few steps, as anyone holding
it might, on the retained graph and retained training elements only: no deleted edge,
node or label is ever shown. If the unlearning only masked the deleted elements (an
output-level change on top of weights that still encode them), these steps can undo
the mask and the deleted elements' predictions return; after retraining from scratch
there is nothing to return. The check therefore compares an unlearned model after
$k$ steps with the retrain oracle after the same $k$ steps (our protocol; the graph
unlearning papers evaluate no relearning).

Each step is one full-batch Adam step on the training loss of the retained data,
$\\min_\\theta \\frac{1}{|\\mathcal{D}_r|} \\sum_{e \\in \\mathcal{D}_r}
\\ell(e; \\theta, \\mathcal{G}_r)$, with the cross-entropy for node labels and, for
links, the binary cross-entropy of the retained edges against as many random pairs.
Every parameter of the released model is fine-tuned, including ones an unlearning
method froze (GNNDelete's backbone). `forget_accuracy` is what is watched besides the
link-stealing AUC: accuracy on the deleted nodes, or the share of deleted edges the
model predicts as edges.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import Field
from unlearn_schema import MethodParams

from unlearn_graph.config import LearningRate

if TYPE_CHECKING:
    from torch import Tensor

    from unlearn_graph.deletion import DeletionProblem


class RelearningParams(MethodParams):
    """Options of `relearn` (its keyword arguments besides ``seed``)."""

    steps: int = Field(default=20, ge=0, le=100_000)
    learning_rate: LearningRate = 0.01


def relearn(
    model: Any,
    problem: DeletionProblem,
    *,
    steps: int = 20,
    learning_rate: float = 0.01,
    seed: int = 0,
    after_step: Callable[[int, Any], None] | None = None,
) -> Any:
    """A copy of ``model`` after ``steps`` Adam steps on the retained data of ``problem``.

    ``model`` is left as it is. ``after_step(step, relearned)`` runs after each step
    (``step`` counts from 1), e.g. to record a trace; the model is in eval mode there.
    """
    import torch
    from torch import nn

    from unlearn_graph.training import minimise, random_pairs

    if steps < 0:
        raise ValueError(f"steps must be at least 0, got {steps}")
    relearned = copy.deepcopy(model)
    parameters = list(relearned.parameters())
    for parameter in parameters:
        parameter.requires_grad_(True)
    if not parameters and steps:
        raise ValueError(f"{type(model).__name__} has no parameters to fine-tune")
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    x, edge_index, elements = problem.x, problem.edge_index, problem.retained_elements
    labels = problem.labels

    def retained_loss() -> Tensor:
        relearned.train()
        if relearned.task == "node":
            assert labels is not None
            # Logits or log-probabilities (GraphEraser): cross_entropy accepts both.
            logits = relearned.score(x, edge_index, elements)
            return nn.functional.cross_entropy(logits, labels[elements])
        negatives = random_pairs(x.shape[0], elements.shape[1], generator)
        pos = relearned.score(x, edge_index, elements)
        neg = relearned.score(x, edge_index, negatives)
        return (
            nn.functional.binary_cross_entropy_with_logits(pos, torch.ones_like(pos))
            + nn.functional.binary_cross_entropy_with_logits(neg, torch.zeros_like(neg))
        ) / 2

    done = 0

    def step_done() -> None:
        nonlocal done
        done += 1
        relearned.eval()
        if after_step is not None:
            after_step(done, relearned)

    if steps:
        minimise(retained_loss, parameters, steps, learning_rate, after_step=step_done)
    relearned.eval()
    return relearned


def forget_accuracy(model: Any, problem: DeletionProblem) -> float:
    """On the retained graph: accuracy on the deleted nodes (node tasks), or the share
    of deleted edges with link probability above 0.5 (link tasks)."""
    from unlearn_graph.training import predict

    deleted = problem.deleted_elements
    if deleted.numel() == 0:
        raise ValueError("forget accuracy needs deleted training elements; none are deleted")
    probabilities = predict(model, problem.x, problem.edge_index, deleted).numpy()
    labels = None if problem.labels is None else problem.labels[deleted].numpy()
    return forget_accuracy_of(probabilities, labels)


def forget_accuracy_of(probabilities: np.ndarray, labels: np.ndarray | None) -> float:
    """`forget_accuracy` from the deleted elements' probabilities: class rows ``(K, C)``
    against ``labels``, or link probabilities ``(K,)`` (the share above 0.5)."""
    if probabilities.ndim == 2:
        if labels is None:
            raise ValueError("class probabilities need the deleted nodes' labels")
        return float(np.mean(probabilities.argmax(1) == labels))
    return float(np.mean(probabilities > 0.5))
