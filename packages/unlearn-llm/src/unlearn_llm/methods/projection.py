"""Geometric-disentanglement projection, a plug-in for any gradient method.

Paper: "Geometric-Disentanglement Unlearning" (GU). To first order the retain loss is
unchanged by an update :math:`\\Delta` iff :math:`\\Delta` is orthogonal to the span of
the retain gradients :math:`G = [g_{r,1}, \\dots, g_{r,k}]^\\top` (``k x P``). GU keeps
only the normal component of the forget update:

.. math::

    g_\\perp = g_f - G^\\top (G G^\\top + \\lambda I)^{-1} G\\, g_f

so that :math:`G g_\\perp = 0` (up to the ridge :math:`\\lambda`). With plain SGD the
parameter update :math:`-\\eta g_\\perp` is then exactly retain-invariant to first
order; AdamW rescales coordinates, which keeps most but not all of that property.

Attach it to a method through its ``projection`` parameter
(``{"projection": {"retain_batches": 2}}``), or call :func:`project_out` directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

    from unlearn_llm.data import Batch


def project_out(vector: torch.Tensor, basis: torch.Tensor, ridge: float = 1e-10) -> torch.Tensor:
    """``vector`` minus its component in the row span of ``basis`` (``k x P``).

    Solved in float64 through the ``k x k`` Gram matrix, so the result's inner
    product with every row of ``basis`` is zero to numerical precision.
    """
    import torch

    if basis.ndim != 2 or basis.shape[1] != vector.numel():
        raise ValueError(
            f"basis must be (k, {vector.numel()}) to project a vector of {vector.numel()} "
            f"entries, got {tuple(basis.shape)}"
        )
    g = vector.reshape(-1).double()
    G = basis.double()
    gram = G @ G.T
    scale = float(gram.diagonal().mean()) or 1.0
    gram = gram + ridge * scale * torch.eye(G.shape[0], dtype=torch.float64)
    # lstsq tolerates collinear retain gradients (a singular Gram matrix).
    coefficients = torch.linalg.lstsq(gram, (G @ g).unsqueeze(1)).solution.squeeze(1)
    projected = g - G.T @ coefficients
    return projected.to(vector.dtype).view_as(vector)


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
