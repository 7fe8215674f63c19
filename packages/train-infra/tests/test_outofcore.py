"""Out-of-core features: packed batches equal in-RAM gathers, less read amplification,
the cache serves the hottest rows, the prefetch loader trains a GNN."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from train_infra.outofcore.model import SAGE, accuracy, to_pyg, train_epoch
from train_infra.outofcore.sampling import make_graph, sample_epoch
from train_infra.outofcore.store import (
    PrefetchLoader,
    gather_naive,
    gather_packed,
    pack_epoch,
    read_amplification,
)


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return make_graph(tmp_path_factory.mktemp("graph"), 4000, num_features=32, seed=3)


def test_packed_batches_equal_the_raw_rows(graph, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    batches = sample_epoch(graph, graph.train_nodes, 128, seed=1)
    epoch = pack_epoch(graph, batches, tmp_path, cache_rows=300)
    raw = graph.features()
    packed = epoch.packed()
    with epoch.open() as reader:
        for index, batch in enumerate(batches):
            expected = gather_naive(batch, raw)
            assert np.array_equal(gather_packed(epoch, index, packed), expected)
            assert np.array_equal(gather_packed(epoch, index, reader), expected)
    through_thread = [features for _, features in PrefetchLoader(epoch, depth=3)]
    assert len(through_thread) == len(batches)
    assert np.array_equal(through_thread[-1], gather_naive(batches[-1], raw))


def test_sampling_covers_the_seeds_and_edges_point_inwards(graph) -> None:  # type: ignore[no-untyped-def]
    batches = sample_epoch(graph, graph.train_nodes, 100, fanouts=(4, 3), seed=0)
    seeds = np.concatenate([b.nodes[: b.seeds] for b in batches])
    assert np.array_equal(np.sort(seeds), graph.train_nodes)
    for batch in batches[:5]:
        (src1, dst1), (src2, dst2) = batch.edges
        assert dst1.max() < batch.seeds and dst2.max() < batch.num_hop1
        assert src1.max() < batch.num_hop1 and src2.max() < batch.nodes.size
        # every sampled edge is an edge of the graph
        for s, d in zip(batch.nodes[src2[:50]], batch.nodes[dst2[:50]], strict=True):
            assert s in graph.indices[graph.indptr[d] : graph.indptr[d + 1]]


def test_packing_cuts_read_amplification_and_cache_takes_hot_rows(graph, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    batches = sample_epoch(graph, graph.train_nodes, 64, seed=2)
    no_cache = read_amplification(graph, pack_epoch(graph, batches, tmp_path / "a", 0))
    assert no_cache["packed_bytes_per_useful_byte"] < 1.1
    assert no_cache["naive_bytes_per_useful_byte"] > 2.0
    cached = read_amplification(graph, pack_epoch(graph, batches, tmp_path / "b", 800))
    assert cached["useful_bytes"] < 0.8 * no_cache["useful_bytes"]


def test_gnn_trains_out_of_core(graph, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    train = pack_epoch(graph, sample_epoch(graph, graph.train_nodes, 256, seed=0), tmp_path / "t")
    test = pack_epoch(graph, sample_epoch(graph, graph.test_nodes, 512, seed=9), tmp_path / "e")
    torch.manual_seed(0)
    model = SAGE(32, 32, 8)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    before = accuracy(model, PrefetchLoader(test), graph.labels)
    for _ in range(3):
        train_epoch(model, optimizer, PrefetchLoader(train), graph.labels)
    after = accuracy(model, PrefetchLoader(test), graph.labels)
    assert after > 0.7 > before + 0.3


def test_bad_settings_are_refused(graph, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        sample_epoch(graph, graph.train_nodes, 0)
    with pytest.raises(ValueError, match="cache_rows must be >= 0"):
        pack_epoch(graph, [], tmp_path, cache_rows=-1)


@pytest.mark.requires("torch_geometric")
def test_batches_convert_to_pyg(graph, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    batches = sample_epoch(graph, graph.train_nodes, 64, seed=0)
    epoch = pack_epoch(graph, batches, tmp_path)
    data = to_pyg(batches[0], gather_packed(epoch, 0, epoch.packed()), graph.labels)
    assert data.batch_size == batches[0].seeds  # type: ignore[attr-defined]
    assert data.edge_index.max() < data.num_nodes  # type: ignore[attr-defined]
