"""HISTOGRAPH (arXiv:2601.01123) on examples worked out by hand from its definition."""

from __future__ import annotations

import math

import pytest
import torch
from unlearn_graph.readout.classifier import READOUTS, GraphClassifier
from unlearn_graph.readout.histograph import HistoGraphReadout, LayerAttention, NodeAttention


def _identity_layer_attention(hidden: int, layers: int, mode: str = "graph") -> LayerAttention:
    stage = LayerAttention(hidden, layers, mode)  # type: ignore[arg-type]
    with torch.no_grad():
        for linear in (stage.query, stage.key, stage.value):
            linear.weight.copy_(torch.eye(hidden))
        stage.layer_embedding.zero_()
    return stage


def test_layer_attention_matches_the_hand_worked_example() -> None:
    # One graph, two nodes, three layers (h^(0), h^(1), h^(2)); W_Q = W_K = W_V = I, e = 0.
    history = torch.tensor(
        [
            [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]],  # node a: q_a = h_a^(2) = (1, 1)
            [[2.0, 0.0], [0.0, 0.0], [0.0, 1.0]],  # node b: q_b = h_b^(2) = (0, 1)
        ]
    )
    batch = torch.zeros(2, dtype=torch.long)
    stage = _identity_layer_attention(2, 3)
    # q^T k per layer: node a (1, 1, 2), node b (0, 0, 1); graph mean (0.5, 0.5, 1.5) / sqrt 2.
    scores = [0.5 / math.sqrt(2), 0.5 / math.sqrt(2), 1.5 / math.sqrt(2)]
    total = sum(math.exp(s) for s in scores)
    alpha = [math.exp(s) / total for s in scores]
    weights = stage.weights(history, batch, 1)
    assert weights.shape == (1, 3)
    assert torch.allclose(weights[0], torch.tensor(alpha), atol=1e-6)
    expected = torch.tensor(
        [
            [alpha[0] + alpha[2], alpha[1] + alpha[2]],  # a: a0 (1,0) + a1 (0,1) + a2 (1,1)
            [2 * alpha[0], alpha[2]],  # b: a0 (2,0) + a2 (0,1)
        ]
    )
    assert torch.allclose(stage(history, batch, 1), expected, atol=1e-6)


def test_per_node_layer_weights_use_each_nodes_own_scores() -> None:
    history = torch.tensor(
        [[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], [[2.0, 0.0], [0.0, 0.0], [0.0, 1.0]]]
    )
    stage = _identity_layer_attention(2, 3, "node")
    weights = stage.weights(history, torch.zeros(2, dtype=torch.long), 1)
    node_b = torch.softmax(torch.tensor([0.0, 0.0, 1.0]) / math.sqrt(2), dim=0)
    assert weights.shape == (2, 3) and torch.allclose(weights[1], node_b, atol=1e-6)


def test_a_known_query_picks_the_layer_it_points_to() -> None:
    # Keys are only the layer embeddings (W_K = 0); layer 1's is aligned with every query,
    # so the weights go to layer 1 and the output is h^(1).
    torch.manual_seed(0)
    history = torch.randn(5, 4, 3)
    history[:, -1] = torch.tensor([1.0, 0.0, 0.0])
    stage = _identity_layer_attention(3, 4)
    with torch.no_grad():
        stage.key.weight.zero_()
        stage.layer_embedding[1] = torch.tensor([40.0, 0.0, 0.0])
    batch = torch.tensor([0, 0, 0, 1, 1])
    weights = stage.weights(history, batch, 2)
    assert torch.all(weights[:, 1] > 0.999)
    assert torch.allclose(stage(history, batch, 2), history[:, 1], atol=1e-3)


def test_the_cheap_form_equals_the_written_equation() -> None:
    # Keys and values formed layer by layer, as the equation reads, give the same output.
    torch.manual_seed(1)
    stage = LayerAttention(6, 3)
    history = torch.randn(7, 3, 6)
    batch = torch.tensor([0, 0, 0, 1, 1, 1, 1])
    query = stage.query(history[:, -1])
    keys = stage.key(history) + stage.layer_embedding  # (N, L, d)
    scores = (query.unsqueeze(1) * keys).sum(-1) / math.sqrt(6)
    per_graph = torch.stack([scores[batch == g].mean(0) for g in range(2)])
    alpha = torch.softmax(per_graph, dim=-1)[batch]
    expected = (alpha.unsqueeze(-1) * stage.value(history)).sum(1)
    assert torch.allclose(stage(history, batch, 2), expected, atol=1e-5)


def _readout_as_written(readout: HistoGraphReadout, history: torch.Tensor, batch: torch.Tensor):
    """The readout exactly as the module docstring's equations read (and as the previous,
    unoptimised implementation computed it): keys and values formed for every layer,
    per-graph means and the self-attention taken graph by graph, heads one at a time."""
    stage1, stage2 = readout.layers, readout.nodes
    d, heads = stage1.hidden, stage2.heads
    query = stage1.query(history[:, -1])  # q_n = W_Q h_n^(L)
    keys = stage1.key(history) + stage1.layer_embedding  # k_n^(l) = W_K h_n^(l) + e_l
    values = stage1.value(history)  # v_n^(l) = W_V h_n^(l)
    scores = (query.unsqueeze(1) * keys).sum(-1) / math.sqrt(d)  # (N, L+1)
    graphs = []
    for g in range(int(batch.max()) + 1):
        members = batch == g
        if stage1.layer_weights == "graph":
            alpha = torch.softmax(scores[members].mean(0), dim=0).expand(int(members.sum()), -1)
        else:
            alpha = torch.softmax(scores[members], dim=1)
        z = (alpha.unsqueeze(-1) * values[members]).sum(1)  # z_n = sum_l alpha_l v_n^(l)
        q, k, v = stage2.in_proj(z).chunk(3, dim=-1)
        width = d // heads
        attended = torch.cat(
            [
                torch.softmax(
                    q[:, h * width : (h + 1) * width]
                    @ k[:, h * width : (h + 1) * width].T
                    / math.sqrt(width),
                    dim=1,
                )
                @ v[:, h * width : (h + 1) * width]
                for h in range(heads)
            ],
            dim=1,
        )
        graphs.append((z + stage2.out_proj(attended)).mean(0))  # mean_n (z_n + MHA)
    return torch.stack(graphs)


@pytest.mark.parametrize(
    ("heads", "mode", "layers"), [(1, "graph", 5), (2, "graph", 17), (4, "node", 3)]
)
def test_the_fast_readout_equals_the_equations_as_written(
    heads: int, mode: str, layers: int
) -> None:
    # Graphs of 1, 4 and 7 nodes (padding in stage 2), short and long histories (both
    # of stage 1's code paths), one and several heads.
    torch.manual_seed(4)
    readout = HistoGraphReadout(8, layers, heads=heads, layer_weights=mode)  # type: ignore[arg-type]
    history = torch.randn(12, layers, 8)
    batch = torch.tensor([0] + [1] * 4 + [2] * 7)
    expected = _readout_as_written(readout, history, batch)
    assert torch.allclose(readout(history, batch), expected, atol=1e-5)
    # the stages alone: stage 1 is W_V sum_l alpha_l h^(l), stage 2 the rest
    z = readout.layers(history, batch, 3)
    assert torch.allclose(readout.nodes(z, batch, 3), expected, atol=1e-5)


@pytest.mark.parametrize("heads", [1, 2])
def test_the_fast_readout_has_the_same_gradients_as_the_equations(heads: int) -> None:
    # one head: every map folded onto the mixed history; two: the general path
    torch.manual_seed(5)
    readout = HistoGraphReadout(6, 4, heads=heads)
    history = torch.randn(9, 4, 6, requires_grad=True)
    batch = torch.tensor([0, 0, 0, 1, 1, 1, 1, 2, 2])
    fast = torch.autograd.grad(
        readout(history, batch).square().sum(), [history, *readout.parameters()]
    )
    slow = torch.autograd.grad(
        _readout_as_written(readout, history, batch).square().sum(),
        [history, *readout.parameters()],
    )
    for got, want in zip(fast, slow, strict=True):
        assert torch.allclose(got, want, atol=1e-5)


def test_an_empty_graph_in_the_batch_gives_finite_output() -> None:
    readout = HistoGraphReadout(4, 3)
    out = readout(torch.randn(3, 3, 4), torch.tensor([0, 0, 2]), num_graphs=3)
    assert out.shape == (3, 4) and torch.isfinite(out).all()


def _uniform_node_attention(hidden: int) -> NodeAttention:
    stage = NodeAttention(hidden, heads=1)
    with torch.no_grad():
        stage.in_proj.weight.zero_()
        stage.in_proj.weight[2 * hidden :] = torch.eye(hidden)  # values: identity
        stage.in_proj.bias.zero_()
        stage.out_proj.weight.copy_(torch.eye(hidden))
        stage.out_proj.bias.zero_()
    return stage


def test_the_one_head_readout_equals_the_general_path_with_an_empty_graph() -> None:
    torch.manual_seed(6)
    readout = HistoGraphReadout(8, 3, heads=1)
    history = torch.randn(6, 3, 8)
    batch = torch.tensor([0, 0, 2, 2, 2, 2])  # graph 1 and graph 3 have no nodes
    folded = readout(history, batch, 4)
    general = readout.nodes(readout.layers(history, batch, 4), batch, 4)
    assert torch.isfinite(folded).all()
    assert torch.allclose(folded, general, atol=1e-6)


def test_node_attention_with_zero_queries_adds_the_graph_mean() -> None:
    # Queries and keys are 0: uniform attention, each node gets its graph's mean added,
    # and the graph vector is mean + mean. Graph 0 has nodes (1,2), (3,4); graph 1 (5,0).
    stage = _uniform_node_attention(2)
    nodes = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 0.0]])
    out = stage(nodes, torch.tensor([0, 0, 1]), 2)
    assert torch.allclose(out, torch.tensor([[4.0, 6.0], [10.0, 0.0]]), atol=1e-6)


def test_readout_is_invariant_to_the_order_of_nodes_and_graphs_do_not_mix() -> None:
    torch.manual_seed(2)
    readout = HistoGraphReadout(8, 5, heads=2).eval()
    history = torch.randn(9, 5, 8)
    batch = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1, 1])
    out = readout(history, batch)
    assert out.shape == (2, 8)
    order = torch.tensor([3, 1, 0, 2, 8, 5, 4, 7, 6])  # shuffled within each graph
    assert torch.allclose(readout(history[order], batch[order]), out, atol=1e-5)
    alone = readout(history[4:], torch.zeros(5, dtype=torch.long))
    assert torch.allclose(alone[0], out[1], atol=1e-5)


def test_bad_history_shape_names_what_is_expected() -> None:
    readout = HistoGraphReadout(8, 5, heads=2)
    with pytest.raises(ValueError, match=r"\(nodes, 5, 8\)"):
        readout(torch.randn(4, 3, 8), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="layer_weights"):
        LayerAttention(8, 5, "edge")  # type: ignore[arg-type]


@pytest.mark.parametrize("readout", READOUTS)
@pytest.mark.parametrize("backbone", ["gcn", "gin"])
def test_classifier_gives_logits_per_graph(readout: str, backbone: str) -> None:
    torch.manual_seed(3)
    model = GraphClassifier(3, 4, backbone, depth=3, hidden=8, readout=readout)  # type: ignore[arg-type]
    x = torch.randn(6, 3)
    edge_index = torch.tensor([[0, 1, 1, 2, 3, 4, 4, 5], [1, 0, 2, 1, 4, 3, 5, 4]])
    logits = model(x, edge_index, torch.tensor([0, 0, 0, 1, 1, 1]), 2)
    assert logits.shape == (2, 4) and torch.isfinite(logits).all()
    assert len(model.history(x, edge_index)) == 4


def test_weight_products_kept_without_gradients_follow_weight_updates() -> None:
    # Without gradients the folded weight products are reused between forwards; an
    # optimiser step or load_state_dict (in-place updates) must invalidate them.
    torch.manual_seed(7)
    readout = HistoGraphReadout(8, 4).eval()
    history = torch.randn(7, 4, 8)
    batch = torch.tensor([0, 0, 0, 1, 1, 1, 1])
    with torch.no_grad():
        before = readout(history, batch)
        assert torch.equal(readout(history, batch), before)  # the kept products
    optimiser = torch.optim.SGD(readout.parameters(), lr=0.5)
    readout(history, batch).square().sum().backward()
    optimiser.step()
    expected = _readout_as_written(readout, history, batch)
    with torch.no_grad():
        stepped = readout(history, batch)
    assert not torch.allclose(stepped, before, atol=1e-3)
    assert torch.allclose(stepped, expected, atol=1e-5)
    other = HistoGraphReadout(8, 4)
    with torch.no_grad():
        readout.load_state_dict(other.state_dict())
        assert torch.allclose(readout(history, batch), other(history, batch), atol=1e-6)
        readout.nodes.out_proj.weight.data.zero_()  # .data: no version bump
        readout.clear_weight_products()
        assert torch.allclose(
            readout(history, batch), _readout_as_written(readout, history, batch), atol=1e-5
        )
    # a fused optimiser updates the weights without bumping their versions: the new
    # gradient (a backward) tells, and so does eval() after training mode
    fused = torch.optim.Adam(readout.parameters(), lr=0.1, fused=True)
    readout.zero_grad()
    readout(history, batch).square().sum().backward()
    fused.step()
    with torch.no_grad():
        assert torch.allclose(
            readout(history, batch), _readout_as_written(readout, history, batch), atol=1e-5
        )
    readout.train()
    readout(history, batch).square().sum().backward()
    with torch.no_grad():
        readout(history, batch)  # training mode: nothing kept
    fused.step()
    readout.eval()
    with torch.no_grad():
        assert torch.allclose(
            readout(history, batch), _readout_as_written(readout, history, batch), atol=1e-5
        )


def test_the_layer_list_reads_as_the_stacked_history() -> None:
    # The classifier passes its backbone's list of layers; the readout gives the same
    # numbers (and gradients) as on torch.stack of it, and checks the list's shapes.
    torch.manual_seed(9)
    readout = HistoGraphReadout(8, 4)
    layers = [torch.randn(7, 8, requires_grad=True) for _ in range(4)]
    batch = torch.tensor([0, 0, 0, 1, 1, 1, 1])
    from_list = readout(layers, batch)
    stacked = torch.stack(layers, dim=1)
    assert torch.allclose(from_list, readout(stacked, batch), atol=1e-6)
    assert torch.allclose(from_list, _readout_as_written(readout, stacked, batch), atol=1e-5)
    grads = torch.autograd.grad(from_list.square().sum(), layers)
    want = torch.autograd.grad(_readout_as_written(readout, stacked, batch).square().sum(), layers)
    assert all(torch.allclose(g, w, atol=1e-5) for g, w in zip(grads, want, strict=True))
    with pytest.raises(ValueError, match=r"4 layers of shape \(nodes, 8\)"):
        readout(layers[:3], batch)
    with pytest.raises(ValueError, match=r"4 layers of shape \(nodes, 8\)"):
        readout([*layers[:3], torch.randn(6, 8)], batch)


def test_eval_forwards_without_gradients_reuse_scratch_but_return_fresh_tensors() -> None:
    # In eval mode without gradients the intermediates are written into kept tensors;
    # outputs must still equal the equations, follow a change of batch shape, and never
    # be overwritten by the next forward.
    torch.manual_seed(10)
    readout = HistoGraphReadout(8, 4).eval()
    first = torch.randn(7, 4, 8), torch.tensor([0, 0, 0, 1, 1, 1, 1])
    second = torch.randn(9, 4, 8), torch.tensor([0, 1, 1, 1, 1, 1, 2, 2, 2])
    with torch.no_grad():
        out_first = readout(*first)
        mixed_first = readout.layers.mix(first[0], first[1], 2)
        kept = out_first.clone(), mixed_first.clone()
        out_second = readout(*second)
        readout.layers.mix(second[0], second[1], 3)
        assert torch.equal(out_first, kept[0]) and torch.equal(mixed_first, kept[1])
        assert torch.equal(readout(*first), out_first)
    assert torch.allclose(out_first, _readout_as_written(readout, *first), atol=1e-5)
    assert torch.allclose(out_second, _readout_as_written(readout, *second), atol=1e-5)
