"""The MLP that ``snapshot-recovery`` trains, snapshots, crashes and restores."""

from __future__ import annotations

import torch

from train_infra.models import MLPParams


class MLP(torch.nn.Sequential):
    """``Linear(in, width)``, GELU, then ``layers - 1`` blocks of Linear, GELU, Dropout(0.1).

    Dropout makes the torch RNG state part of what a restore must bring back. Seed the
    global torch generator before building it (its initialisation draws from it).
    """

    def __init__(self, params: MLPParams, in_features: int, classes: int) -> None:
        blocks: list[torch.nn.Module] = [
            torch.nn.Linear(in_features, params.width),
            torch.nn.GELU(),
        ]
        for _ in range(params.layers - 1):
            blocks += [
                torch.nn.Linear(params.width, params.width),
                torch.nn.GELU(),
                torch.nn.Dropout(0.1),
            ]
        blocks.append(torch.nn.Linear(params.width, classes))
        super().__init__(*blocks)
