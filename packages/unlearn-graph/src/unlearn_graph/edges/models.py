"""Edge-signal models of ``graph-edge-dht``: EHGNN with HyperDrop or HyperCluster, a
node-only GCN and a per-edge MLP, for graph classification and edge reconstruction.

Graph classification (`EdgeGraphClassifier`), every model ending in the same two-layer
MLP head:

- ``ehgnn-hyperdrop``: ``layers`` convolutions on the dual (`EdgeHypergraphEncoder`),
  `HyperDrop` keeps the top ``ratio`` of each graph's edges, one more convolution on the
  dual of the kept edges, then the mean and max of the kept edges;
- ``ehgnn-hypercluster``: the same encoder, `HyperCluster` pools each graph's edges into
  ``clusters`` soft clusters, then the mean and max of the clusters;
- ``gcn``: ``layers`` GCN convolutions on the node features (a constant in the
  edge-pattern world) and mean pooling: it sees nodes and structure, no edge features;
- ``edge-mlp``: a two-layer MLP on each edge's features, then their mean and max: edge
  features without message passing.

Edge reconstruction (`EdgeAutoencoder`): predict every edge's type (its one-hot input
feature) back from the model's edge representation.

- ``ehgnn-hypercluster``: encoder, HyperCluster to ``clusters`` pooled edges, unpooling
  $\\tilde E = C E^{\\text{pool}}$, ``layers`` decoder convolutions on the dual (the
  setting of the paper's reconstruction experiment);
- ``ehgnn-hyperdrop``: encoder, HyperDrop; the dropped edges restart from zero and the
  decoder convolutions refill them from their kept neighbours;
- ``gcn``: GCN node states, edge $(u, v)$ decoded from $[h_u + h_v, h_u \\odot h_v]$;
- ``edge-mlp``: each edge through an MLP of width ``hidden`` and back, no compression
  across edges (the reference a pooled model can at best reach).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Literal, cast

import numpy as np
import torch
from torch import Tensor, nn

from unlearn_graph.edges import EDGE_MODELS, EdgeModelName
from unlearn_graph.edges.dht import (
    EdgeHypergraphEncoder,
    HyperCluster,
    HyperDrop,
    dual_hypergraph_transform,
    with_self_loops,
)
from unlearn_graph.worlds.edge_patterns import RED, EdgeGraphDataset

EdgeTask = Literal["classification", "reconstruction"]


@dataclass(frozen=True)
class EdgeGraphBatch:
    """Graphs stacked PyG-style; ``edge_index`` holds each undirected edge once."""

    x: Tensor  # (N, 1) constant node features
    edge_index: Tensor  # (2, m)
    edge_attr: Tensor  # (m, T) one-hot edge types
    edge_types: Tensor  # (m,)
    edge_batch: Tensor  # (m,) edge -> graph
    batch: Tensor  # (N,) node -> graph
    y: Tensor  # (G,)
    num_graphs: int


def collate_edges(dataset: EdgeGraphDataset, indices: np.ndarray) -> EdgeGraphBatch:
    """The graphs ``indices`` of ``dataset`` as one batch."""
    edges, types, edge_graph, node_graph = [], [], [], []
    offset = 0
    for k, i in enumerate(indices.tolist()):
        n = int(dataset.num_nodes[i])
        edges.append(dataset.edges[i] + offset)
        types.append(dataset.edge_types[i])
        edge_graph.append(np.full(dataset.edges[i].shape[1], k, dtype=np.int64))
        node_graph.append(np.full(n, k, dtype=np.int64))
        offset += n
    edge_types = torch.from_numpy(np.concatenate(types))
    return EdgeGraphBatch(
        x=torch.ones(offset, 1),
        edge_index=torch.from_numpy(np.concatenate(edges, axis=1)),
        edge_attr=nn.functional.one_hot(edge_types, dataset.num_edge_types).float(),
        edge_types=edge_types,
        edge_batch=torch.from_numpy(np.concatenate(edge_graph)),
        batch=torch.from_numpy(np.concatenate(node_graph)),
        y=torch.from_numpy(dataset.labels[indices]),
        num_graphs=len(indices),
    )


def clusters_for(ratio: float, mean_edges: float) -> int:
    """HyperCluster's cluster count: $\\lceil r\\, \\bar m \\rceil$, the authors' choice."""
    return max(1, math.ceil(ratio * mean_edges))


def _mean_max(values: Tensor, batch: Tensor, num_graphs: int) -> Tensor:
    index = batch[:, None].expand_as(values)
    total = values.new_zeros(num_graphs, values.shape[1]).index_add_(0, batch, values)
    count = torch.bincount(batch, minlength=num_graphs).clamp(min=1).to(values.dtype)
    peak = values.new_zeros(num_graphs, values.shape[1])
    peak = peak.scatter_reduce(0, index, values, "amax", include_self=False)
    return torch.cat([total / count[:, None], peak], dim=1)


def _kept_dual(hyperedge_index: Tensor, kept: Tensor, num_edges: int) -> Tensor:
    """The dual's incidence restricted to the ``kept`` edges, renumbered 0..len(kept)-1."""
    new_id = torch.full((num_edges,), -1, dtype=torch.long, device=kept.device)
    new_id[kept] = torch.arange(len(kept), device=kept.device)
    dual_nodes, hyperedges = hyperedge_index
    keep = new_id[dual_nodes] >= 0
    return torch.stack([new_id[dual_nodes[keep]], hyperedges[keep]])


class _NodeEncoder(nn.Module):
    """``layers`` GCN convolutions (ReLU after each) on both directions of every edge."""

    def __init__(self, in_channels: int, hidden: int, layers: int):
        super().__init__()
        from torch_geometric.nn import GCNConv

        widths = [in_channels] + [hidden] * layers
        self.convs = nn.ModuleList(GCNConv(a, b) for a, b in itertools.pairwise(widths))

    def forward(self, batch: EdgeGraphBatch) -> Tensor:
        both = torch.cat([batch.edge_index, batch.edge_index.flip(0)], dim=1)
        nodes = batch.x
        for conv in self.convs:
            nodes = torch.relu(conv(nodes, both))
        return nodes


POOLED_MODELS = ("ehgnn-hyperdrop", "ehgnn-hypercluster")


class _EdgeModel(nn.Module):
    """The parts both tasks share: the dual encoder and its pooling, the node GCN or the
    per-edge MLP, whichever ``method`` needs."""

    def __init__(
        self,
        method: EdgeModelName,
        num_edge_types: int,
        hidden: int,
        layers: int,
        ratio: float,
        clusters: int,
    ):
        super().__init__()
        if method not in EDGE_MODELS:
            raise ValueError(f"unknown model {method!r}; accepted: {', '.join(EDGE_MODELS)}")
        if hidden < 1 or layers < 1:
            raise ValueError(f"hidden and layers must be >= 1, got {hidden} and {layers}")
        if not 0.0 < ratio <= 1.0:
            raise ValueError(f"ratio must be in (0, 1], got {ratio}")
        self.method = method
        if method in POOLED_MODELS:
            self.encoder = EdgeHypergraphEncoder(num_edge_types, hidden, layers)
        if method == "ehgnn-hyperdrop":
            self.drop = HyperDrop(hidden, ratio)
        if method == "ehgnn-hypercluster":
            self.cluster = HyperCluster(hidden, clusters)
        if method == "gcn":
            self.nodes = _NodeEncoder(1, hidden, layers)
        if method == "edge-mlp":
            self.per_edge = nn.Sequential(
                nn.Linear(num_edge_types, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU()
            )


class EdgeGraphClassifier(_EdgeModel):
    """One of `EDGE_MODELS` as a graph classifier (module docstring)."""

    def __init__(
        self,
        method: EdgeModelName,
        num_edge_types: int,
        num_classes: int,
        hidden: int = 32,
        layers: int = 1,
        ratio: float = 0.5,
        clusters: int = 8,
    ):
        super().__init__(method, num_edge_types, hidden, layers, ratio, clusters)
        if method == "ehgnn-hyperdrop":
            self.after_drop = EdgeHypergraphEncoder(hidden, hidden, 1)
        width = hidden if method == "gcn" else 2 * hidden
        self.head = nn.Sequential(
            nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, num_classes)
        )

    def forward(self, batch: EdgeGraphBatch) -> Tensor:
        graphs = batch.num_graphs
        if self.method == "gcn":
            nodes = self.nodes(batch)
            total = nodes.new_zeros(graphs, nodes.shape[1]).index_add_(0, batch.batch, nodes)
            count = torch.bincount(batch.batch, minlength=graphs).clamp(min=1)
            return cast(Tensor, self.head(total / count[:, None].to(nodes.dtype)))
        if self.method == "edge-mlp":
            return cast(
                Tensor,
                self.head(_mean_max(self.per_edge(batch.edge_attr), batch.edge_batch, graphs)),
            )
        dual = with_self_loops(
            dual_hypergraph_transform(batch.x, batch.edge_index, batch.edge_attr)
        )
        n = dual.num_hyperedges
        edges = torch.relu(self.encoder(dual))
        if self.method == "ehgnn-hyperdrop":
            pooled, kept = self.drop(edges, dual.hyperedge_index, n, batch.edge_batch)
            index = _kept_dual(dual.hyperedge_index, kept, dual.num_nodes)
            kept_dual = dual._replace(x=pooled, hyperedge_index=index, num_nodes=len(kept))
            pooled = torch.relu(self.after_drop(kept_dual))
            return cast(Tensor, self.head(_mean_max(pooled, batch.edge_batch[kept], graphs)))
        clustered = self.cluster(edges, dual.hyperedge_index, n, batch.edge_batch, graphs)
        summary = torch.cat([clustered.pooled.mean(1), clustered.pooled.amax(1)], dim=1)
        return cast(Tensor, self.head(summary))


class EdgeAutoencoder(_EdgeModel):
    """One of `EDGE_MODELS` as an edge-type reconstructor (module docstring)."""

    def __init__(
        self,
        method: EdgeModelName,
        num_edge_types: int,
        hidden: int = 32,
        layers: int = 1,
        ratio: float = 0.5,
        clusters: int = 8,
    ):
        super().__init__(method, num_edge_types, hidden, layers, ratio, clusters)
        if method in POOLED_MODELS:
            self.decoder = EdgeHypergraphEncoder(hidden, hidden, layers)
        if method == "gcn":
            self.pair = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.ReLU())
        self.out = nn.Linear(hidden, num_edge_types)

    def forward(self, batch: EdgeGraphBatch) -> Tensor:
        """Logits ``(m, T)`` of every edge's type."""
        if self.method == "gcn":
            nodes = self.nodes(batch)
            u, v = nodes[batch.edge_index[0]], nodes[batch.edge_index[1]]
            return cast(Tensor, self.out(self.pair(torch.cat([u + v, u * v], dim=1))))
        if self.method == "edge-mlp":
            return cast(Tensor, self.out(self.per_edge(batch.edge_attr)))
        dual = with_self_loops(
            dual_hypergraph_transform(batch.x, batch.edge_index, batch.edge_attr)
        )
        n = dual.num_hyperedges
        edges = torch.relu(self.encoder(dual))
        if self.method == "ehgnn-hyperdrop":
            pooled, kept = self.drop(edges, dual.hyperedge_index, n, batch.edge_batch)
            edges = edges.new_zeros(edges.shape).index_copy(0, kept, pooled)
        else:
            clustered = self.cluster(
                edges, dual.hyperedge_index, n, batch.edge_batch, batch.num_graphs
            )
            edges = HyperCluster.unpool(clustered.pooled, clustered.assignment, batch.edge_batch)
        decoded = torch.relu(self.decoder(dual._replace(x=edges)))
        return cast(Tensor, self.out(decoded))


@dataclass(frozen=True)
class EdgeScores:
    """What one trained model scored on the test graphs (and on validation)."""

    test_accuracy: float | None  # classification
    test_error: float | None  # reconstruction: share of test edges whose type is wrong
    test_error_red: float | None  # the same on the red (pattern) edges only
    validation: float  # accuracy, or minus the error: higher is better
    best_epoch: int


@torch.no_grad()
def _evaluate(model: nn.Module, task: EdgeTask, batch: EdgeGraphBatch) -> tuple[float, float]:
    """Classification: (accuracy, accuracy); reconstruction: (error, error on red edges)."""
    model.eval()
    out = model(batch)
    if task == "classification":
        accuracy = float((out.argmax(-1) == batch.y).float().mean())
        return accuracy, accuracy
    wrong = out.argmax(-1) != batch.edge_types
    red = batch.edge_types == RED
    return float(wrong.float().mean()), float(wrong[red].float().mean()) if red.any() else 0.0


def train_edge_model(
    model: EdgeGraphClassifier | EdgeAutoencoder,
    dataset: EdgeGraphDataset,
    train: np.ndarray,
    val: np.ndarray,
    test: np.ndarray,
    epochs: int,
    seed: int,
    lr: float = 0.005,
    batch_size: int = 32,
) -> EdgeScores:
    """Adam on cross-entropy (graph labels, or edge types); keeps the weights of the epoch
    with the best validation score (ties: the earlier epoch) and scores them on test."""
    task: EdgeTask = (
        "classification" if isinstance(model, EdgeGraphClassifier) else "reconstruction"
    )
    generator = np.random.default_rng(seed)
    torch.manual_seed(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    val_batch, test_batch = collate_edges(dataset, val), collate_edges(dataset, test)
    best = (-math.inf, 0, {k: v.clone() for k, v in model.state_dict().items()})
    for epoch in range(1, epochs + 1):
        model.train()
        order = generator.permutation(train)
        for start in range(0, len(order), batch_size):
            batch = collate_edges(dataset, order[start : start + batch_size])
            optimiser.zero_grad()
            target = batch.y if task == "classification" else batch.edge_types
            loss = nn.functional.cross_entropy(model(batch), target)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimiser.step()
        score, _ = _evaluate(model, task, val_batch)
        score = score if task == "classification" else -score
        if score > best[0]:
            best = (score, epoch, {k: v.clone() for k, v in model.state_dict().items()})
    model.load_state_dict(best[2])
    first, second = _evaluate(model, task, test_batch)
    if task == "classification":
        return EdgeScores(first, None, None, best[0], best[1])
    return EdgeScores(None, first, second, best[0], best[1])


__all__ = [
    "EdgeAutoencoder",
    "EdgeGraphBatch",
    "EdgeGraphClassifier",
    "EdgeScores",
    "EdgeTask",
    "clusters_for",
    "collate_edges",
    "train_edge_model",
]
