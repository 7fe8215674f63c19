"""A two-layer GraphSAGE (mean aggregator) in plain torch, trained on sampled batches.

Hamilton et al., *Inductive Representation Learning on Large Graphs* (arXiv 1706.02216):
``h_v = ReLU(W_self x_v + W_neigh · mean_{u ∈ N(v)} x_u)``, once per hop.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

from train_infra.outofcore.sampling import SampledBatch


class SAGE(torch.nn.Module):
    def __init__(self, num_features: int, hidden: int, num_classes: int) -> None:
        super().__init__()
        self.self1 = torch.nn.Linear(num_features, hidden)
        self.neigh1 = torch.nn.Linear(num_features, hidden, bias=False)
        self.self2 = torch.nn.Linear(hidden, num_classes)
        self.neigh2 = torch.nn.Linear(hidden, num_classes, bias=False)

    @staticmethod
    def _mean(h: torch.Tensor, src: torch.Tensor, dst: torch.Tensor, n: int) -> torch.Tensor:
        total = torch.zeros(n, h.shape[1], dtype=h.dtype).index_add_(0, dst, h[src])
        count = torch.zeros(n, dtype=h.dtype).index_add_(
            0, dst, torch.ones_like(dst, dtype=h.dtype)
        )
        return total / count.clamp(min=1).unsqueeze(1)

    def forward(self, batch: SampledBatch, features: torch.Tensor) -> torch.Tensor:
        src2, dst2 = (torch.from_numpy(a) for a in batch.edges[1])
        src1, dst1 = (torch.from_numpy(a) for a in batch.edges[0])
        x1 = features[: batch.num_hop1]
        h1 = torch.relu(
            self.self1(x1) + self.neigh1(self._mean(features, src2, dst2, batch.num_hop1))
        )
        x0 = h1[: batch.seeds]
        return self.self2(x0) + self.neigh2(self._mean(h1, src1, dst1, batch.seeds))


def train_epoch(
    model: SAGE,
    optimizer: torch.optim.Optimizer,
    batches: Iterable[tuple[SampledBatch, np.ndarray]],
    labels: np.ndarray,
) -> float:
    """One pass over ``(batch, features)`` pairs; returns the mean loss."""
    model.train()
    losses = []
    for batch, features in batches:
        logits = model(batch, torch.from_numpy(features))
        target = torch.from_numpy(labels[batch.nodes[: batch.seeds]])
        loss = torch.nn.functional.cross_entropy(logits, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return float(np.mean(losses)) if losses else 0.0


@torch.no_grad()
def accuracy(
    model: SAGE, batches: Iterable[tuple[SampledBatch, np.ndarray]], labels: np.ndarray
) -> float:
    """Fraction of seed nodes classified correctly."""
    model.eval()
    right = total = 0
    for batch, features in batches:
        predicted = model(batch, torch.from_numpy(features)).argmax(dim=1).numpy()
        right += int((predicted == labels[batch.nodes[: batch.seeds]]).sum())
        total += batch.seeds
    return right / max(total, 1)


def to_pyg(batch: SampledBatch, features: np.ndarray, labels: np.ndarray) -> object:
    """The batch as a ``torch_geometric.data.Data`` (needs torch-geometric installed).

    ``edge_index`` holds both hops (source → target, local ids); the first
    ``batch_size`` nodes are the seeds, as in PyG's ``NeighborLoader``.
    """
    from torch_geometric.data import Data

    src = np.concatenate([batch.edges[0][0], batch.edges[1][0]])
    dst = np.concatenate([batch.edges[0][1], batch.edges[1][1]])
    return Data(
        x=torch.from_numpy(features),
        edge_index=torch.from_numpy(np.stack([src, dst])),
        y=torch.from_numpy(labels[batch.nodes]),
        n_id=torch.from_numpy(batch.nodes),
        batch_size=batch.seeds,
    )
