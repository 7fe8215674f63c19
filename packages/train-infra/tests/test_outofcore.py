"""Out-of-core features: packed batches equal in-RAM gathers, less read amplification,
the cache serves the hottest rows, the prefetch loader trains a GNN."""

from __future__ import annotations

import itertools
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
    iter_packed,
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
    assert any(
        not np.array_equal(a.nodes, b.nodes) for a, b in zip(epoch.batches, batches, strict=True)
    ), "the cache should have moved some batch's cached rows behind its packed rows"
    with epoch.open() as reader:
        for index, batch in enumerate(epoch.batches):
            expected = gather_naive(batch, raw)
            assert np.array_equal(gather_packed(epoch, index, packed), expected)
            assert np.array_equal(gather_packed(epoch, index, reader), expected)
    for window in (1, 3, 64):
        streamed = list(iter_packed(epoch, window))
        assert len(streamed) == len(batches)
        for index in (0, 1, len(batches) - 1):
            assert np.array_equal(streamed[index], gather_naive(epoch.batches[index], raw))
    through_thread = [features for _, features in PrefetchLoader(epoch, depth=3, window=2)]
    assert len(through_thread) == len(batches)
    assert np.array_equal(through_thread[-1], gather_naive(epoch.batches[-1], raw))


def test_reordered_batches_keep_their_groups_and_edges(graph, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    batches = sample_epoch(graph, graph.train_nodes, 128, seed=4)
    epoch = pack_epoch(graph, batches, tmp_path, cache_rows=500)
    for index, (old, new, runs) in enumerate(zip(batches, epoch.batches, epoch.runs, strict=True)):
        assert (new.seeds, new.num_hop1) == (old.seeds, old.num_hop1)
        bounds = (0, old.seeds, old.num_hop1, old.nodes.size)
        for start, stop in itertools.pairwise(bounds):
            assert np.array_equal(np.sort(new.nodes[start:stop]), np.sort(old.nodes[start:stop]))
        for (old_src, old_dst), (new_src, new_dst) in zip(old.edges, new.edges, strict=True):
            assert np.array_equal(old.nodes[old_src], new.nodes[new_src])
            assert np.array_equal(old.nodes[old_dst], new.nodes[new_dst])
        # packed (uncached) rows first in each group, cached rows after them
        cached = np.zeros(new.nodes.size, dtype=bool)
        cached[epoch.cached_positions[index]] = True
        for start, cold_stop, stop in runs:
            assert not cached[start:cold_stop].any() and cached[cold_stop:stop].all()


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
    with pytest.raises(ValueError, match="one entry per node"):
        pack_epoch(graph, [], tmp_path, cache_rows=3, access_counts=np.ones(5))
    with pytest.raises(ValueError, match="window must be >= 1"):
        PrefetchLoader(pack_epoch(graph, [], tmp_path), window=0)
    with pytest.raises(ValueError, match="degree_exponent must be > 2"):
        make_graph(tmp_path / "g", 100, degree_exponent=1.5)


def test_power_law_graph_has_hubs_that_the_cache_serves(tmp_path: Path) -> None:
    flat = make_graph(tmp_path / "flat", 20_000, num_features=8, seed=0)
    skewed = make_graph(tmp_path / "skew", 20_000, num_features=8, seed=0, degree_exponent=2.5)
    flat_degree, skewed_degree = np.diff(flat.indptr), np.diff(skewed.indptr)
    assert skewed_degree.max() > 10 * flat_degree.max()
    assert abs(skewed_degree.mean() - flat_degree.mean()) < 0.1 * flat_degree.mean()
    served = {}
    for name, graph in (("flat", flat), ("skewed", skewed)):
        batches = sample_epoch(graph, graph.train_nodes, 256, seed=0)
        epoch = pack_epoch(graph, batches, tmp_path / name, cache_rows=2_000)
        hits = sum(p.size for p in epoch.cached_positions)
        served[name] = hits / sum(b.nodes.size for b in batches)
    # 10 % of the rows serve far more than 10 % of the reads once there are hubs
    assert served["skewed"] > 0.25 and served["skewed"] > 1.5 * served["flat"]


@pytest.mark.requires("torch_geometric")
def test_batches_convert_to_pyg(graph, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    batches = sample_epoch(graph, graph.train_nodes, 64, seed=0)
    epoch = pack_epoch(graph, batches, tmp_path)
    data = to_pyg(epoch.batches[0], gather_packed(epoch, 0, epoch.packed()), graph.labels)
    assert data.batch_size == batches[0].seeds  # type: ignore[attr-defined]
    assert data.edge_index.max() < data.num_nodes  # type: ignore[attr-defined]
