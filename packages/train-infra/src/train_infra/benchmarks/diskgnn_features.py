"""``diskgnn-features``: out-of-core GNN node features against the same features in RAM.

After DiskGNN (arXiv:2405.05231). Per seed: a planted-partition graph with its features
in a file (world ``planted-partition-on-disk``), offline neighbour sampling of every
epoch, per-batch packing with a RAM cache tier, and the same GraphSAGE (model
``graphsage-mean``) trained twice from the same seed: on batches read from the packed
file through the prefetch thread, and on batches gathered from features held in RAM.
The two must reach the same accuracy (the bytes are the same). Metrics are means over
the seeds; with several seeds each seed's values follow, labelled ``seed``.
"""

from __future__ import annotations

import statistics
import tempfile
import time

from pydantic import Field
from unlearn_schema.base import StrictModel
from unlearn_schema.configs import BenchmarkSpec, Size
from unlearn_schema.plugins import ParsedSpec, Progress
from unlearn_schema.recipes import spec_from_parts
from unlearn_schema.results import BenchmarkResult, Direction, MetricValue

from train_infra.benchmarks._common import aggregate_seeds, metric
from train_infra.models import GraphSageParams
from train_infra.worlds.disk_graph import DiskGraphWorld


class DiskGNNRun(StrictModel):
    """Sampling, cache and training settings."""

    batch_size: int = Field(default=512, ge=1)
    fanouts: tuple[int, int] = (10, 5)
    cache_fraction: float = Field(
        default=0.05, ge=0.0, le=1.0, description="Share of nodes in RAM."
    )
    epochs: int = Field(default=2, ge=1, le=100)
    prefetch_depth: int = Field(default=2, ge=1, le=64)


def diskgnn_spec(size: Size) -> BenchmarkSpec:
    world = DiskGraphWorld(num_nodes=10_000 if size == "quick" else 1_000_000)
    run = DiskGNNRun(
        epochs=2 if size == "quick" else 3, batch_size=256 if size == "quick" else 1024
    )
    return spec_from_parts(
        "diskgnn-features",
        size,
        world=("planted-partition-on-disk", world),
        model=("graphsage-mean", GraphSageParams()),
        params=run,
    )


def _against(
    name: str,
    direction: Direction,
    ours: tuple[str, float],
    baseline: tuple[str, float],
    baseline_name: str,
) -> list[MetricValue]:
    """``name`` of our (store, value) with the baseline's value as its reference, then the
    baseline's own row."""
    (store, value), (baseline_store, baseline_value) = ours, baseline
    return [
        metric(
            name,
            value,
            direction,
            {"store": store},
            reference=baseline_value,
            reference_name=baseline_name,
        ),
        metric(name, baseline_value, direction, {"store": baseline_store}),
    ]


def _one_seed(
    world: DiskGraphWorld,
    model_params: GraphSageParams,
    run: DiskGNNRun,
    seed: int,
    progress: Progress,
    timings: dict[str, float],
) -> tuple[list[MetricValue], dict[str, float]]:
    """Metrics of one seed, and the numbers its notes quote."""
    import numpy as np
    import torch

    from train_infra.outofcore.model import SAGE, accuracy, train_epoch
    from train_infra.outofcore.sampling import sample_epoch
    from train_infra.outofcore.store import (
        PrefetchLoader,
        gather_naive,
        pack_epoch,
        read_amplification,
    )
    from train_infra.worlds.disk_graph import disk_graph

    def timed(phase: str, began: float) -> None:
        timings[phase] = timings.get(phase, 0.0) + time.perf_counter() - began

    def fresh_model() -> tuple[SAGE, torch.optim.Optimizer]:
        torch.manual_seed(seed)
        model = SAGE(world.num_features, model_params.hidden, world.num_classes)
        return model, torch.optim.Adam(model.parameters(), lr=1e-2)

    with tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        graph = disk_graph(world, tmp, seed=seed)
        timed("generate", began)
        began = time.perf_counter()
        epochs = [
            sample_epoch(graph, graph.train_nodes, run.batch_size, run.fanouts, seed + e)
            for e in range(run.epochs)
        ]
        test_batches = sample_epoch(
            graph, graph.test_nodes, run.batch_size, run.fanouts, seed + 10_000
        )
        timed("offline_sampling", began)
        progress.advance(1, "sampled")
        cache_rows = int(run.cache_fraction * world.num_nodes)
        began = time.perf_counter()
        packed = [
            pack_epoch(graph, b, f"{tmp}/epoch-{e}", cache_rows) for e, b in enumerate(epochs)
        ]
        packed_test = pack_epoch(graph, test_batches, f"{tmp}/test", cache_rows)
        timed("packing", began)
        progress.advance(1, "packed")
        amplification = read_amplification(graph, packed[0])

        model, optimizer = fresh_model()
        began = time.perf_counter()
        for epoch in packed:
            train_epoch(model, optimizer, PrefetchLoader(epoch, run.prefetch_depth), graph.labels)
            progress.advance(1, "out-of-core epoch")
        out_of_core_s = time.perf_counter() - began
        timed("train_out_of_core", began)
        ooc_accuracy = accuracy(model, PrefetchLoader(packed_test), graph.labels)

        in_memory = np.array(graph.features())
        model, optimizer = fresh_model()  # the same initialisation as the out-of-core run
        began = time.perf_counter()
        for batches in epochs:
            train_epoch(model, optimizer, ((b, in_memory[b.nodes]) for b in batches), graph.labels)
            progress.advance(1, "in-memory epoch")
        in_memory_s = time.perf_counter() - began
        timed("train_in_memory", began)
        mem_accuracy = accuracy(
            model, ((b, in_memory[b.nodes]) for b in test_batches), graph.labels
        )
        raw = graph.features()
        began = time.perf_counter()
        for b in epochs[0]:
            gather_naive(b, raw)
        timed("naive_gather_epoch", began)
        progress.advance(2, "gathers")
    num_batches = sum(len(b) for b in epochs)
    packed_amplification = amplification["packed_bytes_per_useful_byte"]
    naive_amplification = amplification["naive_bytes_per_useful_byte"]
    ooc_rate, mem_rate = num_batches / out_of_core_s, num_batches / in_memory_s
    metrics = [
        *_against(
            "bytes_read_per_useful_byte",
            "lower",
            ("packed", packed_amplification),
            ("naive", naive_amplification),
            "naive per-row reads",
        ),
        *_against(
            "batches_per_second",
            "higher",
            ("packed+prefetch", ooc_rate),
            ("in-memory", mem_rate),
            "features in RAM",
        ),
        metric(
            "test_accuracy",
            ooc_accuracy,
            "higher",
            {"store": "packed+prefetch"},
            reference=mem_accuracy,
            reference_name="features in RAM",
        ),
    ]
    quoted = {
        "packed": packed_amplification,
        "naive": naive_amplification,
        "ooc_rate": ooc_rate,
        "mem_rate": mem_rate,
        "ooc_accuracy": ooc_accuracy,
        "mem_accuracy": mem_accuracy,
    }
    return metrics, quoted


def run_diskgnn(
    parsed: ParsedSpec[DiskGraphWorld, GraphSageParams, DiskGNNRun],
    progress: Progress,
    out_dir: str,
) -> BenchmarkResult:
    """Offline sampling, per-batch packing, cache tier and prefetch vs naive and in-memory."""
    del out_dir
    world, run = parsed.world, parsed.params
    progress.start(len(parsed.seeds) * (4 + 2 * run.epochs), "phases")
    timings: dict[str, float] = {}
    per_seed: dict[int, list[MetricValue]] = {}
    quoted: list[dict[str, float]] = []
    for seed in parsed.seeds:
        metrics, numbers = _one_seed(world, parsed.model, run, seed, progress, timings)
        per_seed[seed] = metrics
        quoted.append(numbers)
    mean = {key: statistics.fmean(q[key] for q in quoted) for key in quoted[0]}
    over = f" (means over seeds {parsed.seeds})" if len(parsed.seeds) > 1 else ""
    notes = [
        f"Packed reads cost {mean['packed']:.3f} bytes per useful byte vs "
        f"{mean['naive']:.2f} for per-row reads (4 KiB pages, {world.num_features * 4}-byte "
        f"rows){over}.",
        f"Out-of-core training ran {mean['ooc_rate']:.1f} batches/s vs "
        f"{mean['mem_rate']:.1f} with all features in RAM; "
        f"test accuracy {mean['ooc_accuracy']:.3f} vs {mean['mem_accuracy']:.3f}.",
        "Files were in the page cache here; the read-amplification numbers are what a "
        "disk would serve.",
    ]
    return BenchmarkResult(metrics=aggregate_seeds(per_seed), notes=notes, timings=timings)
