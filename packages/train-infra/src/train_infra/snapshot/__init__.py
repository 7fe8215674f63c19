"""In-memory snapshots of a training state, erasure-coded across ranks.

Seed: *Reliable and Efficient In-Memory Fault Tolerance of Large Language Model
Pretraining* (REFT). The training state (model and optimizer state dicts, RNG states,
data-loader position, step) is copied asynchronously into CPU memory held by a separate
snapshot-manager process, double-buffered; across ranks each rank's copy is split into
``k`` data and ``m`` parity fragments placed on other ranks' managers; a lower-frequency
atomic persistence writes safetensors files.

Importing this package imports no torch: `train_infra.snapshot.manager` runs
without it, and the modules that need torch import it themselves.
"""

from train_infra.snapshot.errors import (
    IncompatibleSnapshotError,
    ManagerLostError,
    NotEnoughFragmentsError,
    SnapshotError,
    SnapshotFallbackWarning,
    TruncatedSnapshotError,
    UnrecoverableSnapshotError,
)

__all__ = [
    "IncompatibleSnapshotError",
    "ManagerLostError",
    "NotEnoughFragmentsError",
    "SnapshotError",
    "SnapshotFallbackWarning",
    "TruncatedSnapshotError",
    "UnrecoverableSnapshotError",
]
