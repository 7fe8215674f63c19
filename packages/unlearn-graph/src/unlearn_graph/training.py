"""The full-batch optimisation loop and the per-element losses every method shares."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import torch
from torch import Tensor, nn

from unlearn_graph.config import BackboneConfig, TrainConfig
from unlearn_graph.models import GraphModel, build_model
from unlearn_graph.tasks import NodeTask, Task


class Scorer(Protocol):
    """Anything that scores elements on a graph: logits ``(K, C)`` or link logits ``(K,)``."""

    task: str

    def score(self, x: Tensor, edge_index: Tensor, elements: Tensor) -> Tensor: ...


def random_pairs(num_nodes: int, count: int, generator: torch.Generator) -> Tensor:
    """``count`` uniformly random node pairs (negatives for link prediction)."""
    return torch.randint(0, num_nodes, (2, count), generator=generator)


def element_loss(
    model: Any,
    x: Tensor,
    edge_index: Tensor,
    elements: Tensor,
    labels: Tensor | None = None,
    negatives: Tensor | None = None,
) -> Tensor:
    """Mean training loss on ``elements``: cross-entropy of ``labels[elements]`` for node
    tasks (``elements`` = node ids), binary cross-entropy of the positive pairs
    ``elements`` and the pairs ``negatives`` for link tasks."""
    z = model.embed(x, edge_index)
    if model.task == "node":
        if labels is None:
            raise ValueError("node classification needs labels")
        return nn.functional.cross_entropy(model.readout(z, elements), labels[elements])
    pos = model.readout(z, elements)
    loss = nn.functional.binary_cross_entropy_with_logits(pos, torch.ones_like(pos))
    if negatives is not None:
        neg = model.readout(z, negatives)
        loss = (
            loss + nn.functional.binary_cross_entropy_with_logits(neg, torch.zeros_like(neg))
        ) / 2
    return loss


def minimise(
    loss: Callable[[], Tensor],
    parameters: Iterable[Tensor],
    steps: int,
    learning_rate: float,
    weight_decay: float = 0.0,
    after_step: Callable[[], None] | None = None,
) -> list[float]:
    """Take ``steps`` full-batch Adam steps on ``parameters`` against ``loss()``.

    The one optimisation loop of the package: training, retraining and every method
    that fits something (GNNDelete's operators, D2DGN's student and destroyer, EGNN's
    MLP, GraphEraser's aggregation) pass their objective in as ``loss``, a function
    recomputed from the current parameters at every step (any random draws inside it
    happen in step order). ``after_step`` runs after each step. Returns the loss value
    of every step.
    """
    optimizer = torch.optim.Adam(parameters, lr=learning_rate, weight_decay=weight_decay)
    values = []
    for _ in range(steps):
        optimizer.zero_grad()
        value = loss()
        value.backward()
        optimizer.step()
        values.append(value.detach())
        if after_step is not None:
            after_step()
    return [float(value) for value in values]


class Schedule(Protocol):
    """The optimisation knobs of a learner's params: Adam steps, learning rate and
    weight decay."""

    @property
    def epochs(self) -> int: ...

    @property
    def learning_rate(self) -> float: ...

    @property
    def weight_decay(self) -> float: ...


def minimise_keeping_best(
    loss: Callable[[], Tensor],
    model: nn.Module,
    schedule: Schedule,
    validation_accuracy: Callable[[], float],
) -> float:
    """`minimise` ``loss`` over ``model``'s parameters for ``schedule.epochs`` steps,
    keeping the weights of the step with the best ``validation_accuracy()`` (read after
    every step, in eval mode and without gradients; a tie keeps the earlier step). The
    model ends with those weights, in eval mode. Returns the best accuracy (-1 when there
    are no steps: the initial weights stay)."""
    best_accuracy, best_state = -1.0, copy.deepcopy(model.state_dict())

    def keep_best() -> None:
        nonlocal best_accuracy, best_state
        model.eval()
        with torch.no_grad():
            value = validation_accuracy()
        if value > best_accuracy:
            best_accuracy, best_state = value, copy.deepcopy(model.state_dict())

    minimise(
        loss,
        model.parameters(),
        schedule.epochs,
        schedule.learning_rate,
        schedule.weight_decay,
        after_step=keep_best,
    )
    model.load_state_dict(best_state)
    model.eval()
    return best_accuracy


def train(
    model: Any,
    x: Tensor,
    edge_index: Tensor,
    elements: Tensor,
    labels: Tensor | None,
    config: TrainConfig,
    seed: int,
    after_epoch: Callable[[], None] | None = None,
) -> list[float]:
    """Train ``model`` on ``elements`` of the graph ``(x, edge_index)``; returns the losses.

    Link tasks draw fresh random negatives each epoch from a generator seeded with
    ``seed``, so the same inputs always give the same model. ``after_epoch`` runs after
    every epoch (the speed benchmark records its retraining trace there).
    """
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    num_nodes = x.shape[0]

    def training_loss() -> Tensor:
        negatives = None
        if model.task == "link":
            negatives = random_pairs(num_nodes, elements.shape[1], generator)
        return element_loss(model, x, edge_index, elements, labels, negatives)

    model.train()
    losses = minimise(
        training_loss,
        model.parameters(),
        config.epochs,
        config.learning_rate,
        config.weight_decay,
        after_step=after_epoch,
    )
    model.eval()
    return losses


def train_original(
    task: Task, backbone: BackboneConfig, config: TrainConfig, seed: int
) -> GraphModel:
    """A ``backbone`` model initialised with ``seed`` and trained on ``task``'s training
    elements: the original model that a deletion starts from."""
    num_classes, labels = (task.num_classes, task.y) if isinstance(task, NodeTask) else (None, None)
    model = build_model(task.x.shape[1], backbone, task.kind, num_classes, seed)
    train(model, task.x, task.edge_index, task.train_elements, labels, config, seed)
    return model


@torch.no_grad()
def predict(model: Any, x: Tensor, edge_index: Tensor, elements: Tensor) -> Tensor:
    """Probabilities: softmax rows ``(K, C)`` for nodes, sigmoid ``(K,)`` for links."""
    if isinstance(model, nn.Module):
        model.eval()
    logits = model.score(x, edge_index, elements)
    return torch.softmax(logits, -1) if model.task == "node" else torch.sigmoid(logits)
