"""HyperCluster (arXiv:2106.15845) and the edge-signal models, on cases worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from unlearn_graph.edges.dht import (
    DualHypergraphConv,
    HyperCluster,
    dual_hypergraph_transform,
    with_self_loops,
)
from unlearn_graph.edges.models import (
    EdgeAutoencoder,
    EdgeGraphClassifier,
    _kept_dual,
    clusters_for,
    collate_edges,
)
from unlearn_graph.worlds.edge_patterns import (
    EdgePatternsConfig,
    edge_patterns,
)

# Path graph 0 - 1 - 2: edge e0 = (0, 1) with feature 1, edge e1 = (1, 2) with feature 3.
PATH_EDGES = torch.tensor([[0, 1], [1, 2]])
PATH_E = torch.tensor([[1.0], [3.0]])


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def _hand_set_cluster() -> HyperCluster:
    # Keys: one symmetric step with Theta = 1, i.e. (1.5, 2.5) on the path (test_dht.py);
    # queries: seeds (1, -1) through W_Q = 1, no bias; d = 1.
    pool = HyperCluster(1, clusters=2)
    with torch.no_grad():
        pool.key.linear.weight.fill_(1.0)
        pool.key.bias.zero_()  # type: ignore[union-attr]
        pool.query.weight.fill_(1.0)
        pool.query.bias.zero_()
        pool.seeds.copy_(torch.tensor([[1.0], [-1.0]]))
    return pool


def test_hypercluster_matches_the_hand_computation_on_the_path() -> None:
    # s_j = (k_j, -k_j): e0 (1.5, -1.5), e1 (2.5, -2.5); a two-way softmax of (a, -a) is
    # (sigmoid(2a), sigmoid(-2a)): C = [[s(3), s(-3)], [s(5), s(-5)]].
    dual = dual_hypergraph_transform(torch.zeros(3, 1), PATH_EDGES, PATH_E)
    out = _hand_set_cluster()(dual.x, dual.hyperedge_index, 3, torch.zeros(2, dtype=torch.long), 1)
    s3, s5 = _sigmoid(3.0), _sigmoid(5.0)
    expected_c = torch.tensor([[s3, 1 - s3], [s5, 1 - s5]])
    assert torch.allclose(out.assignment, expected_c, atol=1e-6)
    # E^pool = C^T E: cluster 0 = s(3) * 1 + s(5) * 3, cluster 1 = s(-3) * 1 + s(-5) * 3.
    expected_pool = torch.tensor([[[s3 + 3 * s5], [(1 - s3) + 3 * (1 - s5)]]])
    assert torch.allclose(out.pooled, expected_pool, atol=1e-6)
    # (M^pool)^T = C^T M^T, M^T = [[1, 1, 0], [0, 1, 1]] (edge x node).
    expected_m = torch.tensor(
        [[s3, s3 + s5, s5], [1 - s3, (1 - s3) + (1 - s5), 1 - s5]], dtype=torch.float32
    )
    incidence = HyperCluster.pooled_incidence(
        out.assignment, dual.hyperedge_index, 3, torch.zeros(2, dtype=torch.long), 1
    )
    assert torch.allclose(incidence.to_dense(), expected_m, atol=1e-6)
    # Unpooling C E^pool: e0 = s(3) * pool_0 + s(-3) * pool_1.
    back = HyperCluster.unpool(out.pooled, out.assignment, torch.zeros(2, dtype=torch.long))
    p0, p1 = s3 + 3 * s5, (1 - s3) + 3 * (1 - s5)
    assert back[0, 0].item() == pytest.approx(s3 * p0 + (1 - s3) * p1, abs=1e-5)


def test_hypercluster_pools_each_graph_of_a_batch_on_its_own() -> None:
    # Two copies of the path (nodes 0-2 and 3-5): the same pooled edges, and graph 1's
    # clusters (rows 2, 3 of the pooled incidence) join only nodes 3-5.
    edges = torch.cat([PATH_EDGES, PATH_EDGES + 3], dim=1)
    dual = dual_hypergraph_transform(torch.zeros(6, 1), edges, PATH_E.repeat(2, 1))
    batch = torch.tensor([0, 0, 1, 1])
    out = _hand_set_cluster()(dual.x, dual.hyperedge_index, 6, batch, 2)
    assert out.pooled.shape == (2, 2, 1)
    assert torch.allclose(out.pooled[0], out.pooled[1])
    dense = HyperCluster.pooled_incidence(out.assignment, dual.hyperedge_index, 6, batch, 2)
    dense = dense.to_dense()
    assert torch.all(dense[:2, 3:] == 0) and torch.all(dense[2:, :3] == 0)
    assert torch.allclose(dense[:2, :3], dense[2:, 3:])
    assert torch.allclose(out.assignment.sum(1), torch.ones(4))
    with pytest.raises(ValueError, match="one entry per edge"):
        _hand_set_cluster()(dual.x, dual.hyperedge_index, 6, batch[:3], 2)
    with pytest.raises(ValueError, match="clusters"):
        HyperCluster(4, clusters=0)


def test_self_loops_keep_half_of_an_edges_own_features_per_step() -> None:
    # Loops add hyperedges 3 (e0 alone) and 4 (e1 alone): D_v = 3, D_e = (1, 2, 1, 1, 1).
    # D_v^{-1/2} E = (1, 3)/sqrt3; per hyperedge / D_e: (1, 2, 3, 1, 3)/sqrt3;
    # e0 = (1 + 2 + 1)/sqrt3, e1 = (2 + 3 + 3)/sqrt3; D_v^{-1/2}: (4/3, 8/3).
    dual = with_self_loops(dual_hypergraph_transform(torch.zeros(3, 1), PATH_EDGES, PATH_E))
    assert dual.num_hyperedges == 5 and dual.hyperedge_index[:, 4:].tolist() == [[0, 1], [3, 4]]
    conv = DualHypergraphConv(1, 1, bias=False)
    with torch.no_grad():
        conv.linear.weight.fill_(1.0)
    out = conv(dual.x, dual.hyperedge_index, dual.num_hyperedges)
    assert torch.allclose(out.squeeze(-1), torch.tensor([4 / 3, 8 / 3]))


def test_kept_dual_renumbers_the_kept_edges() -> None:
    # The path's dual incidence is [[0, 1, 0, 1], [0, 1, 1, 2]]; keeping e1 leaves its two
    # entries (node 1, node 2), renumbered as dual node 0.
    dual = dual_hypergraph_transform(torch.zeros(3, 1), PATH_EDGES, PATH_E)
    assert _kept_dual(dual.hyperedge_index, torch.tensor([1]), 2).tolist() == [[0, 0], [1, 2]]
    assert clusters_for(0.5, 9.0) == 5 and clusters_for(0.01, 3.0) == 1


def _pattern_of(pairs: np.ndarray, red: np.ndarray) -> str:
    chosen = pairs[:, red]
    degree = np.bincount(chosen.reshape(-1))
    if degree.max() == chosen.shape[1]:
        return "star"
    if degree.max() == 1:
        return "matching"
    # A simple path: exactly two ends of red degree 1, the rest 2, and connected.
    ends = int((degree == 1).sum())
    assert ends == 2 and degree.max() == 2
    return "path"


def test_edge_pattern_world_plants_each_class_pattern_with_equal_red_counts() -> None:
    config = EdgePatternsConfig(graphs_per_class=12)
    data = edge_patterns(config, seed=4)
    again = edge_patterns(config, seed=4)
    assert np.array_equal(data.labels, again.labels)
    assert all(np.array_equal(a, b) for a, b in zip(data.edge_types, again.edge_types, strict=True))
    assert np.bincount(data.labels).tolist() == [12, 12, 12]
    for pairs, types, label in zip(data.edges, data.edge_types, data.labels, strict=True):
        assert np.all(pairs[0] < pairs[1])
        assert np.all(np.bincount(pairs.reshape(-1)) == config.degree)  # regular
        assert len({tuple(p) for p in pairs.T.tolist()}) == pairs.shape[1]  # simple
        red = types == 1
        assert red.sum() == config.pattern_edges
        assert _pattern_of(pairs, red) == data.class_names[label]
    with pytest.raises(ValueError, match="matching of 5 edges"):
        EdgePatternsConfig(min_nodes=8, max_nodes=10, pattern_edges=5, degree=5)
    with pytest.raises(ValueError, match="star of 5 edges"):
        EdgePatternsConfig(pattern_edges=5)


@pytest.mark.parametrize("method", ["ehgnn-hyperdrop", "ehgnn-hypercluster", "gcn", "edge-mlp"])
def test_every_model_gives_logits_of_the_right_shape(method: str) -> None:
    data = edge_patterns(EdgePatternsConfig(graphs_per_class=2), seed=0)
    batch = collate_edges(data, np.arange(len(data)))
    torch.manual_seed(0)
    logits = EdgeGraphClassifier(method, 3, 3, hidden=8, clusters=4)(batch)  # type: ignore[arg-type]
    assert logits.shape == (6, 3) and torch.isfinite(logits).all()
    types = EdgeAutoencoder(method, 3, hidden=8, clusters=4)(batch)  # type: ignore[arg-type]
    assert types.shape == (batch.edge_index.shape[1], 3)
    with pytest.raises(ValueError, match="unknown model"):
        EdgeGraphClassifier("node-mlp", 3, 3)  # type: ignore[arg-type]


@pytest.mark.slow
def test_hypercluster_learns_the_edge_patterns_where_a_node_only_gcn_cannot() -> None:
    from unlearn_graph.edges.models import train_edge_model
    from unlearn_graph.readout.training import split_graphs

    data = edge_patterns(EdgePatternsConfig(graphs_per_class=50), seed=0)
    split = split_graphs(data, 0)  # type: ignore[arg-type]
    scores = {}
    for method in ("ehgnn-hypercluster", "gcn"):
        torch.manual_seed(0)
        model = EdgeGraphClassifier(method, 3, 3, hidden=16, layers=1, clusters=10)  # type: ignore[arg-type]
        trained = train_edge_model(model, data, split.train, split.val, split.test, 40, seed=0)
        scores[method] = trained.test_accuracy
    print(scores)
    assert scores["ehgnn-hypercluster"] is not None and scores["ehgnn-hypercluster"] >= 0.8
    assert scores["gcn"] is not None and scores["gcn"] <= 0.5  # chance is 1/3
