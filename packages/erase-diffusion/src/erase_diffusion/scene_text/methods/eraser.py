"""What every scene-text method returns: a fitted eraser and its training record."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass
class FittedEraser:
    """``erase`` maps images (n, 3, H, W) in [0, 1] to text-free estimates of the same
        shape; ``losses`` is the training loss per step (empty for a method that does not
        train); ``policy_history`` the style policy's sampling distribution after each of its
        updates (empty without a policy); ``discriminator_losses`` the realism
    discriminator's loss per step (empty without the realism reward); ``seconds`` the CPU
    time of fitting."""

    erase: Callable[[np.ndarray], np.ndarray]
    losses: list[float] = field(default_factory=list)
    policy_history: list[dict[str, list[float]]] = field(default_factory=list)
    discriminator_losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
