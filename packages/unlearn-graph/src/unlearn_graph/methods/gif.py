"""GIF: a one-shot graph influence-function update of the parameters.

Wu, Yang, Qian, Sui, Wang, He, "GIF: A General Graph Unlearning Strategy via Influence
Function" (WWW 2023, arXiv:2304.02835).

With $\\mathcal{L}_{\\mathcal{G}}(\\theta) =
\\frac{1}{n}\\sum_{e \\in \\mathcal{D}} \\ell(e; \\theta, \\mathcal{G})$ the training loss on
the original graph and $\\mathcal{L}_{\\mathcal{G}_r}$ the loss of the retained elements on
the retained graph (so the neighbours whose computation graph lost the deleted elements
contribute their changed losses), one Newton-type step

$$\\theta' = \\theta + H_{\\theta}^{-1}\\big(\\nabla_\\theta \\mathcal{L}_{\\mathcal{G}}(\\theta) -
\\nabla_\\theta \\mathcal{L}_{\\mathcal{G}_r}(\\theta)\\big),\\qquad
H_\\theta = \\nabla^2_\\theta \\mathcal{L}_{\\mathcal{G}_r}(\\theta) + \\mu I$$

moves the parameters towards the optimum of the retained objective ($\\mu$ is the
training weight decay). Only elements whose loss differs between $\\mathcal{G}$ and
$\\mathcal{G}_r$ contribute to the gradient difference $v$: the deleted elements and the
retained elements with a node within $L$ hops of a changed node (the neighbours'
influence; a sample of ``neighbour_sample`` of them, reweighted to their total). Every
loss is computed on its elements' receptive field only
(`unlearn_graph.models.ComputationPlan`).

$H^{-1}v$ is solved with a few Hessian-vector products (double backpropagation) of the
retained loss on a sample of ``hessian_sample`` retained elements, either by conjugate
gradient on $H + \\lambda I$ (``solver="cg"``, the default; it stops at negative
curvature) or by the LiSSA recursion $h_{t+1} = v + (1-d)\\,h_t - (H+\\lambda I) h_t / s$,
$H^{-1}v \\approx h_T / s$. A non-convex loss makes the solved step overshoot along
directions of tiny curvature, so the step is halved (up to ``line_search_steps`` times)
while it raises the retained loss on a second, independent sample of retained elements
by more than ``line_search_tolerance`` (relative; ``model.gif_step_fraction`` records
the fraction kept).
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import Tensor, nn

from unlearn_graph.deletion import DeletionProblem, nodes_within
from unlearn_graph.methods.params import GIFParams
from unlearn_graph.models import ComputationPlan, GraphModel, embed_on_plan

__all__ = ["GIFParams", "gif"]


def _summed_loss(
    model: Any,
    x: Tensor,
    edge_index: Tensor,
    elements: Tensor,
    labels: Tensor | None,
    negatives: Tensor | None,
) -> Tensor:
    """Summed loss of ``elements`` (and their paired random ``negatives`` for links),
    computed on the elements' receptive field only (exact there)."""
    if elements.shape[-1] == 0:
        return x.new_zeros(())
    link = model.task == "link"
    everything = torch.cat([elements, negatives], 1) if link and negatives is not None else elements
    nodes = torch.unique(everything.reshape(-1))
    row = torch.full((x.shape[0],), -1, dtype=torch.long)
    row[nodes] = torch.arange(nodes.numel())
    z = embed_on_plan(model, x, ComputationPlan(model, edge_index, x.shape[0], nodes))
    if not link:
        assert labels is not None
        return nn.functional.cross_entropy(
            model.readout(z, row[elements]), labels[elements], reduction="sum"
        )
    loss = nn.functional.softplus(-model.readout(z, row[elements])).sum()
    if negatives is not None:
        loss = loss + nn.functional.softplus(model.readout(z, row[negatives])).sum()
    return loss


def _pick(elements: Tensor, count: int, generator: torch.Generator) -> Tensor:
    order = torch.randperm(elements.shape[-1], generator=generator)[:count]
    return elements[..., order]


def gif(
    original: GraphModel, problem: DeletionProblem, params: GIFParams, *, seed: int = 0
) -> GraphModel:
    """A copy of ``original`` after the GIF parameter update for ``problem``."""
    model: Any = copy.deepcopy(original).eval()
    weights = [p for p in model.parameters() if p.requires_grad]
    task = problem.task
    n = task.num_nodes
    link = model.task == "link"
    count = int(task.train_elements.shape[-1])
    generator = torch.Generator().manual_seed(seed)
    labels = problem.labels

    def negatives_for(elements: Tensor) -> Tensor | None:
        # Link losses pair each positive with a random pair; the pairs are drawn once and
        # used on both graphs, so they cancel from v wherever nothing changed.
        if not link:
            return None
        return torch.randint(0, n, elements.shape, generator=generator)

    # Elements whose loss differs between G and G_r: the deleted ones, and retained ones
    # with a node within L hops of a changed node (their computation graph lost something).
    near = torch.from_numpy(
        nodes_within(task.edges.numpy(), n, problem.affected_nodes.numpy(), model.num_layers)
    )
    retained = problem.retained_elements
    close = (near[retained[0]] | near[retained[1]]) if link else near[retained]
    changed = retained[..., close]
    sampled = _pick(changed, params.neighbour_sample, generator)
    weight = changed.shape[-1] / max(1, sampled.shape[-1])  # unbiased sum over `changed`
    deleted = problem.deleted_elements
    negatives_deleted, negatives_sampled = negatives_for(deleted), negatives_for(sampled)
    on_full = _summed_loss(
        model, task.x, task.edge_index, deleted, labels, negatives_deleted
    ) + weight * _summed_loss(model, task.x, task.edge_index, sampled, labels, negatives_sampled)
    on_retained = weight * _summed_loss(
        model, problem.x, problem.edge_index, sampled, labels, negatives_sampled
    )
    difference = (on_full - on_retained) / count
    v = [
        g if g is not None else torch.zeros_like(w)
        for g, w in zip(
            torch.autograd.grad(difference, weights, allow_unused=True), weights, strict=True
        )
    ]
    # Hessian of the retained objective (1/n) sum_{D_r} l, estimated on a sample.
    hessian_elements = _pick(retained, params.hessian_sample, generator)
    hessian_weight = retained.shape[-1] / (count * hessian_elements.shape[-1])
    hessian_negatives = negatives_for(hessian_elements)
    retained_loss = hessian_weight * _summed_loss(
        model, problem.x, problem.edge_index, hessian_elements, labels, hessian_negatives
    )
    gradient = torch.autograd.grad(retained_loss, weights, create_graph=True)
    shift = params.weight_decay + params.regularisation

    def hvp(vector: list[Tensor]) -> list[Tensor]:
        product = torch.autograd.grad(gradient, weights, grad_outputs=vector, retain_graph=True)
        return [hv + shift * t for hv, t in zip(product, vector, strict=True)]

    def dot(a: list[Tensor], b: list[Tensor]) -> Tensor:
        return sum(((p * q).sum() for p, q in zip(a, b, strict=True)), v[0].new_zeros(()))

    if params.solver == "cg":
        step = [torch.zeros_like(t) for t in v]
        residual = [t.clone() for t in v]
        direction = [t.clone() for t in v]
        norm = dot(residual, residual)
        for _ in range(params.iterations):
            product = hvp(direction)
            curvature = dot(direction, product)
            if curvature <= 0:  # negative curvature of a non-convex loss: stop here
                break
            alpha = norm / curvature
            step = [s_ + alpha * d for s_, d in zip(step, direction, strict=True)]
            residual = [r - alpha * q for r, q in zip(residual, product, strict=True)]
            new_norm = dot(residual, residual)
            if new_norm.sqrt() < 1e-6 * dot(v, v).sqrt():
                break
            direction = [
                r + (new_norm / norm) * d for r, d in zip(residual, direction, strict=True)
            ]
            norm = new_norm
    else:
        h = [t.clone() for t in v]
        for _ in range(params.iterations):
            product = hvp(h)
            h = [
                vi + (1 - params.damping) * hi - hv / params.scale
                for vi, hi, hv in zip(v, h, product, strict=True)
            ]
        step = [t / params.scale for t in h]

    # Damped Newton: halve the step while it raises the retained objective instead of
    # lowering it. A non-convex loss can make the solved step overshoot along directions
    # of tiny curvature, and a step fitted to the Hessian sample can overfit it, so the
    # check uses a second, independent sample of retained elements.
    check_elements = _pick(retained, params.hessian_sample, generator)
    check_negatives = negatives_for(check_elements)

    def retained_objective() -> float:
        with torch.no_grad():
            return float(
                _summed_loss(
                    model, problem.x, problem.edge_index, check_elements, labels, check_negatives
                )
            )

    reference = retained_objective()
    fraction = 1.0
    with torch.no_grad():
        for parameter, delta in zip(weights, step, strict=True):
            parameter.add_(delta.detach())
    for _ in range(params.line_search_steps):
        if retained_objective() <= reference * (1 + params.line_search_tolerance):
            break
        fraction /= 2
        with torch.no_grad():
            for parameter, delta in zip(weights, step, strict=True):
                parameter.sub_(fraction * delta.detach())
    model.gif_step_fraction = fraction
    return model
