"""Geometric-disentanglement projection, a plug-in for any gradient method.

Paper: Zhou et al., "Geometric-Disentanglement Unlearning" (GU, arXiv:2511.17100). To
first order the retain loss is unchanged by an update $\\Delta$ iff $\\Delta$ is
orthogonal to the span of the retain gradients $G = [g_{r,1}, \\dots, g_{r,k}]^\\top$
(``k x P``). GU keeps only the normal component of the forget update:

$$
g_\\perp = g_f - G^\\top (G G^\\top + \\lambda I)^{-1} G\\, g_f
$$

so that $G g_\\perp = 0$ (up to the ridge $\\lambda$). With plain SGD the
parameter update $-\\eta g_\\perp$ is then exactly retain-invariant to first
order; AdamW rescales coordinates, which keeps most but not all of that property.

It is an attachment, not a registered method: a gradient method (gradient ascent,
gradient difference, NPO, SimNPO, IdkPO) takes it through its ``projection``
parameter (``{"projection": {"retain_batches": 2}}``, typed by ``ProjectionParams``
in ``methods/_common.py``), and ``StepRunner`` there applies it every step; or call
``project_out`` directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

    from unlearn_llm.data import Batch


def project_out(vector: torch.Tensor, basis: torch.Tensor, ridge: float = 1e-10) -> torch.Tensor:
    """``vector`` minus its component in the row span of ``basis`` (``k x P``).

    The ``P``-sized work (``G g`` and ``G^T c``) stays in the vector's dtype, so a
    float32 gradient is never copied to float64; only the ``k x k`` Gram system is
    solved in float64. The result's inner product with every row of ``basis`` is then
    zero to the precision of that dtype (float64 inputs: ~1e-16 relative).
    """
    import torch

    if basis.ndim != 2 or basis.shape[1] != vector.numel():
        raise ValueError(
            f"basis must be (k, {vector.numel()}) to project a vector of {vector.numel()} "
            f"entries, got {tuple(basis.shape)}"
        )
    g = vector.reshape(-1)
    G = basis.to(g.dtype)
    gram = (G @ G.T).double()
    scale = float(gram.diagonal().mean()) or 1.0
    gram = gram + ridge * scale * torch.eye(G.shape[0], dtype=torch.float64, device=G.device)
    # lstsq tolerates collinear retain gradients (a singular Gram matrix).
    rhs = (G @ g).double().unsqueeze(1)
    coefficients = torch.linalg.lstsq(gram, rhs).solution.squeeze(1).to(g.dtype)
    projected = torch.addmv(g, G.T, coefficients, alpha=-1.0)
    return projected.view_as(vector)


def retain_gradient_basis(
    model: torch.nn.Module, parameters: Sequence[torch.nn.Parameter], batches: Sequence[Batch]
) -> torch.Tensor:
    """One flattened retain-NLL gradient per batch, stacked into a ``k x P`` matrix."""
    import torch

    from unlearn_llm.data import answer_nll

    rows = []
    for batch in batches:
        grads = torch.autograd.grad(answer_nll(model, batch), list(parameters))
        rows.append(torch.cat([g.reshape(-1) for g in grads]).detach())
    return torch.stack(rows)
