"""Plain full-batch training loops and the per-element losses every method shares."""

from __future__ import annotations

from typing import Any, Protocol

import torch
from torch import Tensor, nn

from unlearn_graph.config import TrainConfig


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
    return readout_loss(model, z, elements, labels, negatives)


def readout_loss(
    model: Any,
    z: Tensor,
    elements: Tensor,
    labels: Tensor | None = None,
    negatives: Tensor | None = None,
) -> Tensor:
    """The loss of `element_loss` from precomputed embeddings ``z``."""
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


def train(
    model: Any,
    x: Tensor,
    edge_index: Tensor,
    elements: Tensor,
    labels: Tensor | None,
    config: TrainConfig,
    seed: int,
) -> list[float]:
    """Train ``model`` on ``elements`` of the graph ``(x, edge_index)``; returns the losses.

    Link tasks draw fresh random negatives each epoch from a generator seeded with
    ``seed``, so the same inputs always give the same model.
    """
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    num_nodes = x.shape[0]
    losses = []
    model.train()
    for _ in range(config.epochs):
        optimizer.zero_grad()
        negatives = None
        if model.task == "link":
            negatives = random_pairs(num_nodes, elements.shape[1], generator)
        loss = element_loss(model, x, edge_index, elements, labels, negatives)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    model.eval()
    return losses


@torch.no_grad()
def predict(model: Any, x: Tensor, edge_index: Tensor, elements: Tensor) -> Tensor:
    """Probabilities: softmax rows ``(K, C)`` for nodes, sigmoid ``(K,)`` for links."""
    if isinstance(model, nn.Module):
        model.eval()
    logits = model.score(x, edge_index, elements)
    return torch.softmax(logits, -1) if model.task == "node" else torch.sigmoid(logits)
