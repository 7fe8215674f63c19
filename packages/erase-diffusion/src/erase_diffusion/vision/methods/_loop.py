"""The one optimiser loop the classifier-unlearning methods share (each writes its loss)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import numpy as np

from erase_diffusion.vision.data import LabelledImages

if TYPE_CHECKING:
    import torch


class Batches:
    """Random batches of one labelled set as tensors (seeded)."""

    def __init__(self, data: LabelledImages, batch_size: int, generator: torch.Generator) -> None:
        import torch

        self.images = torch.from_numpy(np.ascontiguousarray(data.images))
        self.labels = torch.from_numpy(np.ascontiguousarray(data.labels))
        self.batch_size, self.generator = batch_size, generator

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        import torch

        if len(self) == 0:
            raise ValueError("cannot draw a batch from an empty set")
        pick = torch.randint(
            0, len(self), (min(self.batch_size, len(self)),), generator=self.generator
        )
        return self.images[pick], self.labels[pick]


def optimise(
    parameters: Iterable[torch.nn.Parameter],
    steps: int,
    learning_rate: float,
    loss_at: Callable[[int], torch.Tensor],
    after_step: Callable[[], None] | None = None,
) -> list[float]:
    """``steps`` AdamW steps (no weight decay) on ``loss_at(step)``; the losses seen.

    ``after_step`` runs after every update (a saliency mask re-applies itself there).
    """
    import torch

    trained = [p for p in parameters if p.requires_grad]
    optimizer = torch.optim.AdamW(trained, lr=learning_rate, weight_decay=0.0)
    losses = []
    for step in range(steps):
        loss = loss_at(step)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trained, 5.0)
        optimizer.step()
        if after_step is not None:
            after_step()
        losses.append(float(loss.detach()))
    return losses
