"""Benchmark recipes of train-infra, one module each, registered under ``unlearn.benchmarks``.

- ``snapshot-recovery`` (`snapshot_recovery`): model ``mlp``; methods ``copy-snapshot``,
  ``pingpong-adamw``;
- ``snapshot-chaos`` (`snapshot_chaos`): no world, model or method; SIGKILLs inside
  persist, bit flips, lost fragments and wrong restores (`train_infra.snapshot.chaos`);
- ``rope-feasibility`` (`rope_feasibility`): no world, model or method (pure math);
- ``diskgnn-features`` (`diskgnn_features`): world ``planted-partition-on-disk``, model
  ``graphsage-mean``;
- ``p2p-disruption`` (`p2p_disruption`): world ``barabasi-albert-gossip``, method
  ``gossip-averaging``;
- ``train-infra-speed`` (`speed`, kind ``speed``): no world, model or method; the
  measurements are in `speed_measurements`.

A module holds its recipe: run parameters, default spec and ``run`` function, top to
bottom. Each benchmark's declaration (name, summary, types, method and metric names: what a
spec may contain) is a record below, as the methods are records in `train_infra.methods`,
and the entry points name these records. A module imports no torch at module level:
listing and validating a spec stay cheap.
"""

from __future__ import annotations

from unlearn_schema.plugins import Benchmark, NoParams

from train_infra.benchmarks.diskgnn_features import DiskGNNRun, diskgnn_spec, run_diskgnn
from train_infra.benchmarks.p2p_disruption import (
    GOSSIP_METHODS,
    DisruptionRun,
    check_p2p,
    p2p_spec,
    run_p2p,
)
from train_infra.benchmarks.rope_feasibility import RopeRun, rope_spec, run_rope
from train_infra.benchmarks.snapshot_chaos import (
    CHAOS_METRIC_NAMES,
    ChaosRun,
    chaos_spec,
    run_chaos,
)
from train_infra.benchmarks.snapshot_recovery import (
    METRIC_PREFIXES,
    SNAPSHOT_METRIC_NAMES,
    SnapshotRun,
    check_snapshot,
    run_snapshot,
    snapshot_spec,
)
from train_infra.benchmarks.speed import SPEED_METRIC_NAMES, SpeedRun, run_speed, speed_spec
from train_infra.methods import METHODS
from train_infra.models import GraphSageParams, MLPParams
from train_infra.worlds.disk_graph import DiskGraphWorld
from train_infra.worlds.gossip import GossipWorld

SNAPSHOT_RECOVERY: Benchmark[NoParams, MLPParams, SnapshotRun] = Benchmark(
    name="snapshot-recovery",
    summary="Every-step in-memory snapshots: overhead, crash, bit-identical restore, EC.",
    default_spec=snapshot_spec,
    run=run_snapshot,
    params_type=SnapshotRun,
    models={"mlp": MLPParams},
    methods=METHODS,
    method_names=tuple(METRIC_PREFIXES),
    metric_names=SNAPSHOT_METRIC_NAMES,
    max_seeds=1,
    check=check_snapshot,
    quick_budget_s=120.0,
)


SNAPSHOT_CHAOS: Benchmark[NoParams, NoParams, ChaosRun] = Benchmark(
    name="snapshot-chaos",
    summary="SIGKILLs in persist, bit flips, m+1 lost fragments, wrong restores: 0 silent.",
    default_spec=chaos_spec,
    run=run_chaos,
    params_type=ChaosRun,
    metric_names=CHAOS_METRIC_NAMES,
    max_seeds=1,
    quick_budget_s=120.0,
)


ROPE_FEASIBILITY: Benchmark[NoParams, NoParams, RopeRun] = Benchmark(
    name="rope-feasibility",
    summary="Aliasing, DC-stability and precision bounds on the RoPE base; config verdicts.",
    default_spec=rope_spec,
    run=run_rope,
    params_type=RopeRun,
    metric_names=frozenset(
        {"precision_wall_context", "base_over_lower_bound", "upper_bound_over_base"}
    ),
    max_seeds=1,
    quick_budget_s=5.0,
)


DISKGNN_FEATURES: Benchmark[DiskGraphWorld, GraphSageParams, DiskGNNRun] = Benchmark(
    name="diskgnn-features",
    summary="Out-of-core GNN features: offline sampling, per-batch packing, cache, prefetch.",
    default_spec=diskgnn_spec,
    run=run_diskgnn,
    params_type=DiskGNNRun,
    worlds={"planted-partition-on-disk": DiskGraphWorld},
    models={"graphsage-mean": GraphSageParams},
    metric_names=frozenset({"bytes_read_per_useful_byte", "batches_per_second", "test_accuracy"}),
    quick_budget_s=120.0,
)


P2P_DISRUPTION: Benchmark[GossipWorld, NoParams, DisruptionRun] = Benchmark(
    name="p2p-disruption",
    summary="Gossip learning on a Barabási–Albert graph when data or relay nodes drop.",
    default_spec=p2p_spec,
    run=run_p2p,
    params_type=DisruptionRun,
    worlds={"barabasi-albert-gossip": GossipWorld},
    methods=METHODS,
    method_names=GOSSIP_METHODS,
    metric_names=frozenset({"final_accuracy", "live_components"}),
    check=check_p2p,
    quick_budget_s=60.0,
)


TRAIN_INFRA_SPEED: Benchmark[NoParams, NoParams, SpeedRun] = Benchmark(
    name="train-infra-speed",
    summary="Snapshot overhead, restore, erasure coding and out-of-core gathers vs baselines.",
    default_spec=speed_spec,
    run=run_speed,
    params_type=SpeedRun,
    metric_names=SPEED_METRIC_NAMES,
    max_seeds=1,
    kind="speed",
    quick_budget_s=60.0,
)


__all__ = [
    "DISKGNN_FEATURES",
    "P2P_DISRUPTION",
    "ROPE_FEASIBILITY",
    "SNAPSHOT_CHAOS",
    "SNAPSHOT_RECOVERY",
    "TRAIN_INFRA_SPEED",
]
