"""Dual hypergraph transformation (arXiv:2106.15845) on examples worked out by hand."""

from __future__ import annotations

import math

import pytest
import torch
from unlearn_graph.edges.dht import (
    DualHypergraphConv,
    EdgeHypergraphEncoder,
    HyperDrop,
    dual_hypergraph_transform,
    inverse_dual_hypergraph_transform,
    top_k_per_graph,
)

# Path graph 0 - 1 - 2: edge e0 = (0, 1), edge e1 = (1, 2).
PATH_EDGES = torch.tensor([[0, 1], [1, 2]])
PATH_X = torch.tensor([[10.0], [20.0], [30.0]])
PATH_E = torch.tensor([[1.0], [3.0]])


def _dense_incidence(index: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    dense = torch.zeros(rows, cols)
    dense[index[0], index[1]] = 1.0
    return dense


def _identity_conv(normalization: str) -> DualHypergraphConv:
    conv = DualHypergraphConv(1, 1, normalization, bias=False)  # type: ignore[arg-type]
    with torch.no_grad():
        conv.linear.weight.fill_(1.0)
    return conv


def test_path_graph_dual_has_the_hand_written_incidence() -> None:
    dual = dual_hypergraph_transform(PATH_X, PATH_EDGES, PATH_E)
    # M (nodes x edges) = [[1, 0], [1, 1], [0, 1]]; the dual's incidence is M^T.
    expected = torch.tensor([[1.0, 1.0, 0.0], [0.0, 1.0, 1.0]])
    assert (dual.num_nodes, dual.num_hyperedges) == (2, 3)
    assert torch.equal(_dense_incidence(dual.hyperedge_index, 2, 3), expected)
    assert torch.equal(dual.x, PATH_E) and torch.equal(dual.hyperedge_attr, PATH_X)


def test_dht_applied_twice_returns_the_graph() -> None:
    generator = torch.Generator().manual_seed(0)
    edge_index = torch.randint(0, 7, (2, 15), generator=generator)  # directed, repeats allowed
    x, edge_attr = torch.randn(7, 3, generator=generator), torch.randn(15, 4, generator=generator)
    back_x, back_edges, back_attr = inverse_dual_hypergraph_transform(
        dual_hypergraph_transform(x, edge_index, edge_attr)
    )
    assert torch.equal(back_x, x) and torch.equal(back_attr, edge_attr)
    assert torch.equal(back_edges, edge_index)


def test_symmetric_step_on_the_path_dual_matches_the_hand_computation() -> None:
    # D_v = (2, 2), D_e = (1, 2, 1), Theta = 1. D_v^{-1/2} E = (1, 3)/sqrt2;
    # H^T: hyperedges (1, 4, 3)/sqrt2; D_e^{-1}: (1, 2, 3)/sqrt2;
    # H: e0 = (1 + 2)/sqrt2, e1 = (2 + 3)/sqrt2; D_v^{-1/2}: (1.5, 2.5).
    dual = dual_hypergraph_transform(PATH_X, PATH_EDGES, PATH_E)
    out = _identity_conv("symmetric")(dual.x, dual.hyperedge_index, dual.num_hyperedges)
    assert torch.allclose(out, torch.tensor([[1.5], [2.5]]))


def test_row_step_with_hyperedge_weights_matches_the_hand_computation() -> None:
    # w = (1, 2, 1): H^T E = (1, 4, 3); W D_e^{-1}: (1, 4, 3); H: e0 = 5, e1 = 7;
    # weighted D_v = (1 + 2, 2 + 1) = (3, 3): (5/3, 7/3).
    dual = dual_hypergraph_transform(PATH_X, PATH_EDGES, PATH_E)
    weight = torch.tensor([1.0, 2.0, 1.0])
    out = _identity_conv("row")(dual.x, dual.hyperedge_index, 3, weight)
    assert torch.allclose(out, torch.tensor([[5 / 3], [7 / 3]]))


def test_step_on_a_star_with_a_pendant_matches_the_hand_computation() -> None:
    # Star 0-1, 0-2, 0-3 plus the pendant 3-4: edges e0..e3, D_v = 2 everywhere,
    # D_e = (3, 1, 1, 2, 1). E = (1, 0, 0, 0): only e0's hyperedges (nodes 0, 1) carry it.
    # H^T D_v^{-1/2} E: node0 1/sqrt2, node1 1/sqrt2, others 0; D_e^{-1}: 1/(3 sqrt2), 1/sqrt2.
    # e0 = (1/3 + 1)/2 = 2/3; e1, e2 (through node 0) = (1/3)/2 = 1/6; e3 (nodes 3, 4) = 0.
    edges = torch.tensor([[0, 0, 0, 3], [1, 2, 3, 4]])
    dual = dual_hypergraph_transform(torch.zeros(5, 1), edges, torch.tensor([[1.0], [0], [0], [0]]))
    expected = torch.tensor([2 / 3, 1 / 6, 1 / 6, 0.0])
    symmetric = _identity_conv("symmetric")(dual.x, dual.hyperedge_index, 5)
    assert torch.allclose(symmetric.squeeze(-1), expected)
    # Without self-loops every dual node has degree 2, so with unit weights the row form
    # D_v^{-1} H D_e^{-1} H^T gives the same numbers.
    row = _identity_conv("row")(dual.x, dual.hyperedge_index, 5)
    assert torch.allclose(row.squeeze(-1), expected)


def test_row_form_matches_pyg_hypergraph_conv() -> None:
    from torch_geometric.nn import HypergraphConv

    generator = torch.Generator().manual_seed(1)
    edge_index = torch.randint(0, 6, (2, 12), generator=generator)
    edge_attr = torch.randn(12, 3, generator=generator)
    dual = dual_hypergraph_transform(torch.zeros(6, 1), edge_index, edge_attr)
    ours = DualHypergraphConv(3, 2, "row")
    theirs = HypergraphConv(3, 2)
    with torch.no_grad():
        theirs.lin.weight.copy_(ours.linear.weight)
        theirs.bias.copy_(ours.bias)  # type: ignore[union-attr]
    expected = theirs(dual.x, dual.hyperedge_index, num_edges=6)
    assert torch.allclose(ours(dual.x, dual.hyperedge_index, 6), expected, atol=1e-6)


def test_top_k_keeps_the_best_ceil_ratio_edges_of_each_graph() -> None:
    score = torch.tensor([0.1, 0.9, 0.5, 0.3, 0.2])
    batch = torch.tensor([0, 0, 0, 1, 1])
    # Graph 0 keeps ceil(1.5) = 2 (edges 1, 2); graph 1 keeps ceil(1.0) = 1 (edge 3).
    assert top_k_per_graph(score, batch, 0.5).tolist() == [1, 2, 3]


def test_hyperdrop_gates_kept_edges_by_tanh_of_their_score() -> None:
    dual = dual_hypergraph_transform(PATH_X, PATH_EDGES, PATH_E)
    drop = HyperDrop(1, ratio=0.5)
    with torch.no_grad():
        drop.score.linear.weight.fill_(1.0)
        drop.score.bias.zero_()  # type: ignore[union-attr]
    pooled, kept = drop(dual.x, dual.hyperedge_index, 3, torch.zeros(2, dtype=torch.long))
    # Scores are the symmetric step (1.5, 2.5): e1 is kept, scaled by tanh(2.5).
    assert kept.tolist() == [1]
    assert torch.allclose(pooled, torch.tensor([[3.0 * math.tanh(2.5)]]))


def test_encoder_gives_one_vector_per_edge_and_rejects_bad_input() -> None:
    dual = dual_hypergraph_transform(PATH_X, PATH_EDGES, PATH_E)
    assert EdgeHypergraphEncoder(1, 4, layers=2)(dual).shape == (2, 4)
    with pytest.raises(ValueError, match="one row per edge"):
        dual_hypergraph_transform(PATH_X, PATH_EDGES, torch.zeros(3, 1))
    with pytest.raises(ValueError, match="normalization"):
        DualHypergraphConv(1, 1, "mean")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="layout"):
        inverse_dual_hypergraph_transform(
            dual._replace(hyperedge_index=dual.hyperedge_index.flip(1))
        )
