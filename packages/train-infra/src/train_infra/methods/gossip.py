r"""Gossip averaging: local SGD on every live node, then Metropolis–Hastings mixing.

After *Exploring the Impact of Disrupted Peer-to-Peer Communications on Fully
Decentralized Learning in Disaster Scenarios* (arXiv:2310.02986). Each round every live
node that holds data takes ``local_steps`` full-batch steps of softmax regression, then
every live node replaces its parameters by

$$
\theta_i \leftarrow \sum_{j \in N(i) \cup \{i\}} w_{ij} \theta_j, \qquad
w_{ij} = \frac{1}{1 + \max(\deg_i, \deg_j)}, \quad w_{ii} = 1 - \sum_{j \ne i} w_{ij}
$$

on the live graph (the averaging matrix is doubly stochastic). The simulation is
`train_infra.decentralized.gossip.run_gossip`; this entry composes its scenario.
"""

from __future__ import annotations

from train_infra.decentralized.gossip import (
    DropKind,
    GossipConfig,
    GossipResult,
    Partition,
    run_gossip,
)
from train_infra.methods.params import GossipAveragingParams
from train_infra.worlds.gossip import GossipWorld


def gossip_averaging(
    world: GossipWorld,
    params: GossipAveragingParams,
    *,
    partition: Partition,
    drop_kind: DropKind | None,
    seed: int,
) -> GossipResult:
    """Accuracy over rounds on ``world``; ``drop_kind=None`` runs the same world without drops."""
    scenario = world.model_dump()
    if drop_kind is None:
        scenario["drop_round"] = None
    config = GossipConfig(
        **scenario,
        partition=partition,
        drop_kind=drop_kind or "data",
        local_steps=params.local_steps,
        learning_rate=params.learning_rate,
    )
    return run_gossip(config, seed)
