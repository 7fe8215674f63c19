"""Attacks that try to bring forgotten classes back into an unlearned classifier.

- `relearn`: fine-tune every weight for a few steps on a few images of the forgotten
  classes (with their true labels) and read the accuracy on held-out images of those
  classes. Knowledge that was only hidden comes back faster than the exact retrain
  oracle, which never saw the classes, can learn them from the same images.
- `linear_probe`: keep the weights, fit a linear classifier (softmax regression) on the
  class-token features of a probe set of every class, and read its accuracy on held-out
  images of the forgotten classes: how far the features still separate them.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from pydantic import Field
from unlearn_schema import StrictModel

from erase_diffusion.vision.data import LabelledImages

if TYPE_CHECKING:
    import torch
    from transformers import ViTForImageClassification


class RelearnParams(StrictModel):
    """The relearning attack's budget."""

    per_class: int = Field(default=4, ge=1, le=10_000, description="Images per forgotten class.")
    steps: int = Field(default=20, ge=1, le=100_000)
    learning_rate: float = Field(default=1e-3, gt=0.0, le=1.0)
    seed: int = 0


class ProbeParams(StrictModel):
    """The linear probe's training."""

    per_class: int = Field(default=20, ge=1, le=10_000, description="Probe images per class.")
    steps: int = Field(default=200, ge=1, le=100_000)
    learning_rate: float = Field(default=0.05, gt=0.0, le=10.0)


def relearn(
    model: ViTForImageClassification,
    forgotten: LabelledImages,
    held_out: LabelledImages,
    params: RelearnParams,
) -> float:
    """Accuracy on ``held_out`` after fine-tuning a copy of ``model`` on the first
    ``per_class`` images of each class of ``forgotten``."""
    import torch

    from erase_diffusion.vision.methods._loop import Batches, optimise
    from erase_diffusion.vision.model import accuracy

    attacked = copy.deepcopy(model).train()
    shots = forgotten.first_per_class(params.per_class)
    batches = Batches(shots, len(shots), torch.Generator().manual_seed(params.seed))

    def loss_at(step: int) -> torch.Tensor:
        images, labels = batches.next()
        return torch.nn.functional.cross_entropy(attacked(pixel_values=images).logits, labels)

    optimise(attacked.parameters(), params.steps, params.learning_rate, loss_at)
    return accuracy(attacked.eval(), held_out)


def class_token_features(model: ViTForImageClassification, images: torch.Tensor) -> torch.Tensor:
    """The normalised class-token features the head reads (n, hidden)."""
    import torch

    model.eval()
    with torch.no_grad():
        return model.vit(pixel_values=images).last_hidden_state[:, 0]


def linear_probe(
    model: ViTForImageClassification,
    probe: LabelledImages,
    held_out: LabelledImages,
    num_classes: int,
    params: ProbeParams,
) -> float:
    """Accuracy on ``held_out`` of a softmax regression fitted on ``model``'s frozen
    class-token features of ``probe`` (full-batch Adam, standardised features)."""
    import torch

    train = class_token_features(model, torch.from_numpy(probe.images))
    test = class_token_features(model, torch.from_numpy(held_out.images))
    mean, std = train.mean(dim=0), train.std(dim=0) + 1e-6
    train, test = (train - mean) / std, (test - mean) / std
    labels = torch.from_numpy(probe.labels)
    torch.manual_seed(0)
    head = torch.nn.Linear(train.shape[1], num_classes)
    optimizer = torch.optim.Adam(head.parameters(), lr=params.learning_rate)
    for _ in range(params.steps):
        loss = torch.nn.functional.cross_entropy(head(train), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        predicted = head(test).argmax(dim=1).numpy()
    return float((predicted == held_out.labels).mean())
