"""Retrain: the exact unlearning baseline, a fresh classifier trained on the retain set only."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from erase_diffusion.vision.methods.params import StepParams
from erase_diffusion.vision.methods.request import ClassForgetRequest

if TYPE_CHECKING:
    from transformers import ViTForImageClassification


class RetrainParams(StepParams):
    """Training from scratch: as many steps as the original model took."""

    steps: int = Field(default=1200, ge=1, le=1_000_000)
    learning_rate: float = Field(default=2e-3, gt=0.0, le=1.0)
    batch_size: int = Field(default=64, ge=1, le=4096)


def forget_retrain(
    model: ViTForImageClassification, request: ClassForgetRequest, params: RetrainParams
) -> ViTForImageClassification:
    """A new classifier of ``model``'s shape, trained from scratch with cross-entropy on
    ``request.retain`` (the forgotten classes never seen). ``model`` gives only the shape."""
    import torch
    from transformers import ViTForImageClassification

    from erase_diffusion.vision.methods._loop import Batches, optimise

    torch.manual_seed(params.seed)
    fresh = ViTForImageClassification(model.config)
    batches = Batches(request.retain, params.batch_size, torch.Generator().manual_seed(params.seed))
    fresh.train()

    def loss_at(step: int) -> torch.Tensor:
        images, labels = batches.next()
        return torch.nn.functional.cross_entropy(fresh(pixel_values=images).logits, labels)

    optimise(fresh.parameters(), params.steps, params.learning_rate, loss_at)
    return fresh.eval()
