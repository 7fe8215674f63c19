"""The methods of train-infra a spec can name: snapshot strategies and gossip averaging.

train-infra has no unlearning methods; what a spec chooses by name here is the
infrastructure a benchmark measures: how ``snapshot-recovery`` snapshots its training
state, and which gossip rule ``p2p-disruption`` trains with.

Rule of this package: every method's params class lives in the torch-free
`train_infra.methods.params`; the entry functions live in one module per family
(`snapshots`, `gossip`) and take, positionally, the object they act on, what they work
with, then the params. This module imports only the schema.
"""

from __future__ import annotations

from unlearn_schema import MethodSpec, Registry

METHODS = Registry(
    "method",
    [
        MethodSpec(
            name="copy-snapshot",
            params="train_infra.methods.params:SnapshotOptimizerParams",
            entry="train_infra.methods.snapshots:copy_snapshots",
            summary="Every-step in-memory snapshot by a background copy into a manager process.",
            paper="arXiv:2310.12670",
        ),
        MethodSpec(
            name="pingpong-adamw",
            params="train_infra.methods.params:SnapshotOptimizerParams",
            entry="train_infra.methods.snapshots:pingpong_snapshots",
            summary=(
                "Copy-free snapshots: AdamW updates out of place between two shared slots "
                "(ours, on REFT's snapshot manager)."
            ),
            paper="arXiv:2310.12670",
        ),
        MethodSpec(
            name="gossip-averaging",
            params="train_infra.methods.params:GossipAveragingParams",
            entry="train_infra.methods.gossip:gossip_averaging",
            summary="Local SGD per node, then Metropolis-Hastings averaging with live neighbours.",
            paper="arXiv:2310.02986",
        ),
    ],
)

__all__ = ["METHODS"]
