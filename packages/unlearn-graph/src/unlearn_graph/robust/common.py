"""What every label-noise learner receives and returns, and the supervised loop they share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from unlearn_graph.config import BackboneConfig
from unlearn_graph.models import build_model
from unlearn_graph.robust.params import SupervisedParams
from unlearn_graph.tasks import NodeTask
from unlearn_graph.training import minimise_keeping_best


@dataclass
class NoisyNodeTask:
    """A node task whose training and validation labels may be wrong.

    ``task.y`` keeps the clean labels (for scoring only); ``observed`` is the label
    vector a learner may read, on ``task.train_idx`` and ``task.val_idx`` (other entries
    are the clean labels but must not be read).
    """

    task: NodeTask
    observed: Tensor

    def __post_init__(self) -> None:
        if self.observed.shape != self.task.y.shape:
            raise ValueError(
                f"observed labels have shape {tuple(self.observed.shape)}, "
                f"the task's labels {tuple(self.task.y.shape)}"
            )


@dataclass
class Fitted:
    """A learner's predicted class for every node, diagnostics (name -> number) and, for
    a learner that corrects labels, the labels it finally trained on (every node)."""

    predictions: Tensor
    diagnostics: dict[str, float] = field(default_factory=dict)
    corrected_labels: Tensor | None = None


def accuracy(predictions: Tensor, labels: Tensor, nodes: Tensor) -> float:
    """Fraction of ``nodes`` whose predicted class equals ``labels``."""
    if nodes.numel() == 0:
        return 0.0
    return float((predictions[nodes] == labels[nodes]).float().mean())


LogitLoss = Callable[[Tensor, Tensor], Tensor]


def fit_supervised(
    noisy: NoisyNodeTask, params: SupervisedParams, loss: LogitLoss, seed: int
) -> Fitted:
    """Train a ``params.backbone`` classifier on the observed training labels with
    ``loss(logits, labels)`` (mean over the training nodes) and keep the weights of the
    epoch with the best accuracy on the observed validation labels."""
    task = noisy.task
    config = BackboneConfig(
        backbone=params.backbone,
        hidden=params.hidden,
        num_layers=params.num_layers,
        dropout=params.dropout,
        heads=1,
    )
    model = build_model(task.x.shape[1], config, "node", task.num_classes, seed)
    x, edge_index, labels = task.x, task.edge_index, noisy.observed

    def objective() -> Tensor:
        model.train()
        return loss(model.score(x, edge_index, task.train_idx), labels[task.train_idx])

    def validation_accuracy() -> float:
        predicted = model.score(x, edge_index, task.val_idx).argmax(-1)
        return float((predicted == labels[task.val_idx]).float().mean())

    torch.manual_seed(seed)
    best_accuracy = minimise_keeping_best(objective, model, params, validation_accuracy)
    with torch.no_grad():
        logits = model.score(x, edge_index, torch.arange(task.num_nodes))
    return Fitted(logits.argmax(-1), {"validation_accuracy": best_accuracy})


def cross_entropy(logits: Tensor, labels: Tensor) -> Tensor:
    """Mean cross entropy: the plain loss the robust ones are compared with."""
    return nn.functional.cross_entropy(logits, labels)
