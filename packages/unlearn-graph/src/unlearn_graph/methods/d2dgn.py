"""D2DGN: distill to delete, with a preserver and a destroyer teacher.

Sinha, Mandal, Kahveci, Zhang, "Distill to Delete: Unlearning in Graph Networks with
Knowledge Distillation" (arXiv:2309.16173).

A student (initialised from the trained model) runs on the retained graph and is
distilled from two teachers: the *preserver* (the trained model, frozen) on the retained
elements $\\mathcal{D}_r$ and the *destroyer* (a freshly initialised model, which knows
nothing, ``destroyer="fresh"``) or a *negatively trained* copy of the trained model
(``destroyer="negative"``, the default: a few epochs teaching it that deleted edges are
non-edges, or uniform class probabilities for deleted nodes) on the deleted elements
$\\mathcal{D}_f$. With a dot-product link decoder a fresh GNN still scores adjacent nodes
as linked (message passing makes neighbours similar), which is why the negative
destroyer is the default for links:

$$\\mathcal{L} = \\mathrm{KL}(p^{P}_{r} \\,\\|\\, p^{S}_{r}) + \\beta\\,\\mathrm{MSE}(h^S_r, h^P_r)
 + \\gamma\\,[\\mathrm{KL}(p^{D}_{f} \\,\\|\\, p^{S}_{f}) + \\beta\\,\\mathrm{MSE}(h^S_f, h^D_f)]$$

with response-based soft targets $p = \\mathrm{softmax}(\\text{logits}/\\tau)$ (Bernoulli
$\\sigma(s/\\tau)$ for links, over the element and as many random pairs) and feature-based
terms on the node embeddings $h$ of the elements' nodes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field
from unlearn_schema import MethodParams

if TYPE_CHECKING:
    from torch import Tensor

    from unlearn_graph.deletion import DeletionProblem
    from unlearn_graph.models import GraphModel


class D2DGNParams(MethodParams):
    """Distillation schedule and loss weights."""

    # Short and gentle by default: longer or stronger distillation from the destroyer
    # over-forgets and costs retained utility (measured on the quick CSBM).
    epochs: int = Field(default=10, ge=1, le=10_000)
    lr: float = Field(default=0.002, gt=0.0, le=1.0)
    temperature: float = Field(default=1.0, gt=0.0, le=100.0)
    feature_weight: float = Field(default=1.0, ge=0.0, le=1000.0, description="β")
    deleted_weight: float = Field(default=0.1, ge=0.0, le=1000.0, description="γ")
    destroyer: Literal["negative", "fresh"] = "negative"
    destroyer_epochs: int = Field(default=5, ge=0, le=10_000)
    retained_sample: int = Field(
        default=4096, ge=1, le=10_000_000, description="Retained elements drawn per epoch."
    )


def _kl(teacher_logits: Tensor, student_logits: Tensor, task: str, temperature: float) -> Tensor:
    import torch
    from torch import nn

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


def _negatively_trained(
    original: GraphModel, problem: DeletionProblem, params: D2DGNParams, seed: int
) -> GraphModel:
    """A copy of the trained model taught that the deleted elements are absent."""
    import copy

    import torch
    from torch import nn

    torch.manual_seed(seed)
    model: Any = copy.deepcopy(original)
    optimizer = torch.optim.Adam(model.parameters(), lr=params.lr)
    model.train()
    for _ in range(params.destroyer_epochs):
        optimizer.zero_grad()
        logits = model.score(problem.x, problem.edge_index, problem.deleted_elements)
        if model.task == "node":
            # No label is the "absence" of a node: aim at the uniform distribution.
            loss = -torch.log_softmax(logits, -1).mean()
        else:
            loss = nn.functional.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits))
        loss.backward()
        optimizer.step()
    return model.eval()


def d2dgn(
    original: GraphModel,
    problem: DeletionProblem,
    params: D2DGNParams | None = None,
    seed: int = 0,
) -> GraphModel:
    """Distil a student from the preserver (retained) and a destroyer (deleted)."""
    import copy

    import torch
    from torch import nn

    from unlearn_graph.models import fresh_copy

    params = params or D2DGNParams()
    if problem.num_deleted == 0:
        raise ValueError(
            "D2DGN needs deleted training elements; these requests delete none "
            "(feature or structure only): use GNNDelete, GIF or retraining"
        )
    x, edge_index, task = problem.x, problem.edge_index, problem.kind
    preserver = original.eval()
    if params.destroyer == "fresh":
        destroyer = fresh_copy(original, seed + 7919).eval()
    else:
        destroyer = _negatively_trained(original, problem, params, seed)
    with torch.no_grad():
        z_preserver = preserver.embed(x, edge_index)
        z_destroyer = destroyer.embed(x, edge_index)
    student = copy.deepcopy(original)
    student.train()
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(student.parameters(), lr=params.lr)
    retained, deleted = problem.retained_elements, problem.deleted_elements
    n = problem.task.num_nodes

    def with_negatives(elements: Tensor) -> Tensor:
        if task == "node":
            return elements
        return torch.cat([elements, torch.randint(0, n, elements.shape, generator=generator)], 1)

    def nodes_of(elements: Tensor) -> Tensor:
        return elements if task == "node" else elements.reshape(-1)

    def distill(z: Tensor, z_teacher: Tensor, teacher: Any, elements: Tensor) -> Tensor:
        with torch.no_grad():
            teacher_logits = teacher.readout(z_teacher, elements)
        response = _kl(teacher_logits, student.readout(z, elements), task, params.temperature)
        nodes = nodes_of(elements)
        feature = nn.functional.mse_loss(z[nodes], z_teacher[nodes])
        return response + params.feature_weight * feature

    for _ in range(params.epochs):
        optimizer.zero_grad()
        count = retained.shape[-1]
        pick = torch.randperm(count, generator=generator)[: params.retained_sample]
        batch = retained[pick] if task == "node" else retained[:, pick]
        z = student.embed(x, edge_index)
        loss = distill(z, z_preserver, preserver, with_negatives(batch))
        loss = loss + params.deleted_weight * distill(
            z, z_destroyer, destroyer, with_negatives(deleted)
        )
        loss.backward()
        optimizer.step()
    student.eval()
    return student
