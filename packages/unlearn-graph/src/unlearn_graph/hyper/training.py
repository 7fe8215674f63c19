"""Train and score edge-dependent node classifiers on a `HyperWorld`.

Transductive, as in WHATsNet's and CoNHD's protocol: the whole hypergraph is seen, the
hyperedges are split into train / validation / test parts, and a model learns from the
labels of the training hyperedges' incidences. Full-batch Adam; the reported scores are
those at the epoch of best validation micro-F1. Micro-F1 over incidences is their
accuracy (one label each); macro-F1 is the mean over classes of
$F_1^c = 2\\,TP_c / (2\\,TP_c + FP_c + FN_c)$, over the classes present in the labels
or the predictions (scikit-learn's convention).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from unlearn_graph.hyper import HYPER_MODELS, HyperModelName, HyperModelParams, SetOperatorName
from unlearn_graph.hyper.baselines import HGNNPairs, NodeOnly, WhatsNetLike
from unlearn_graph.hyper.conhd import CoNHD, Incidence
from unlearn_graph.worlds.hyper_roles import HyperWorld


def build_hyper_model(
    name: HyperModelName,
    in_channels: int,
    num_classes: int,
    params: HyperModelParams,
    layers: int = 2,
) -> nn.Module:
    """A fresh model ``name`` (a key of `HYPER_MODELS`) of ``layers`` layers."""
    hidden, heads, dropout = params.hidden, params.heads, params.dropout
    if name in ("conhd", "conhd-deepsets"):
        operator: SetOperatorName = "sab" if name == "conhd" else "deepsets"
        return CoNHD(
            in_channels, num_classes, hidden, layers, operator, heads=heads, dropout=dropout
        )
    if name == "whatsnet":
        return WhatsNetLike(in_channels, num_classes, hidden, layers, heads, dropout=dropout)
    if name == "hgnn":
        return HGNNPairs(in_channels, num_classes, hidden, layers)
    if name == "node-mlp":
        return NodeOnly(in_channels, num_classes, hidden, layers)
    raise ValueError(f"unknown model {name!r}; accepted: {', '.join(HYPER_MODELS)}")


def f1_scores(predicted: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(micro-F1, macro-F1) of single-label predictions (module docstring)."""
    if predicted.shape != labels.shape or labels.size == 0:
        raise ValueError(
            f"predicted and labels must be non-empty and alike, got {predicted.shape} and "
            f"{labels.shape}"
        )
    micro = float(np.mean(predicted == labels))
    per_class = []
    for label in np.union1d(predicted, labels).tolist():
        true_positive = np.sum((predicted == label) & (labels == label))
        false_positive = np.sum((predicted == label) & (labels != label))
        false_negative = np.sum((predicted != label) & (labels == label))
        per_class.append(2 * true_positive / (2 * true_positive + false_positive + false_negative))
    return micro, float(np.mean(per_class))


@dataclass(frozen=True)
class HyperSplit:
    """Hyperedge ids of the train, validation and test parts."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def split_hyperedges(
    num_hyperedges: int, seed: int, val: float = 0.2, test: float = 0.2
) -> HyperSplit:
    """A seeded random split of the hyperedges (each part at least one hyperedge)."""
    if num_hyperedges < 3:
        raise ValueError(f"a split needs at least 3 hyperedges, got {num_hyperedges}")
    order = np.random.default_rng(seed).permutation(num_hyperedges)
    n_val = max(1, round(val * num_hyperedges))
    n_test = max(1, round(test * num_hyperedges))
    if n_val + n_test >= num_hyperedges:
        raise ValueError(f"val {val} + test {test} leave no training hyperedge")
    return HyperSplit(
        np.sort(order[n_val + n_test :]),
        np.sort(order[:n_val]),
        np.sort(order[n_val : n_val + n_test]),
    )


def world_incidence(world: HyperWorld) -> tuple[Tensor, Incidence, Tensor]:
    """``(features, incidence, labels)`` tensors of ``world``."""
    incidence = Incidence.build(
        torch.from_numpy(world.nodes),
        torch.from_numpy(world.hyperedges),
        world.num_nodes,
        world.num_hyperedges,
    )
    return torch.from_numpy(world.features), incidence, torch.from_numpy(world.labels)


@dataclass(frozen=True)
class HyperFit:
    """A trained model's scores at its best validation epoch, and what training cost."""

    test_micro_f1: float
    test_macro_f1: float
    val_micro_f1: float
    best_epoch: int
    epoch_seconds: float  # mean wall time of one training step (forward + backward)
    parameters: int


def train_hyper_model(
    model: nn.Module,
    world: HyperWorld,
    split: HyperSplit,
    params: HyperModelParams,
    seed: int,
) -> HyperFit:
    """Fit ``model`` on the training hyperedges' labels; score at the best val epoch."""
    torch.manual_seed(seed)
    x, incidence, labels = world_incidence(world)
    part = np.zeros(world.num_hyperedges, dtype=np.int64)
    part[split.val], part[split.test] = 1, 2
    part_of = torch.from_numpy(part)[incidence.hyperedges]
    train, val, test = (part_of == k for k in range(3))
    optimizer = torch.optim.Adam(model.parameters(), lr=params.lr, weight_decay=params.weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    best_val, best_epoch, best_state = -1.0, 0, copy.deepcopy(model.state_dict())
    spent = 0.0
    for epoch in range(params.epochs):
        model.train()
        began = time.perf_counter()
        optimizer.zero_grad()
        loss = loss_fn(model(x, incidence)[train], labels[train])
        loss.backward()
        optimizer.step()
        spent += time.perf_counter() - began
        model.eval()
        with torch.no_grad():
            predicted = model(x, incidence).argmax(-1)
        val_micro = float((predicted[val] == labels[val]).float().mean())
        if val_micro > best_val:
            best_val, best_epoch = val_micro, epoch
            best_state = copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    model.eval()
    with torch.no_grad():
        predicted = model(x, incidence).argmax(-1)
    micro, macro = f1_scores(predicted[test].numpy(), labels[test].numpy())
    return HyperFit(
        test_micro_f1=micro,
        test_macro_f1=macro,
        val_micro_f1=best_val,
        best_epoch=best_epoch,
        epoch_seconds=spent / params.epochs,
        parameters=sum(p.numel() for p in model.parameters()),
    )


__all__ = [
    "HyperFit",
    "HyperSplit",
    "build_hyper_model",
    "f1_scores",
    "split_hyperedges",
    "train_hyper_model",
    "world_incidence",
]
