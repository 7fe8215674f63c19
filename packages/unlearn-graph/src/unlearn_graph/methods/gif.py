"""GIF: a one-shot graph influence-function update of the parameters.

Wu, Yang, Qian, Gu, Zhang, "GIF: A General Graph Unlearning Strategy via Influence
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
training weight decay). $H^{-1}v$ is estimated with the LiSSA recursion
$h_{t+1} = v + (1-d)\\,h_t - H h_t / s$ (Hessian-vector products by double
backpropagation), and $H^{-1}v \\approx h_T / s$.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field
from unlearn_schema import MethodParams

if TYPE_CHECKING:
    from torch import Tensor

    from unlearn_graph.deletion import DeletionProblem
    from unlearn_graph.models import GraphModel


class GIFParams(MethodParams):
    """LiSSA estimate of the inverse-Hessian-vector product."""

    iterations: int = Field(default=100, ge=1, le=100_000)
    scale: float = Field(
        default=50.0, gt=0.0, le=1e9, description="s: must exceed the Hessian's top eigenvalue."
    )
    damping: float = Field(default=0.0, ge=0.0, lt=1.0, description="d")
    weight_decay: float = Field(default=5e-4, ge=0.0, le=1.0, description="μ")


def _summed_loss(
    model: Any,
    x: Tensor,
    edge_index: Tensor,
    elements: Tensor,
    labels: Tensor | None,
    negatives: Tensor | None,
    count: int,
) -> Tensor:
    from torch import nn

    z = model.embed(x, edge_index)
    if model.task == "node":
        assert labels is not None
        loss = nn.functional.cross_entropy(
            model.readout(z, elements), labels[elements], reduction="sum"
        )
    else:
        pos = model.readout(z, elements)
        loss = nn.functional.softplus(-pos).sum()
        if negatives is not None:
            loss = loss + nn.functional.softplus(model.readout(z, negatives)).sum()
    return loss / count


def gif(
    original: GraphModel,
    problem: DeletionProblem,
    params: GIFParams | None = None,
    seed: int = 0,
) -> GraphModel:
    """A copy of ``original`` after the GIF parameter update for ``problem``."""
    import copy

    import torch

    params = params or GIFParams()
    model: Any = copy.deepcopy(original).eval()
    weights = [p for p in model.parameters() if p.requires_grad]
    task = problem.task
    count = int(task.train_elements.shape[-1])
    negatives = None
    if model.task == "link":
        # One fixed set of random pairs for both losses: the negatives are not data, so
        # they must cancel out of the gradient difference.
        generator = torch.Generator().manual_seed(seed)
        negatives = torch.randint(0, task.num_nodes, (2, count), generator=generator)
    labels = problem.labels
    full = _summed_loss(
        model, task.x, task.edge_index, task.train_elements, labels, negatives, count
    )
    grad_full = torch.autograd.grad(full, weights)
    retained = _summed_loss(
        model, problem.x, problem.edge_index, problem.retained_elements, labels, negatives, count
    )
    grad_retained = torch.autograd.grad(retained, weights, create_graph=True)
    v = [a - b.detach() for a, b in zip(grad_full, grad_retained, strict=True)]
    h = [t.clone() for t in v]
    for _ in range(params.iterations):
        hessian_h = torch.autograd.grad(grad_retained, weights, grad_outputs=h, retain_graph=True)
        h = [
            vi + (1 - params.damping) * hi - (hv + params.weight_decay * hi) / params.scale
            for vi, hi, hv in zip(v, h, hessian_h, strict=True)
        ]
    with torch.no_grad():
        for weight, step in zip(weights, h, strict=True):
            weight.add_(step / params.scale)
    return model
