"""World ``barabasi-albert-gossip``: the communication graph, who holds data, who drops.

The partition (IID or not) and the kind of node that drops are what ``p2p-disruption``
sweeps, so they are run parameters there, not world fields; the learning rule is the
method's (`train_infra.methods.gossip`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from unlearn_schema import StrictModel


class GossipWorld(StrictModel):
    """Topology, data and drop schedule of one decentralized-learning scenario."""

    num_nodes: int = Field(default=50, ge=3, le=2000)
    edges_per_node: int = Field(default=2, ge=1, le=20, description="BA attachment m.")
    data_fraction: float = Field(
        default=0.5, gt=0.0, le=1.0, description="Share of nodes holding data; others relay."
    )
    classes_per_node: int = Field(default=2, ge=1, description="Non-IID: labels seen per node.")
    samples_per_node: int = Field(default=100, ge=4, le=100_000)
    num_classes: int = Field(default=10, ge=2, le=100)
    num_features: int = Field(default=20, ge=2, le=1000)
    rounds: int = Field(default=60, ge=1, le=10_000)
    drop_round: int = Field(default=20, ge=0, description="Round at which nodes drop.")
    drop_fraction: float = Field(default=0.3, ge=0.0, lt=1.0)
    drop_by: Literal["random", "degree"] = Field(
        default="degree", description="Drop the highest-degree nodes of the kind, or random."
    )

    @model_validator(mode="after")
    def _consistent(self) -> GossipWorld:
        if self.classes_per_node > self.num_classes:
            raise ValueError(
                f"classes_per_node={self.classes_per_node} exceeds num_classes={self.num_classes}"
            )
        if self.drop_round >= self.rounds:
            raise ValueError(f"drop_round={self.drop_round} must be < rounds={self.rounds}")
        return self
