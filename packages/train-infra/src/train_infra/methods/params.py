"""Parameters of every train-infra method (torch-free, so that a spec validates fast)."""

from __future__ import annotations

from pydantic import Field
from unlearn_schema import MethodParams


class SnapshotOptimizerParams(MethodParams):
    """The AdamW a snapshot strategy trains with (the uninterrupted reference uses the same)."""

    learning_rate: float = Field(default=1e-3, gt=0.0, le=10.0)
    weight_decay: float = Field(default=0.01, ge=0.0, le=1.0, description="Decoupled (AdamW).")


class GossipAveragingParams(MethodParams):
    """Local training of each node between two gossip rounds."""

    local_steps: int = Field(default=2, ge=1, le=100, description="Full-batch steps per round.")
    learning_rate: float = Field(default=0.5, gt=0.0, le=10.0)
