"""D2DGN: distill to delete, with a preserver and a destroyer teacher.

Sinha, Mandal, Kankanhalli, "Distill to Delete: Unlearning in Graph Networks with
Knowledge Distillation" (arXiv:2309.16173).

A student (initialised from the trained model) runs on the retained graph and is
distilled from two teachers: the *preserver* (the trained model, frozen) on the retained
elements $\\mathcal{D}_r$ and the *destroyer* (a freshly initialised model, which knows
nothing, ``destroyer="fresh"``) or a *negatively trained* copy of the trained model
(``destroyer="negative"``, the default: a few steps teaching its last layer that
deleted edges are non-edges, or uniform class probabilities for deleted nodes) on the
deleted elements
$\\mathcal{D}_f$. With a dot-product link decoder a fresh GNN still scores adjacent nodes
as linked (message passing makes neighbours similar), which is why the negative
destroyer is the default for links:

$$\\mathcal{L} = \\mathrm{KL}(p^{P}_{r} \\,\\|\\, p^{S}_{r}) + \\beta\\,\\mathrm{MSE}(h^S_r, h^P_r)
 + \\gamma\\,[\\mathrm{KL}(p^{D}_{f} \\,\\|\\, p^{S}_{f}) + \\beta\\,\\mathrm{MSE}(h^S_f, h^D_f)]$$

with response-based soft targets $p = \\mathrm{softmax}(\\text{logits}/\\tau)$ (Bernoulli
$\\sigma(s/\\tau)$ for links, over the element and as many random pairs) and feature-based
terms on the node embeddings $h$ of the elements' nodes.

Cost: the retained term uses one sample of ``retained_sample`` elements drawn at the
start, so the teachers are evaluated once and the student runs every epoch only on the
receptive field of the sampled and deleted elements
(`unlearn_graph.models.ComputationPlan`, exact embeddings there). The negative
destroyer trains only its last layer, with the layers below computed once.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import Tensor, nn

from unlearn_graph.deletion import DeletionProblem
from unlearn_graph.methods.params import D2DGNParams
from unlearn_graph.models import ComputationPlan, GraphModel, embed_on_plan, fresh_copy, plan_inputs
from unlearn_graph.training import minimise

__all__ = ["D2DGNParams", "d2dgn"]


def _kl(teacher_logits: Tensor, student_logits: Tensor, task: str, temperature: float) -> Tensor:
    if task == "node":
        return nn.functional.kl_div(
            torch.log_softmax(student_logits / temperature, -1),
            torch.log_softmax(teacher_logits / temperature, -1),
            log_target=True,
            reduction="batchmean",
        )
    p = torch.sigmoid(teacher_logits / temperature).clamp(1e-6, 1 - 1e-6)
    log_q = nn.functional.logsigmoid(student_logits / temperature)
    log_not_q = nn.functional.logsigmoid(-student_logits / temperature)
    return (p * (p.log() - log_q) + (1 - p) * ((1 - p).log() - log_not_q)).mean()


def _with_negatives(
    elements: Tensor, task: str, num_nodes: int, generator: torch.Generator
) -> Tensor:
    """Link elements followed by as many random pairs (the Bernoulli targets need both)."""
    if task == "node":
        return elements
    return torch.cat(
        [elements, torch.randint(0, num_nodes, elements.shape, generator=generator)], 1
    )


def _nodes_of(elements: Tensor, task: str) -> Tensor:
    return torch.unique(elements if task == "node" else elements.reshape(-1))


def _negatively_trained(
    original: GraphModel, problem: DeletionProblem, elements: Tensor, params: D2DGNParams
) -> tuple[GraphModel, Tensor, Tensor]:
    """A copy of the trained model taught that the deleted ``elements`` are absent.

    Only its last layer (and class head) moves, on the receptive field of the deleted
    elements, with the layers below computed once: a cheap destroyer. Returns the model,
    the nodes of ``elements`` and the destroyer's embeddings of those nodes.
    """
    model: Any = copy.deepcopy(original).eval()
    n = problem.task.num_nodes
    nodes = _nodes_of(elements, model.task)
    row = torch.full((n,), -1, dtype=torch.long)
    row[nodes] = torch.arange(nodes.numel())
    local = row[elements]
    plan = ComputationPlan(model, problem.edge_index, n, nodes, model.num_layers - 1)
    inputs = plan_inputs(model, problem.x, problem.edge_index, plan)
    trainable = list(model.convs[-1].parameters())
    if model.head is not None:
        trainable += list(model.head.parameters())

    def absence_loss() -> Tensor:
        logits = model.readout(embed_on_plan(model, inputs, plan), local)
        if model.task == "node":
            # No label is the "absence" of a node: aim at the uniform distribution.
            return -torch.log_softmax(logits, -1).mean()
        return nn.functional.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits))

    minimise(absence_loss, trainable, params.destroyer_epochs, params.destroyer_learning_rate)
    with torch.no_grad():
        z = embed_on_plan(model, inputs, plan)
    return model, nodes, z


def d2dgn(
    original: GraphModel, problem: DeletionProblem, params: D2DGNParams, *, seed: int = 0
) -> GraphModel:
    """Distil a student from the preserver (retained) and a destroyer (deleted)."""
    problem.require_deleted_elements("D2DGN")
    x, edge_index, task = problem.x, problem.edge_index, problem.kind
    n = problem.task.num_nodes
    generator = torch.Generator().manual_seed(seed)
    # One sample of the retained elements (and fixed random pairs for links) for the
    # whole run: the teachers are evaluated once, and every epoch runs the student on
    # the same receptive field only (ComputationPlan, exact embeddings there).
    retained = problem.retained_elements
    pick = torch.randperm(retained.shape[-1], generator=generator)[: params.retained_sample]
    retained = _with_negatives(retained[..., pick], task, n, generator)
    deleted = _with_negatives(problem.deleted_elements, task, n, generator)
    preserver = original.eval()
    if params.destroyer == "fresh":
        destroyer: Any = fresh_copy(original, seed + 7919).eval()
        deleted_nodes = _nodes_of(deleted, task)
        with torch.no_grad():
            plan = ComputationPlan(destroyer, edge_index, n, deleted_nodes)
            z_destroyed = embed_on_plan(destroyer, x, plan)
    else:
        destroyer, deleted_nodes, z_destroyed = _negatively_trained(
            original, problem, deleted, params
        )
    nodes = torch.unique(torch.cat([_nodes_of(retained, task), deleted_nodes]))
    row = torch.full((n,), -1, dtype=torch.long)
    row[nodes] = torch.arange(nodes.numel())
    local_retained, local_deleted = row[retained], row[deleted]
    plan = ComputationPlan(original, edge_index, n, nodes)
    with torch.no_grad():
        z_preserver = embed_on_plan(preserver, x, plan)
        z_destroyer = torch.zeros_like(z_preserver)
        z_destroyer[row[deleted_nodes]] = z_destroyed
        logits_preserver = preserver.readout(z_preserver, local_retained)
        logits_destroyer = destroyer.readout(z_destroyer, local_deleted)
    retained_rows = _nodes_of(local_retained, task)
    deleted_rows = _nodes_of(local_deleted, task)
    student = copy.deepcopy(original)
    mse = nn.functional.mse_loss

    def distillation_loss() -> Tensor:
        z = embed_on_plan(student, x, plan)
        keep = _kl(logits_preserver, student.readout(z, local_retained), task, params.temperature)
        keep = keep + params.feature_weight * mse(z[retained_rows], z_preserver[retained_rows])
        forget = _kl(logits_destroyer, student.readout(z, local_deleted), task, params.temperature)
        forget = forget + params.feature_weight * mse(z[deleted_rows], z_destroyer[deleted_rows])
        return keep + params.deleted_weight * forget

    student.train()
    minimise(distillation_loss, student.parameters(), params.epochs, params.learning_rate)
    student.eval()
    return student
