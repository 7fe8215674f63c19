"""Gradient ascent: maximise the cross-entropy of the forget set (no retain term)."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from pydantic import Field

from erase_diffusion.vision.methods.params import StepParams
from erase_diffusion.vision.methods.request import ClassForgetRequest

if TYPE_CHECKING:
    from transformers import ViTForImageClassification


class GradientAscentParams(StepParams):
    """Few, small steps: ascent diverges fast."""

    steps: int = Field(default=10, ge=1, le=1_000_000)
    learning_rate: float = Field(default=2e-4, gt=0.0, le=1.0)


def forget_gradient_ascent(
    model: ViTForImageClassification, request: ClassForgetRequest, params: GradientAscentParams
) -> ViTForImageClassification:
    """A copy of ``model`` after ``steps`` of $\\mathcal{L} = -\\mathrm{CE}(f(x_f), y_f)$."""
    import torch

    from erase_diffusion.vision.methods._loop import Batches, optimise

    ascended = copy.deepcopy(model).train()
    forget = Batches(request.forget, params.batch_size, torch.Generator().manual_seed(params.seed))

    def loss_at(step: int) -> torch.Tensor:
        images, labels = forget.next()
        return -torch.nn.functional.cross_entropy(ascended(pixel_values=images).logits, labels)

    optimise(ascended.parameters(), params.steps, params.learning_rate, loss_at)
    return ascended.eval()
