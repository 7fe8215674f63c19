r"""Fraud-ring detectors on a heterogeneous graph (PyG ``HeteroData``), scored on users.

The five detectors of TravelFraudBench's comparison (arXiv:2604.21093, Sec. 5), each
predicting $P(\text{user in a ring})$:

* ``mlp``: the users' own features only (the tabular baseline);
* ``sage``: GraphSAGE per relation, summed over relations (``HeteroConv`` of ``SAGEConv``),
  two layers, on the graph with reverse edges;
* ``rgcn``: R-GCN (Schlichtkrull et al., arXiv:1703.06103) on the homogeneous view: one
  weight matrix per relation, $h_i' = W_0 h_i + \sum_r \sum_{j \in N_r(i)} W_r h_j / |N_r(i)|$;
* ``han``: HAN (Wang et al., arXiv:1903.07293) node-level attention per relation and
  semantic attention across relations (PyG ``HANConv``), each relation taken as a
  one-hop meta-path;
* ``sage-focal``: ``sage`` trained with the focal loss
  $-\alpha_t (1 - p_t)^\gamma \log p_t$ ($\gamma = 2$, $\alpha$ the fraud share's
  complement), our imbalance-aware stand-in for PC-GNN: PC-GNN's label-balanced
  sampler and neighbour pick-and-choose are not implemented.

Training is full batch (Adam, early stopping on validation AUC); the split is the
world's ring-based one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score
from torch import nn
from torch_geometric.data import HeteroData
from torch_geometric.nn import HANConv, HeteroConv, RGCNConv, SAGEConv

from unlearn_graph.benchmarks.fraud_rings import DETECTORS

TARGET = "user"


class UserMLP(nn.Module):
    """Two-layer MLP on the users' features."""

    def __init__(self, features: int, hidden: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, data: HeteroData) -> torch.Tensor:
        return self.net(data[TARGET].x).squeeze(-1)


class HeteroSAGE(nn.Module):
    """Two layers of per-relation SAGEConv, summed over relations, then a linear head."""

    def __init__(self, data: HeteroData, hidden: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            HeteroConv({et: SAGEConv((-1, -1), hidden) for et in data.edge_types}, aggr="sum")
            for _ in range(2)
        )
        self.head = nn.Linear(hidden, 1)

    def forward(self, data: HeteroData) -> torch.Tensor:
        h = data.x_dict
        for layer in self.layers:
            h = {t: F.relu(v) for t, v in layer(h, data.edge_index_dict).items()}
        return self.head(h[TARGET]).squeeze(-1)


class RGCN(nn.Module):
    """Two RGCNConv layers on the homogeneous view of the graph (types as relations)."""

    def __init__(self, data: HeteroData, hidden: int) -> None:
        super().__init__()
        homogeneous = data.to_homogeneous()
        self.x = homogeneous.x
        self.edge_index = homogeneous.edge_index
        self.edge_type = homogeneous.edge_type
        self.is_target = homogeneous.node_type == data.node_types.index(TARGET)
        relations = len(data.edge_types)
        self.conv1 = RGCNConv(self.x.shape[1], hidden, relations, aggr="mean")
        self.conv2 = RGCNConv(hidden, hidden, relations, aggr="mean")
        self.head = nn.Linear(hidden, 1)

    def forward(self, data: HeteroData) -> torch.Tensor:
        del data  # the homogeneous view was built once
        h = F.relu(self.conv1(self.x, self.edge_index, self.edge_type))
        h = F.relu(self.conv2(h, self.edge_index, self.edge_type))
        return self.head(h[self.is_target]).squeeze(-1)


class HAN(nn.Module):
    """One HANConv layer (each relation a meta-path), then a linear head."""

    def __init__(self, data: HeteroData, hidden: int) -> None:
        super().__init__()
        self.conv = HANConv(-1, hidden, data.metadata(), heads=2)
        self.head = nn.Linear(hidden, 1)

    def forward(self, data: HeteroData) -> torch.Tensor:
        h = self.conv(data.x_dict, data.edge_index_dict)
        return self.head(F.relu(h[TARGET])).squeeze(-1)


def focal_loss(
    logits: torch.Tensor, labels: torch.Tensor, alpha: float, gamma: float = 2.0
) -> torch.Tensor:
    r"""Mean of $-\alpha_t (1 - p_t)^\gamma \log p_t$ (Lin et al., arXiv:1708.02002, Eq. 5),
    $\alpha_t = \alpha$ for positives and $1 - \alpha$ for negatives."""
    log_p = F.logsigmoid(logits)
    log_not_p = F.logsigmoid(-logits)
    log_p_t = torch.where(labels > 0.5, log_p, log_not_p)
    alpha_t = torch.where(labels > 0.5, alpha, 1.0 - alpha)
    return (-alpha_t * (1.0 - log_p_t.exp()) ** gamma * log_p_t).mean()


def build(detector: str, data: HeteroData, hidden: int) -> nn.Module:
    """The model of ``detector`` (one of `DETECTORS`) for ``data``."""
    if detector == "mlp":
        return UserMLP(data[TARGET].x.shape[1], hidden)
    if detector in ("sage", "sage-focal"):
        return HeteroSAGE(data, hidden)
    if detector == "rgcn":
        return RGCN(data, hidden)
    if detector == "han":
        return HAN(data, hidden)
    raise ValueError(f"detector must be one of {DETECTORS}, got {detector!r}")


@dataclass(frozen=True)
class Detection:
    """Scores for every user, the validation and test AUC, and the epoch kept."""

    scores: np.ndarray
    val_auc: float
    test_auc: float
    best_epoch: int


def _auc(labels: torch.Tensor, scores: torch.Tensor) -> float:
    y = labels.numpy()
    return float(roc_auc_score(y, scores.numpy())) if 0 < y.sum() < len(y) else float("nan")


def start_training(
    detector: str, data: HeteroData, hidden: int = 32, lr: float = 0.01, seed: int = 0
) -> tuple[nn.Module, torch.optim.Optimizer]:
    """The seeded model of ``detector`` (lazy input sizes initialised) and its Adam."""
    torch.manual_seed(seed)
    model = build(detector, data, hidden)
    with torch.no_grad():  # initialise the lazy (-1) input sizes before the optimiser
        model(data)
    return model, torch.optim.Adam(model.parameters(), lr=lr, weight_decay=5e-4)


def training_step(
    detector: str, model: nn.Module, optimiser: torch.optim.Optimizer, data: HeteroData
) -> float:
    """One full-batch epoch on the train users (forward, loss, backward, step); the loss."""
    users = data[TARGET]
    labels, train = users.y.float(), users.train_mask
    model.train()
    optimiser.zero_grad()
    logits = model(data)
    if detector == "sage-focal":
        fraud_share = float(labels[train].mean())
        loss = focal_loss(logits[train], labels[train], alpha=1.0 - fraud_share)
    else:
        loss = F.binary_cross_entropy_with_logits(logits[train], labels[train])
    loss.backward()
    optimiser.step()
    return float(loss.detach())


def train_detector(
    detector: str,
    data: HeteroData,
    epochs: int,
    hidden: int = 32,
    lr: float = 0.01,
    seed: int = 0,
    evaluate_every: int = 5,
) -> Detection:
    """Train ``detector`` on the train users; keep the epoch with the best validation AUC."""
    model, optimiser = start_training(detector, data, hidden, lr, seed)
    users = data[TARGET]
    labels = users.y.float()
    val, test = users.val_mask, users.test_mask
    best = (-1.0, 0, torch.zeros_like(labels))
    for epoch in range(1, epochs + 1):
        training_step(detector, model, optimiser, data)
        if epoch % evaluate_every == 0 or epoch == epochs:
            model.eval()
            with torch.no_grad():
                scores = torch.sigmoid(model(data))
            val_auc = _auc(labels[val], scores[val])
            if val_auc > best[0]:
                best = (val_auc, epoch, scores)
    val_auc, epoch, scores = best
    return Detection(scores.numpy(), val_auc, _auc(labels[test], scores[test]), epoch)


def best_f1_threshold(labels: np.ndarray, scores: np.ndarray) -> float:
    """The score threshold with the highest F1 on (validation) ``labels``."""
    order = np.argsort(-scores)
    hits = np.cumsum(labels[order])
    precision = hits / np.arange(1, len(order) + 1)
    recall = hits / max(1, labels.sum())
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return float(scores[order][int(np.argmax(f1))])
