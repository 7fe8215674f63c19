"""The batch stream of ``snapshot-recovery``: random features, labels from a fixed rule.

A batch depends only on ``(seed, step)``, so a trainer restored at step ``t`` draws
exactly the batches an uninterrupted run would have drawn from ``t`` on.
"""

from __future__ import annotations

import torch

FEATURES = 64
CLASSES = 10


def training_batch(step: int, *, seed: int, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Features $x \sim N(0, 1)^{64}$, label $(\arg\max_{i < 10} x_i + t) \bmod 10$ at step $t$."""
    generator = torch.Generator().manual_seed(seed * 100_003 + step)
    x = torch.randn(batch_size, FEATURES, generator=generator)
    return x, (x[:, :CLASSES].argmax(dim=1) + step) % CLASSES
