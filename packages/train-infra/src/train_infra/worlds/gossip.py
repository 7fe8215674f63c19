"""World ``barabasi-albert-gossip``: the communication graph, who holds data, who drops.

The partition (IID or not) and the kind of node that drops are what ``p2p-disruption``
sweeps, so they are run parameters there, not world fields; the learning rule is the
method's (`train_infra.methods.gossip`). The fields shared with the simulation's own
config are those of `train_infra.decentralized.gossip.GossipNetwork`.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from train_infra.decentralized.gossip import GossipNetwork, check_schedule


class GossipWorld(GossipNetwork):
    """Topology, data and drop schedule of one decentralized-learning scenario."""

    drop_round: int = Field(default=20, ge=0, description="Round at which nodes drop.")

    @model_validator(mode="after")
    def _consistent(self) -> GossipWorld:
        check_schedule(self.classes_per_node, self.num_classes, self.drop_round, self.rounds)
        return self
