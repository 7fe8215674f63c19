"""EHGNN on a task only edge message passing can solve: 8-cycles with two red edges, the
class says whether they share a node. Per-edge features alone (no dual message passing)
see the same multiset of edges in both classes, so they stay near chance."""

from __future__ import annotations

import random

import torch
from torch import Tensor, nn
from unlearn_graph.edges.dht import EdgeHypergraphEncoder, dual_hypergraph_transform


def _graph(rng: random.Random, adjacent: bool) -> list[tuple[int, int]]:
    while True:
        # A cycle on 8 shuffled nodes: every node has degree 2, so a node's share of red
        # edges is 1 exactly when both red edges meet there (no degree confound).
        order = rng.sample(range(8), 8)
        edges = [tuple(sorted((order[i], order[(i + 1) % 8]))) for i in range(8)]
        pairs = [
            (a, b)
            for a in range(len(edges))
            for b in range(a + 1, len(edges))
            if bool(set(edges[a]) & set(edges[b])) == adjacent
        ]
        if pairs:
            red = rng.choice(pairs)
            # Red edges first, so the features are built from positions 0 and 1.
            rest = [e for i, e in enumerate(edges) if i not in red]
            return [edges[red[0]], edges[red[1]], *rest]  # type: ignore[list-item]


def _batch(count: int, seed: int) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    rng = random.Random(seed)
    sources, targets, features, edge_batch, labels = [], [], [], [], []
    for graph in range(count):
        label = graph % 2
        for position, (u, v) in enumerate(_graph(rng, adjacent=bool(label))):
            sources.append(u + 8 * graph)
            targets.append(v + 8 * graph)
            features.append([1.0, 0.0] if position < 2 else [0.0, 1.0])
            edge_batch.append(graph)
        labels.append(label)
    return (
        torch.ones(8 * count, 1),
        torch.tensor([sources, targets]),
        torch.tensor(features),
        torch.tensor(edge_batch),
        torch.tensor(labels),
    )


class _EdgeClassifier(nn.Module):
    def __init__(self, message_passing: bool):
        super().__init__()
        self.message_passing = message_passing
        self.encoder = EdgeHypergraphEncoder(2, 32, layers=3)
        self.per_edge = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 32))
        self.head = nn.Linear(32, 2)

    def forward(
        self, x: Tensor, edge_index: Tensor, edge_attr: Tensor, edge_batch: Tensor
    ) -> Tensor:
        if self.message_passing:
            edges = self.encoder(dual_hypergraph_transform(x, edge_index, edge_attr))
        else:
            edges = self.per_edge(edge_attr)
        graphs = int(edge_batch.max()) + 1
        pooled = edges.new_full((graphs, edges.shape[1]), -torch.inf)
        pooled = pooled.scatter_reduce(0, edge_batch[:, None].expand_as(edges), edges, "amax")
        return self.head(pooled)


def _accuracy(message_passing: bool) -> float:
    torch.manual_seed(0)
    train, test = _batch(200, seed=1), _batch(200, seed=2)
    model = _EdgeClassifier(message_passing)
    optimiser = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(120):
        optimiser.zero_grad()
        loss = nn.functional.cross_entropy(model(*train[:4]), train[4])
        loss.backward()
        optimiser.step()
    with torch.no_grad():
        return float((model(*test[:4]).argmax(-1) == test[4]).float().mean())


def test_dual_message_passing_detects_adjacent_red_edges_and_per_edge_features_cannot() -> None:
    with_dht, without = _accuracy(True), _accuracy(False)
    print(f"EHGNN {with_dht:.3f}, per-edge MLP {without:.3f}")
    assert with_dht >= 0.9
    assert without <= 0.65
