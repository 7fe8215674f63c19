"""A synthetic homophilous graph with features on disk, and offline epoch sampling."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class DiskGraph:
    """CSR adjacency and labels in RAM; node features in a raw memory-mapped file."""

    indptr: np.ndarray
    indices: np.ndarray
    labels: np.ndarray
    feature_path: Path
    num_features: int
    train_nodes: np.ndarray
    test_nodes: np.ndarray

    @property
    def num_nodes(self) -> int:
        return int(self.labels.shape[0])

    def features(self) -> np.ndarray:
        """The raw feature file, memory-mapped read-only (rows are node ids)."""
        return np.memmap(
            self.feature_path, dtype=np.float32, mode="r", shape=(self.num_nodes, self.num_features)
        )


def make_graph(
    directory: str | Path,
    num_nodes: int,
    avg_degree: int = 10,
    num_features: int = 64,
    num_classes: int = 8,
    homophily: float = 0.8,
    noise: float = 3.0,
    seed: int = 0,
    degree_exponent: float | None = None,
) -> DiskGraph:
    """A planted-partition graph: a fraction ``homophily`` of edges join same-class nodes.

    With ``degree_exponent=None`` every endpoint is uniform (Poisson degrees, no hubs).
    With a value γ > 2 endpoints are drawn Chung–Lu style with weight ``(rank + 1) **
    (-1 / (γ - 1))``, so degrees follow a power law of exponent γ, as in the web, citation
    and social graphs that out-of-core training targets (hubs appear in most batches;
    this is what a RAM cache of hot rows exploits). Hubs get random ids, so the feature
    file holds them scattered.

    Features are the class centroid plus Gaussian noise of scale ``noise`` (large enough
    that neighbours must be aggregated), written to ``directory/features.f32``.
    """
    if num_nodes < 2 * num_classes:
        raise ValueError(f"num_nodes must be at least 2 * num_classes, got {num_nodes}")
    if not 0.0 <= homophily <= 1.0:
        raise ValueError(f"homophily must lie in [0, 1], got {homophily}")
    if degree_exponent is not None and not degree_exponent > 2.0:
        raise ValueError(
            f"degree_exponent must be > 2 (a finite mean degree) or None, got {degree_exponent}"
        )
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, num_classes, num_nodes)
    by_class = [np.flatnonzero(labels == c) for c in range(num_classes)]
    num_edges = num_nodes * avg_degree // 2
    if degree_exponent is None:
        weight = np.ones(num_nodes)
    else:
        weight = rng.permutation((np.arange(num_nodes) + 1.0) ** (-1.0 / (degree_exponent - 1)))

    def draw(pool: np.ndarray, count: int) -> np.ndarray:
        if degree_exponent is None:
            return pool[rng.integers(0, len(pool), count)]
        cumulative = np.cumsum(weight[pool])
        picks = np.searchsorted(cumulative, rng.random(count) * cumulative[-1], side="right")
        return pool[np.minimum(picks, len(pool) - 1)]

    everyone = np.arange(num_nodes)
    src = draw(everyone, num_edges)
    same = rng.random(num_edges) < homophily
    dst = draw(everyone, num_edges)
    for c in range(num_classes):
        pick = same & (labels[src] == c)
        dst[pick] = draw(by_class[c], int(pick.sum()))
    keep = src != dst
    src, dst = src[keep], dst[keep]
    both_src = np.concatenate([src, dst])
    both_dst = np.concatenate([dst, src])
    order = np.argsort(both_src, kind="stable")
    indices = both_dst[order].astype(np.int64)
    indptr = np.zeros(num_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(both_src, minlength=num_nodes), out=indptr[1:])
    centroids = rng.normal(0, 1, (num_classes, num_features)).astype(np.float32)
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    path = root / "features.f32"
    features = np.memmap(path, dtype=np.float32, mode="w+", shape=(num_nodes, num_features))
    for start in range(0, num_nodes, 65536):
        stop = min(start + 65536, num_nodes)
        block = rng.normal(0, noise, (stop - start, num_features)).astype(np.float32)
        features[start:stop] = centroids[labels[start:stop]] + block
    features.flush()
    del features
    perm = rng.permutation(num_nodes)
    cut = int(0.8 * num_nodes)
    return DiskGraph(
        indptr, indices, labels, path, num_features, np.sort(perm[:cut]), np.sort(perm[cut:])
    )


@dataclass
class SampledBatch:
    """One mini-batch of a sampled epoch.

    ``nodes`` are global ids, seeds first, then the other hop-1 nodes (``num_hop1`` in
    all, seeds included), then hop-2 nodes. ``edges[h]`` are (source, target) local ids
    of hop ``h + 1``: hop 1 targets are seeds, hop 2 targets are hop-1 nodes.
    """

    seeds: int
    num_hop1: int
    nodes: np.ndarray
    edges: list[tuple[np.ndarray, np.ndarray]]


def _sample_neighbours(
    indptr: np.ndarray,
    indices: np.ndarray,
    targets: np.ndarray,
    fanout: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """``fanout`` neighbours per target, uniformly with replacement; isolated ones skip."""
    degree = indptr[targets + 1] - indptr[targets]
    has = degree > 0
    rows = np.repeat(np.flatnonzero(has), fanout)
    picks = indptr[targets[rows]] + (rng.random(rows.size) * degree[has].repeat(fanout)).astype(
        np.int64
    )
    return rows, indices[picks]


def _first_occurrence(ids: np.ndarray) -> np.ndarray:
    _, first = np.unique(ids, return_index=True)
    return ids[np.sort(first)]


def sample_epoch(
    graph: DiskGraph,
    seeds: np.ndarray,
    batch_size: int,
    fanouts: tuple[int, int] = (10, 5),
    seed: int = 0,
) -> list[SampledBatch]:
    """Two-hop neighbour sampling of a whole epoch, done before training starts."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(seeds)
    batches = []
    for start in range(0, len(order), batch_size):
        batch_seeds = order[start : start + batch_size]
        rows1, hop1 = _sample_neighbours(graph.indptr, graph.indices, batch_seeds, fanouts[0], rng)
        level1 = _first_occurrence(np.concatenate([batch_seeds, hop1]))
        rows2, hop2 = _sample_neighbours(graph.indptr, graph.indices, level1, fanouts[1], rng)
        nodes = _first_occurrence(np.concatenate([level1, hop2]))
        sorter = np.argsort(nodes)

        def local(
            ids: np.ndarray, nodes: np.ndarray = nodes, sorter: np.ndarray = sorter
        ) -> np.ndarray:
            return sorter[np.searchsorted(nodes, ids, sorter=sorter)]

        edges = [(local(hop1), rows1), (local(hop2), rows2)]
        batches.append(SampledBatch(len(batch_seeds), len(level1), nodes, edges))
    return batches
