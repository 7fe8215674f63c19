"""Snapshot strategies: how a training loop's optimizer is wired to a `Snapshotter`.

Both take the model, the `Snapshotter` that will hold its snapshots, and the AdamW
settings, and return the optimizer to train with; after each ``optimizer.step()`` the
loop calls ``snapshotter.snapshot(model, optimizer, step=...)``.

- ``copy-snapshot``: `torch.optim.AdamW`; each snapshot copies parameters and moments
  into the manager's spare segment on a background thread (any optimizer works this
  way; AdamW here so that both strategies train the same model). REFT's in-memory
  snapshots (arXiv:2310.12670).
- ``pingpong-adamw``: `PingPongAdamW`, which computes each update out of place into the
  second of two shared-memory slots, so the slot it read from is the snapshot and
  nothing is copied (see `train_infra.snapshot.pingpong` for the update equations).
"""

from __future__ import annotations

import torch

from train_infra.methods.params import SnapshotOptimizerParams
from train_infra.snapshot.pingpong import PingPongAdamW
from train_infra.snapshot.snapshotter import Snapshotter


def copy_snapshots(
    model: torch.nn.Module, snapshotter: Snapshotter, params: SnapshotOptimizerParams
) -> torch.optim.Optimizer:
    """`torch.optim.AdamW` whose ``step()`` waits for a snapshot copy still reading it."""
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=params.learning_rate, weight_decay=params.weight_decay
    )
    snapshotter.protect(optimizer)
    return optimizer


def pingpong_snapshots(
    model: torch.nn.Module, snapshotter: Snapshotter, params: SnapshotOptimizerParams
) -> PingPongAdamW:
    """`PingPongAdamW` with its two slots in ``snapshotter``'s manager (weights move there)."""
    optimizer = PingPongAdamW(
        model, snapshotter, lr=params.learning_rate, weight_decay=params.weight_decay
    )
    snapshotter.protect(optimizer)
    return optimizer
