"""Learning tasks on a graph: node classification and link prediction, with seeded splits.

Edges are stored once as undirected pairs ``(u, v)`` with ``u < v``; message passing
uses both directions (`both_directions`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from unlearn_graph.splits import link_split_order, node_split_order
from unlearn_graph.worlds.csbm import GraphArrays


def both_directions(edges: Tensor) -> Tensor:
    """``(2, M)`` undirected pairs -> ``(2, 2M)`` directed edge_index for message passing."""
    return torch.cat([edges, edges.flip(0)], dim=1)


@dataclass
class GraphTask:
    """What every task holds: node features, labels and the message-passing edges."""

    x: Tensor
    y: Tensor
    edges: Tensor

    @property
    def num_nodes(self) -> int:
        return int(self.x.shape[0])

    @property
    def edge_index(self) -> Tensor:
        return both_directions(self.edges)


@dataclass
class NodeTask(GraphTask):
    """Node classification: every node has a label; train/val/test are node-index tensors."""

    train_idx: Tensor
    val_idx: Tensor
    test_idx: Tensor
    num_classes: int
    kind: str = "node"

    @property
    def train_elements(self) -> Tensor:
        return self.train_idx


@dataclass
class LinkTask(GraphTask):
    """Link prediction: ``edges`` are the training edges (and the message-passing graph);
    val/test positives are held-out edges, negatives are sampled non-edges."""

    val_pos: Tensor
    val_neg: Tensor
    test_pos: Tensor
    test_neg: Tensor
    kind: str = "link"

    @property
    def train_elements(self) -> Tensor:
        return self.edges


Task = NodeTask | LinkTask


def make_node_task(
    graph: GraphArrays, seed: int = 0, train_ratio: float = 0.6, val_ratio: float = 0.2
) -> NodeTask:
    """Split nodes at random into train/val/test (the rest)."""
    order, n_train, n_val = node_split_order(
        graph.num_nodes, np.random.default_rng(seed), train_ratio, val_ratio
    )
    return NodeTask(
        x=torch.from_numpy(graph.x),
        y=torch.from_numpy(graph.y),
        edges=torch.from_numpy(graph.edges),
        train_idx=torch.from_numpy(np.sort(order[:n_train])),
        val_idx=torch.from_numpy(np.sort(order[n_train : n_train + n_val])),
        test_idx=torch.from_numpy(np.sort(order[n_train + n_val :])),
        num_classes=int(graph.y.max()) + 1,
    )


def sample_non_edges(
    num_nodes: int, count: int, forbidden: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """``count`` distinct node pairs ``u < v`` whose key ``u * n + v`` is not in ``forbidden``."""
    found: list[np.ndarray] = []
    taken = set(forbidden.tolist())
    total = 0
    while total < count:
        u = rng.integers(0, num_nodes, size=2 * (count - total) + 16)
        v = rng.integers(0, num_nodes, size=u.size)
        lo, hi = np.minimum(u, v), np.maximum(u, v)
        keys = lo * num_nodes + hi
        fresh = []
        for key, a, b in zip(keys.tolist(), lo.tolist(), hi.tolist(), strict=True):
            if a != b and key not in taken:
                taken.add(key)
                fresh.append(key)
                if total + len(fresh) == count:
                    break
        found.append(np.asarray(fresh, dtype=np.int64))
        total += len(fresh)
    keys = np.concatenate(found)
    return np.stack([keys // num_nodes, keys % num_nodes])


def make_link_task(
    graph: GraphArrays, seed: int = 0, val_ratio: float = 0.05, test_ratio: float = 0.1
) -> LinkTask:
    """Hold out a fraction of the edges (and as many non-edges) for validation and test."""
    rng = np.random.default_rng(seed)
    order, n_test, n_val = link_split_order(graph.edges.shape[1], rng, val_ratio, test_ratio)
    n = graph.num_nodes
    all_keys = graph.edges[0] * n + graph.edges[1]
    negatives = sample_non_edges(n, n_test + n_val, all_keys, rng)

    def pick(idx: np.ndarray) -> Tensor:
        return torch.from_numpy(np.ascontiguousarray(graph.edges[:, np.sort(idx)]))

    return LinkTask(
        x=torch.from_numpy(graph.x),
        y=torch.from_numpy(graph.y),
        edges=pick(order[n_test + n_val :]),
        val_pos=pick(order[n_test : n_test + n_val]),
        val_neg=torch.from_numpy(negatives[:, n_test:]),
        test_pos=pick(order[:n_test]),
        test_neg=torch.from_numpy(negatives[:, :n_test]),
    )
