from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor
from unlearn_graph.attacks.relearning import RelearningParams, forget_accuracy, relearn
from unlearn_graph.benchmarks._attack_audit import AttackAudit
from unlearn_graph.deletion import apply_requests, sample_edge_deletion
from unlearn_graph.methods.gnndelete import gnndelete
from unlearn_graph.methods.params import GNNDeleteParams
from unlearn_graph.training import predict
from unlearn_schema.requests import NodeDeletionRequest


def _parameters(model: Any) -> list[Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def _node_problem(node_task: Any) -> Any:
    deleted = node_task.train_idx[:8].tolist()
    return apply_requests(node_task, [NodeDeletionRequest(nodes=deleted)])


def test_zero_steps_is_a_no_op_and_the_input_model_is_never_touched(
    node_task: Any, node_model: Any
) -> None:
    problem = _node_problem(node_task)
    before = _parameters(node_model)
    everything = torch.arange(node_task.num_nodes)
    untouched = relearn(node_model, problem, steps=0)
    assert untouched is not node_model
    assert torch.equal(
        predict(untouched, problem.x, problem.edge_index, everything),
        predict(node_model, problem.x, problem.edge_index, everything),
    )
    relearned = relearn(node_model, problem, steps=5, learning_rate=0.05)
    assert all(torch.equal(a, b) for a, b in zip(before, _parameters(node_model), strict=True))
    moved = [not torch.equal(a, b) for a, b in zip(before, _parameters(relearned), strict=True)]
    assert all(moved)


def test_relearning_never_reads_the_deleted_elements(node_task: Any, node_model: Any) -> None:
    """The same retained data with other labels on the deleted nodes (and another list of
    deleted elements) gives bit-identical relearned weights."""
    problem = _node_problem(node_task)
    deleted = problem.deleted_elements
    y = node_task.y.clone()
    y[deleted] = (y[deleted] + 1) % node_task.num_classes
    other_task = dataclasses.replace(node_task, y=y)
    other = dataclasses.replace(problem, task=other_task, deleted_elements=deleted[:2])
    first = relearn(node_model, problem, steps=4, seed=1)
    second = relearn(node_model, other, steps=4, seed=1)
    for a, b in zip(_parameters(first), _parameters(second), strict=True):
        assert torch.equal(a, b)


def test_a_frozen_backbone_is_fine_tuned_too_and_steps_are_reported(
    link_task: Any, link_model: Any
) -> None:
    problem = apply_requests(link_task, [sample_edge_deletion(link_task, 10, "in", seed=0)])
    unlearned = gnndelete(link_model, problem, GNNDeleteParams(epochs=3), seed=0)
    backbone = _parameters(unlearned.backbone)
    seen: list[int] = []
    relearned = relearn(
        unlearned, problem, steps=3, learning_rate=0.01, after_step=lambda k, _: seen.append(k)
    )
    assert seen == [1, 2, 3]
    assert not all(
        torch.equal(a, b) for a, b in zip(backbone, _parameters(relearned.backbone), strict=True)
    )
    assert not any(p.requires_grad for p in unlearned.backbone.parameters())
    assert RelearningParams().steps == 20
    with pytest.raises(ValueError, match="steps must be at least 0, got -1"):
        relearn(unlearned, problem, steps=-1)


class _Fixed:
    """A scorer returning fixed logits, whatever the graph."""

    def __init__(self, task: str, logits: Tensor) -> None:
        self.task, self.logits = task, logits

    def score(self, x: Tensor, edge_index: Tensor, elements: Tensor) -> Tensor:
        if self.task == "node":
            return self.logits[elements]
        return self.logits[: elements.shape[1]]


def test_forget_accuracy_by_hand(node_task: Any, link_task: Any) -> None:
    problem = _node_problem(node_task)
    deleted = problem.deleted_elements
    logits = torch.zeros(node_task.num_nodes, node_task.num_classes)
    logits[torch.arange(node_task.num_nodes), node_task.y] = 5.0  # always right ...
    wrong = deleted[:2]  # ... except on two of the eight deleted nodes
    logits[wrong] = 0.0
    logits[wrong, (node_task.y[wrong] + 1) % node_task.num_classes] = 5.0
    assert forget_accuracy(_Fixed("node", logits), problem) == pytest.approx(6 / 8)
    edges = apply_requests(link_task, [sample_edge_deletion(link_task, 4, "in", seed=0)])
    link_logits = torch.tensor([3.0, -3.0, 0.5, -0.1])
    assert forget_accuracy(_Fixed("link", link_logits), edges) == pytest.approx(2 / 4)


def test_the_audit_anchors_negatives_on_the_deleted_node(node_task: Any, node_model: Any) -> None:
    problem = _node_problem(node_task)
    audit = AttackAudit(
        problem,
        relearn_steps=[3, 1],
        learning_rate=0.01,
        negatives_per_edge=2,
        profile_anchors=8,
        metric="correlation",
        seed=0,
    )
    dead = set(problem.deleted_nodes.tolist())
    assert set(audit.positives[0].tolist()) <= dead
    assert audit.negatives.shape[1] == 2 * audit.positives.shape[1]
    assert np.array_equal(audit.negatives[0], np.repeat(audit.positives[0], 2))
    keys = set((node_task.edges[0] * 10_000 + node_task.edges[1]).tolist())
    low = np.minimum(*audit.negatives)
    high = np.maximum(*audit.negatives)
    assert not keys & set((low * 10_000 + high).tolist())
    measured = audit.evaluate(node_model)
    assert 0.0 <= measured["link_stealing_auc"] <= 1.0 and "forget_accuracy" in measured
    trace = audit.relearning(node_model)
    assert sorted(trace) == [1, 3] and "link_stealing_auc" in trace[3]


def test_the_audit_forget_accuracy_is_the_one_forget_accuracy_gives(
    node_task: Any, node_model: Any, link_task: Any, link_model: Any
) -> None:
    """The audit reads the forget accuracy off its attack queries; same value."""
    link_problem = apply_requests(link_task, [sample_edge_deletion(link_task, 12, "in", seed=1)])
    for problem, model in ((_node_problem(node_task), node_model), (link_problem, link_model)):
        audit = AttackAudit(
            problem,
            relearn_steps=[],
            learning_rate=0.01,
            negatives_per_edge=1,
            profile_anchors=8,
            metric="cosine",
            seed=0,
        )
        measured = audit.evaluate(model)
        assert measured["forget_accuracy"] == pytest.approx(forget_accuracy(model, problem))
        assert audit.relearning(model) == {}
    assert np.array_equal(audit.positives, link_problem.deleted_elements.numpy())
    assert "link_query_auc" in measured
