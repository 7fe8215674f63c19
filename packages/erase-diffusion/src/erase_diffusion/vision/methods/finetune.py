"""Fine-tune on retain: cross-entropy on the remaining classes only, so that the forgotten
ones fade through catastrophic forgetting (a common unlearning baseline)."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from erase_diffusion.vision.methods.params import StepParams
from erase_diffusion.vision.methods.request import ClassForgetRequest

if TYPE_CHECKING:
    from transformers import ViTForImageClassification


class FineTuneParams(StepParams):
    """Steps of cross-entropy on the retain set."""


def forget_finetune(
    model: ViTForImageClassification, request: ClassForgetRequest, params: FineTuneParams
) -> ViTForImageClassification:
    """A copy of ``model`` after ``steps`` of $\\mathcal{L} = \\mathrm{CE}(f(x_r), y_r)$ on
    retain batches."""
    import torch

    from erase_diffusion.vision.methods._loop import Batches, optimise

    if len(request.retain) == 0:
        raise ValueError("fine-tuning on retain needs retain images; the retain set is empty")
    tuned = copy.deepcopy(model).train()
    retain = Batches(request.retain, params.batch_size, torch.Generator().manual_seed(params.seed))

    def loss_at(step: int) -> torch.Tensor:
        images, labels = retain.next()
        return torch.nn.functional.cross_entropy(tuned(pixel_values=images).logits, labels)

    optimise(tuned.parameters(), params.steps, params.learning_rate, loss_at)
    return tuned.eval()
