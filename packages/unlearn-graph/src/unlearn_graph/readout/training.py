"""Train and evaluate a `GraphClassifier` on a `GraphDataset`: mini-batches of whole
graphs, Adam, the test accuracy at the epoch of best validation accuracy."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from unlearn_graph.readout.classifier import GraphClassifier
from unlearn_graph.worlds.graph_classes import GraphDataset


@dataclass(frozen=True)
class GraphBatch:
    """Graphs stacked PyG-style: nodes concatenated, edges offset, ``batch`` node -> graph."""

    x: Tensor
    edge_index: Tensor
    batch: Tensor
    y: Tensor
    num_graphs: int


def collate(dataset: GraphDataset, indices: np.ndarray) -> GraphBatch:
    """The graphs ``indices`` of ``dataset`` as one batch (edges in both directions)."""
    xs, edges, graph_of = [], [], []
    offset = 0
    for k, i in enumerate(indices.tolist()):
        x, pairs = dataset.features[i], dataset.edges[i]
        xs.append(x)
        both = np.concatenate([pairs, pairs[::-1]], axis=1) + offset
        edges.append(both)
        graph_of.append(np.full(len(x), k, dtype=np.int64))
        offset += len(x)
    return GraphBatch(
        x=torch.from_numpy(np.concatenate(xs)),
        edge_index=torch.from_numpy(np.concatenate(edges, axis=1)),
        batch=torch.from_numpy(np.concatenate(graph_of)),
        y=torch.from_numpy(dataset.labels[indices]),
        num_graphs=len(indices),
    )


@dataclass(frozen=True)
class Split:
    """Graph indices of the train, validation and test parts."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def split_graphs(dataset: GraphDataset, seed: int, val: float = 0.2, test: float = 0.2) -> Split:
    """A seeded split of the graphs, stratified by class."""
    rng = np.random.default_rng(seed)
    parts: tuple[list[int], list[int], list[int]] = ([], [], [])
    for label in range(dataset.num_classes):
        members = rng.permutation(np.nonzero(dataset.labels == label)[0])
        n_test, n_val = round(test * len(members)), round(val * len(members))
        parts[2].extend(members[:n_test])
        parts[1].extend(members[n_test : n_test + n_val])
        parts[0].extend(members[n_test + n_val :])
    if not all(parts):
        named = zip(("train", "val", "test"), parts, strict=True)
        sizes = ", ".join(f"{name} {len(part)}" for name, part in named)
        raise ValueError(
            f"{len(dataset)} graphs are too few for a train/val/test split ({sizes}); "
            "need at least one graph in each part"
        )
    return Split(*(np.sort(np.asarray(p, dtype=np.int64)) for p in parts))


@torch.no_grad()
def accuracy(model: GraphClassifier, batch: GraphBatch) -> float:
    model.eval()
    logits = model(batch.x, batch.edge_index, batch.batch, batch.num_graphs)
    return float((logits.argmax(-1) == batch.y).float().mean())


@dataclass(frozen=True)
class TrainedClassifier:
    model: GraphClassifier
    test_accuracy: float
    val_accuracy: float
    train_accuracy: float
    best_epoch: int


def train_graph_classifier(
    model: GraphClassifier,
    dataset: GraphDataset,
    split: Split,
    epochs: int,
    seed: int,
    lr: float = 0.005,
    batch_size: int = 32,
) -> TrainedClassifier:
    """Adam on cross-entropy; keeps the weights of the epoch with the best validation
    accuracy (ties: the earlier epoch) and reports that epoch's test accuracy."""
    generator = np.random.default_rng(seed)
    torch.manual_seed(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    val_batch, test_batch = collate(dataset, split.val), collate(dataset, split.test)
    train_batch = collate(dataset, split.train)
    best = (-1.0, 0, {k: v.clone() for k, v in model.state_dict().items()})
    for epoch in range(1, epochs + 1):
        model.train()
        order = generator.permutation(split.train)
        for start in range(0, len(order), batch_size):
            batch = collate(dataset, order[start : start + batch_size])
            optimiser.zero_grad()
            logits = model(batch.x, batch.edge_index, batch.batch, batch.num_graphs)
            loss = loss_fn(logits, batch.y)
            loss.backward()
            # Deep plain stacks blow up now and then; clipping keeps every readout trainable.
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimiser.step()
        val = accuracy(model, val_batch)
        if val > best[0]:
            best = (val, epoch, {k: v.clone() for k, v in model.state_dict().items()})
    model.load_state_dict(best[2])
    return TrainedClassifier(
        model=model,
        test_accuracy=accuracy(model, test_batch),
        val_accuracy=best[0],
        train_accuracy=accuracy(model, train_batch),
        best_epoch=best[1],
    )
