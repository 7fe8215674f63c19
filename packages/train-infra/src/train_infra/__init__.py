"""Training infrastructure for unlearning at scale: erasure-coded in-memory snapshots, out-
of-core feature stores, decentralized training, bounds on the RoPE base.

The rooms every package of the toolkit has:

- `train_infra.worlds`: the synthetic worlds (the snapshot benchmark's batch stream,
  a graph with its features on disk, a gossip network with a drop schedule);
- `train_infra.models`: the params of the models the benchmarks train (`MLP` in
  `train_infra.models.mlp`);
- `train_infra.methods`: what a spec can choose by name (``METHODS``: the snapshot
  strategies ``copy-snapshot`` and ``pingpong-adamw``, and ``gossip-averaging``);
- `train_infra.metrics`: the registered metric functions (``METRICS``:
  ``read-amplification``, ``rope-feasibility``);
- `train_infra.benchmarks`: one module per benchmark recipe, and ``train-infra-speed``.

The engine code stays in its own sub-packages, where the methods and benchmarks call it:
`train_infra.snapshot` (snapshot manager, snapshotter, `PingPongAdamW`, erasure coding,
persistence), `train_infra.outofcore` (offline sampling, packed feature store, prefetch,
GraphSAGE), `train_infra.decentralized` (gossip simulation and its torch.distributed
mode) and `train_infra.rope_bounds` (the RoPE bounds).

Heavy libraries (torch and friends) are imported inside the functions that need them,
never at package import, so discovery and config validation stay fast.
"""

__version__ = "0.1.0"
