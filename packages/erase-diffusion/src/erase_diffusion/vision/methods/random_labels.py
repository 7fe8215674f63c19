"""Random labels: train the forget images towards random wrong classes while keeping the
retain set's cross-entropy (the relabelling baseline SalUn builds on, arXiv:2310.12508)."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from pydantic import Field

from erase_diffusion.vision.methods.params import StepParams
from erase_diffusion.vision.methods.request import ClassForgetRequest

if TYPE_CHECKING:
    import torch
    from transformers import ViTForImageClassification


class RandomLabelsParams(StepParams):
    """Steps of relabelled forget batches plus retain batches."""

    retain_weight: float = Field(default=1.0, ge=0.0, le=100.0, description="α of the retain term.")


def random_wrong_labels(
    labels: torch.Tensor,
    num_classes: int,
    forget_classes: tuple[int, ...],
    generator: torch.Generator,
) -> torch.Tensor:
    """For each label, a class drawn uniformly among the classes that are neither the
    label nor another forgotten class (every forget image moves to a kept class)."""
    import torch

    kept = torch.tensor([c for c in range(num_classes) if c not in forget_classes])
    if len(kept) == 0:
        raise ValueError("every class is forgotten: no class is left to relabel towards")
    return kept[torch.randint(0, len(kept), labels.shape, generator=generator)]


def relabelled_loss(
    model: ViTForImageClassification,
    forget: tuple[torch.Tensor, torch.Tensor],
    retain: tuple[torch.Tensor, torch.Tensor] | None,
    request: ClassForgetRequest,
    retain_weight: float,
    generator: torch.Generator,
) -> torch.Tensor:
    """$\\mathrm{CE}(f(x_f), y') + \\alpha\\,\\mathrm{CE}(f(x_r), y_r)$ with $y' \\ne y_f$ random
    (the retain term is left out when there are no retain images)."""
    import torch

    images, labels = forget
    wrong = random_wrong_labels(labels, request.num_classes, request.forget_classes, generator)
    loss = torch.nn.functional.cross_entropy(model(pixel_values=images).logits, wrong)
    if retain is not None:
        loss = loss + retain_weight * torch.nn.functional.cross_entropy(
            model(pixel_values=retain[0]).logits, retain[1]
        )
    return loss


def forget_random_labels(
    model: ViTForImageClassification, request: ClassForgetRequest, params: RandomLabelsParams
) -> ViTForImageClassification:
    """A copy of ``model`` after ``steps`` of `relabelled_loss` on every weight."""
    import torch

    from erase_diffusion.vision.methods._loop import Batches, optimise

    tuned = copy.deepcopy(model).train()
    generator = torch.Generator().manual_seed(params.seed)
    forget = Batches(request.forget, params.batch_size, generator)
    retain = Batches(request.retain, params.batch_size, generator)

    def loss_at(step: int) -> torch.Tensor:
        kept = retain.next() if len(retain) else None
        return relabelled_loss(tuned, forget.next(), kept, request, params.retain_weight, generator)

    optimise(tuned.parameters(), params.steps, params.learning_rate, loss_at)
    return tuned.eval()
