"""``p2p-disruption``: gossip learning when data holders or relay nodes drop out.

After arXiv:2310.02986. On one Barabási–Albert world (``barabasi-albert-gossip``: graph,
data holders, drop schedule), for each partition (IID, non-IID) the gossip method runs
three times per seed: without drops, dropping data-holding nodes, dropping relays. The
curves are the accuracy over rounds averaged over the seeds; the metrics are means over
the seeds, and with several seeds each seed's values follow, labelled ``seed``.
"""

from __future__ import annotations

import statistics
from typing import Literal

from pydantic import Field
from unlearn_schema.base import StrictModel
from unlearn_schema.configs import BenchmarkSpec, Size
from unlearn_schema.plugins import NoParams, ParsedSpec, Progress
from unlearn_schema.recipes import check_methods, spec_from_parts
from unlearn_schema.results import BenchmarkResult, Curve, MetricValue, Series

from train_infra.benchmarks._common import aggregate_seeds, metric
from train_infra.methods.params import GossipAveragingParams
from train_infra.worlds.gossip import GossipWorld

GOSSIP_METHODS = ("gossip-averaging",)


def _default_partitions() -> list[Literal["iid", "non-iid"]]:
    return ["iid", "non-iid"]


def _default_drop_kinds() -> list[Literal["data", "connectivity"]]:
    return ["data", "connectivity"]


class DisruptionRun(StrictModel):
    """The scenarios compared: partitions × which nodes drop."""

    partitions: list[Literal["iid", "non-iid"]] = Field(
        default_factory=_default_partitions, min_length=1
    )
    drop_kinds: list[Literal["data", "connectivity"]] = Field(
        default_factory=_default_drop_kinds, min_length=1
    )


def p2p_spec(size: Size) -> BenchmarkSpec:
    world = (
        GossipWorld() if size == "quick" else GossipWorld(num_nodes=200, rounds=150, drop_round=50)
    )
    return spec_from_parts(
        "p2p-disruption",
        size,
        [0] if size == "quick" else [0, 1, 2],
        world=("barabasi-albert-gossip", world),
        methods=GOSSIP_METHODS,
        method_params={"gossip-averaging": GossipAveragingParams()},
        params=DisruptionRun(),
    )


def check_p2p(parsed: ParsedSpec[GossipWorld, NoParams, DisruptionRun]) -> None:
    """One gossip method per spec: the curves and metrics are labelled by scenario only."""
    check_methods(parsed, GOSSIP_METHODS, at_most=1)


def run_p2p(
    parsed: ParsedSpec[GossipWorld, NoParams, DisruptionRun], progress: Progress, out_dir: str
) -> BenchmarkResult:
    """Accuracy over rounds: no drop vs dropping data holders vs dropping relays."""
    del out_dir
    world, run, seeds = parsed.world, parsed.params, parsed.seeds
    (method,) = parsed.methods
    gossip = method.spec.function
    kinds: list[Literal["data", "connectivity"] | None] = [None, *run.drop_kinds]
    progress.start(len(run.partitions) * len(kinds) * len(seeds), "scenarios")
    per_seed: dict[int, list[MetricValue]] = {seed: [] for seed in seeds}
    curves, notes = [], []
    for partition in run.partitions:
        series = []
        finals: dict[str, float] = {}
        for kind in kinds:
            labels: dict[str, str] = {"partition": partition, "drop": kind or "none"}
            accuracies = []
            for seed in seeds:
                result = gossip(
                    world, method.params, partition=partition, drop_kind=kind, seed=seed
                )
                accuracies.append(result.accuracy)
                per_seed[seed] += [
                    metric("final_accuracy", result.accuracy[-1], "higher", labels),
                    metric("live_components", result.components[-1], "none", labels),
                ]
                progress.advance(1, f"{partition}, drop {kind}")
            mean = [statistics.fmean(v) for v in zip(*accuracies, strict=True)]
            label = "no drop" if kind is None else f"drop {kind} nodes"
            series.append(Series(label=label, x=[float(r) for r in result.rounds], y=mean))
            finals[label] = mean[-1]
        curves.append(
            Curve(
                name=f"gossip-{partition}",
                title=f"Gossip on BA({world.num_nodes}, {world.edges_per_node}), {partition}",
                x_label="round",
                y_label="mean test accuracy of live nodes",
                series=series,
                vlines={"drop": float(world.drop_round)},
            )
        )
        notes.append(
            f"{partition}: final accuracy "
            + ", ".join(f"{k} {v:.3f}" for k, v in finals.items())
            + f" ({round(world.drop_fraction * world.num_nodes)} nodes of the kind, "
            f"{world.drop_by} choice, dropped at round {world.drop_round})."
        )
    return BenchmarkResult(metrics=aggregate_seeds(per_seed), curves=curves, notes=notes)
