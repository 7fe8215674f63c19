from __future__ import annotations

import numpy as np
import pytest
from graph_algos.kernels import degrees
from graph_algos.methods.local import label_weighted_graph, local_cluster
from graph_algos.metrics.local import f1_score
from graph_algos.worlds.noisy_labels import noisy_label_world, noisy_labels


def test_label_weighted_graph_keeps_positive_edges_only() -> None:
    world = noisy_label_world(30, 3, 0.3, 0.05, 1.0, 0.0, seed=0)
    weighted = label_weighted_graph(world.adjacency, world.labels, epsilon=0.1)
    coo = weighted.tocoo()
    both = (world.labels[coo.row] == 1) & (world.labels[coo.col] == 1)
    assert np.all(coo.data[both] == 1.0) and np.all(coo.data[~both] == 0.1)
    assert weighted.nnz == world.adjacency.nnz


def test_noisy_labels_have_the_stated_rates() -> None:
    target = np.arange(2000)
    labels = noisy_labels(target, 10_000, 0.7, 0.1, seed=0)
    assert abs(labels[:2000].mean() - 0.7) < 0.03 and abs(labels[2000:].mean() - 0.1) < 0.02


def test_f1() -> None:
    assert f1_score([1, 2, 3, 4], [3, 4, 5, 6]) == pytest.approx(0.5)
    assert f1_score([], [1]) == 0.0


def test_weighted_diffusion_beats_unweighted_and_labels_alone() -> None:
    weighted_f1, plain_f1, label_f1 = [], [], []
    for seed in range(4):
        world = noisy_label_world(100, 8, 0.08, 0.004, 0.85, 0.04, seed=seed)
        start = int(world.target[seed])
        weighted = label_weighted_graph(world.adjacency, world.labels, 0.05)
        for graph, scores in ((weighted, weighted_f1), (world.adjacency, plain_f1)):
            mass = 1.5 * 100 * degrees(graph)[world.target].mean()
            found = local_cluster(graph, start, "flow", source_mass=mass)
            scores.append(f1_score(found, world.target))
        label_f1.append(f1_score(np.flatnonzero(world.labels), world.target))
    assert np.mean(weighted_f1) > np.mean(plain_f1) + 0.1
    assert np.mean(weighted_f1) > np.mean(label_f1)


def test_local_cluster_errors() -> None:
    world = noisy_label_world(20, 2, 0.3, 0.05, 1.0, 0.0, seed=0)
    with pytest.raises(ValueError, match="unknown diffusion 'heat'; accepted: flow, acl"):
        local_cluster(world.adjacency, 0, "heat")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"false_positive_rate must be a probability"):
        noisy_labels(world.target, 40, 0.9, 1.2)
