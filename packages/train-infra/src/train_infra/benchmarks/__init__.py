"""Benchmark recipes of train-infra, one module each, registered under ``unlearn.benchmarks``.

- ``snapshot-recovery`` (`snapshot_recovery`): model ``mlp``; methods ``copy-snapshot``,
  ``pingpong-adamw``;
- ``rope-feasibility`` (`rope_feasibility`): no world, model or method (pure math);
- ``diskgnn-features`` (`diskgnn_features`): world ``planted-partition-on-disk``, model
  ``graphsage-mean``;
- ``p2p-disruption`` (`p2p_disruption`): world ``barabasi-albert-gossip``, method
  ``gossip-averaging``;
- ``train-infra-speed`` (`speed`, kind ``speed``): no world, model or method; the
  measurements are in `speed_measurements`.

A module imports no torch at module level: listing and validating a spec stay cheap.
"""
