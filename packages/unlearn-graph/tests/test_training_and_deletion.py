from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from unlearn_graph.deletion import (
    apply_requests,
    nodes_within,
    sample_edge_deletion,
    sample_node_deletion,
)
from unlearn_graph.metrics import accuracy, link_auroc
from unlearn_graph.training import minimise, predict
from unlearn_schema.requests import (
    EdgeDeletionRequest,
    NodeDeletionRequest,
    NodeFeatureDeletionRequest,
    TextForgetRequest,
    TextSample,
)


@pytest.mark.parametrize("backbone", ["gcn", "sage", "gat", "gin"])
def test_every_backbone_learns_both_tasks(
    trained: Any, backbone: str, node_task: Any, link_task: Any
) -> None:
    node = trained(node_task, backbone, epochs=40)
    p = predict(node, node_task.x, node_task.edge_index, node_task.test_idx).numpy()
    assert accuracy(p, node_task.y[node_task.test_idx].numpy()) > 0.6  # chance is 0.25
    link = trained(link_task, backbone, epochs=40)
    pos = predict(link, link_task.x, link_task.edge_index, link_task.test_pos).numpy()
    neg = predict(link, link_task.x, link_task.edge_index, link_task.test_neg).numpy()
    assert link_auroc(pos, neg) > 0.6


def test_training_is_reproducible_from_the_seed(trained: Any, link_task: Any) -> None:
    a, b = trained(link_task, epochs=5, seed=3), trained(link_task, epochs=5, seed=3)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


def test_errors_name_the_bad_value_before_any_training(link_task: Any, node_task: Any) -> None:
    n = link_task.num_nodes
    with pytest.raises(ValueError, match=rf"node {n} is out of range.*{n} nodes"):
        apply_requests(link_task, [NodeDeletionRequest(nodes=[n])])
    u, v = (int(t) for t in link_task.test_pos[:, 0])
    with pytest.raises(ValueError, match=rf"edge \({u}, {v}\) is a held-out test edge"):
        apply_requests(link_task, [EdgeDeletionRequest(edges=[(u, v)])])
    with pytest.raises(ValueError, match=r"edge \(0, 0\) does not exist"):
        apply_requests(link_task, [EdgeDeletionRequest(edges=[(0, 0)])])
    everything = [(int(a), int(b)) for a, b in link_task.edges.t()]
    with pytest.raises(ValueError, match=r"delete all .* training edges"):
        apply_requests(link_task, [EdgeDeletionRequest(edges=everything)])
    with pytest.raises(ValueError, match=r"delete all .* training nodes"):
        apply_requests(node_task, [NodeDeletionRequest(nodes=node_task.train_idx.tolist())])
    with pytest.raises(ValueError, match="feature column 99 is out of range"):
        apply_requests(node_task, [NodeFeatureDeletionRequest(nodes=[0], features=[99])])
    with pytest.raises(ValueError, match="accepted kinds: graph_edges"):
        apply_requests(node_task, [TextForgetRequest(samples=[TextSample(text="x")])])
    with pytest.raises(ValueError, match="undirected"):
        apply_requests(link_task, [EdgeDeletionRequest(edges=everything[:1], undirected=False)])


def test_deletion_removes_edges_nodes_and_features(link_task: Any, node_task: Any) -> None:
    edge = tuple(int(t) for t in link_task.edges[:, 0])
    problem = apply_requests(link_task, [EdgeDeletionRequest(edges=[(edge[1], edge[0])])])
    assert problem.deleted_elements.t().tolist() == [list(edge)]
    assert problem.edges.shape[1] == link_task.edges.shape[1] - 1
    node = int(node_task.train_idx[0])
    problem = apply_requests(node_task, [NodeDeletionRequest(nodes=[node])])
    assert problem.deleted_elements.tolist() == [node]
    assert node not in problem.retained_elements.tolist()
    assert not (problem.edges == node).any()  # every edge touching it is gone
    problem = apply_requests(node_task, [NodeFeatureDeletionRequest(nodes=[node], features=[1])])
    assert problem.x[node, 1] == 0 and problem.x[node, 0] == node_task.x[node, 0]
    assert problem.num_deleted == 0 and problem.feature_nodes.tolist() == [node]
    with pytest.raises(ValueError, match=r"D2DGN needs deleted training elements.*use GNNDelete"):
        problem.require_deleted_elements("D2DGN")


def test_in_and_out_sampling_follow_the_two_hop_rule(sparse_link_task: Any) -> None:
    link_task = sparse_link_task
    edges = link_task.edges.numpy()
    sources = np.unique(link_task.test_pos.numpy().reshape(-1))
    near = nodes_within(edges, link_task.num_nodes, sources, 2)
    inside = sample_edge_deletion(link_task, 5, "in", seed=0)
    assert all(near[u] and near[v] for u, v in inside.edges)
    outside = sample_edge_deletion(link_task, 5, "out", seed=0)
    assert all(not (near[u] and near[v]) for u, v in outside.edges)
    assert sample_edge_deletion(link_task, 5, "in", seed=0) == inside
    with pytest.raises(ValueError, match=r"only .* training edges lie"):
        sample_edge_deletion(link_task, 10**6, "in")
    request = sample_node_deletion(link_task, 3, seed=1)
    assert len(request.nodes) == 3


def test_nodes_within_counts_hops() -> None:
    path = np.array([[0, 1, 2, 3], [1, 2, 3, 4]])
    assert nodes_within(path, 5, np.array([0]), 2).tolist() == [True, True, True, False, False]


@pytest.mark.parametrize("backbone", ["gcn", "sage", "gat", "gin"])
def test_computation_plan_gives_the_full_graph_embeddings(backbone: str, link_task: Any) -> None:
    from unlearn_graph.config import BackboneConfig
    from unlearn_graph.models import ComputationPlan, build_model, embed_on_plan, plan_inputs

    config = BackboneConfig(backbone=backbone, hidden=16, num_layers=3)  # type: ignore[arg-type]
    model = build_model(link_task.x.shape[1], config, "link", None, 0).eval()
    targets = torch.tensor([5, 3, 5, 120])
    n, edge_index = link_task.num_nodes, link_task.edge_index
    with torch.no_grad():
        full = model.embed(link_task.x, edge_index)[targets]
        for start in (0, 2):
            plan = ComputationPlan(model, edge_index, n, targets, start_layer=start)
            inputs = plan_inputs(model, link_task.x, edge_index, plan)
            assert torch.allclose(embed_on_plan(model, inputs, plan), full, atol=1e-5)
            # every layer computes only the rows that the next one reads
            assert plan.sizes == sorted(plan.sizes, reverse=True)
            assert plan.sizes[-1] == 3


def test_minimise_takes_adam_steps_on_the_loss_it_is_given() -> None:
    weight = torch.nn.Parameter(torch.tensor([3.0]))
    after: list[float] = []
    losses = minimise(
        lambda: (weight**2).sum(), [weight], 50, 0.1, after_step=lambda: after.append(1.0)
    )
    assert len(losses) == len(after) == 50
    assert losses[0] == 9.0 and losses[-1] < 1.0 and abs(float(weight)) < 1.0
