"""SalUn: saliency-masked random labelling (Fan et al., arXiv:2310.12508, eqs. 5 to 7).

The weight saliency map is
$m_S = \\mathbb{1}(|\\nabla_\\theta \\ell_f(\\theta; D_f)|_{\\theta_o}| \\ge \\gamma)$,
with $\\ell_f$ the cross-entropy of the forget set at the original weights and
$\\gamma$ the threshold that keeps the ``saliency_share`` largest gradient magnitudes
over all weights (SalUn's default: half). Only salient weights move:
$\\theta_u = m_S \\odot (\\theta_o + \\Delta\\theta) + (1 - m_S) \\odot \\theta_o$,
trained on the random-label objective of `random_labels` (relabelled forget set plus
$\\alpha$ times the retain cross-entropy).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from pydantic import Field

from erase_diffusion.vision.methods.random_labels import RandomLabelsParams
from erase_diffusion.vision.methods.request import ClassForgetRequest

if TYPE_CHECKING:
    import torch
    from transformers import ViTForImageClassification


class SalUnParams(RandomLabelsParams):
    """Random labelling restricted to the salient weights."""

    saliency_share: float = Field(
        default=0.5, gt=0.0, le=1.0, description="Share of weights the mask keeps (1 - sparsity)."
    )


def saliency_mask(
    model: ViTForImageClassification, forget: tuple[torch.Tensor, torch.Tensor], share: float
) -> dict[str, torch.Tensor]:
    """$m_S$ per parameter name: 1 where $|\\nabla_\\theta \\mathrm{CE}(D_f)|$ is among the
    ``share`` largest of all weights (one threshold across layers)."""
    import torch

    model.zero_grad(set_to_none=True)
    torch.nn.functional.cross_entropy(model(pixel_values=forget[0]).logits, forget[1]).backward()
    grads = {n: p.grad.detach().abs() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    flat = torch.cat([g.flatten() for g in grads.values()])
    keep = max(1, round(share * flat.numel()))
    threshold = torch.topk(flat, keep).values.min()
    return {n: (g >= threshold).to(g.dtype) for n, g in grads.items()}


def forget_salun(
    model: ViTForImageClassification, request: ClassForgetRequest, params: SalUnParams
) -> ViTForImageClassification:
    """A copy of ``model`` trained on the random-label objective with every update masked
    by $m_S$ (the unsalient weights are reset to $\\theta_o$ after each step)."""
    import torch

    from erase_diffusion.vision.methods._loop import Batches, optimise
    from erase_diffusion.vision.methods.random_labels import relabelled_loss

    tuned = copy.deepcopy(model).train()
    generator = torch.Generator().manual_seed(params.seed)
    forget = Batches(request.forget, params.batch_size, generator)
    retain = Batches(request.retain, params.batch_size, generator)
    all_forget = (forget.images, forget.labels)
    mask = saliency_mask(tuned, all_forget, params.saliency_share)
    original = {n: p.detach().clone() for n, p in tuned.named_parameters()}
    named = dict(tuned.named_parameters())

    def loss_at(step: int) -> torch.Tensor:
        kept = retain.next() if len(retain) else None
        return relabelled_loss(tuned, forget.next(), kept, request, params.retain_weight, generator)

    def masked() -> None:
        with torch.no_grad():
            for name, m in mask.items():
                p = named[name]
                p.copy_(m * p + (1 - m) * original[name])

    optimise(tuned.parameters(), params.steps, params.learning_rate, loss_at, masked)
    return tuned.eval()
