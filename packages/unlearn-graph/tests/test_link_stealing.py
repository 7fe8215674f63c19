from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from unlearn_graph.attacks.link_stealing import (
    DISTANCES,
    anchored_non_edges,
    link_stealing_auc,
    link_stealing_scores,
    node_posteriors,
    posterior_distance,
)
from unlearn_graph.config import BackboneConfig
from unlearn_graph.models import build_model

# Six nodes in three linked pairs; each pair shares a one-hot posterior.
POSTERIORS = np.array(
    [[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1]], dtype=float
)
EDGES = np.array([[0, 2, 4], [1, 3, 5]])
NON_EDGES = np.array([[0, 1, 3], [2, 4, 5]])


@pytest.mark.parametrize("metric", DISTANCES)
def test_identical_posteriors_of_edges_and_orthogonal_ones_of_non_edges_give_auc_one(
    metric: str,
) -> None:
    assert link_stealing_auc(POSTERIORS, EDGES, NON_EDGES, metric=metric) == 1.0  # type: ignore[arg-type]
    # swapping the roles turns the attack upside down
    assert link_stealing_auc(POSTERIORS, NON_EDGES, EDGES, metric=metric) == 0.0  # type: ignore[arg-type]


def test_equal_posteriors_everywhere_give_chance() -> None:
    flat = np.full((6, 3), 1 / 3)
    assert link_stealing_auc(flat, EDGES, NON_EDGES, metric="euclidean") == 0.5


def test_the_eight_distances_on_two_orthogonal_vectors_by_hand() -> None:
    a, b = np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]])
    expected = {
        "cosine": 1.0,
        "euclidean": math.sqrt(2),
        # centred: (0.5, -0.5) and (-0.5, 0.5), opposite, so 1 - (-1)
        "correlation": 2.0,
        "chebyshev": 1.0,
        "braycurtis": 1.0,  # (1 + 1) / (1 + 1)
        "canberra": 2.0,  # 1/1 + 1/1
        "cityblock": 2.0,
        "sqeuclidean": 2.0,
    }
    assert set(expected) == set(DISTANCES)
    for metric, value in expected.items():
        assert posterior_distance(a, b, metric)[0] == pytest.approx(value), metric  # type: ignore[arg-type]
    # a zero coordinate on both sides adds nothing to canberra (0/0 counts 0)
    assert posterior_distance(np.array([[0.5, 0.0]]), np.array([[0.25, 0.0]]), "canberra")[
        0
    ] == pytest.approx(0.25 / 0.75)
    # scores are minus the distance
    scores = link_stealing_scores(POSTERIORS, NON_EDGES, "cityblock")
    assert scores.tolist() == [-2.0, -2.0, -2.0]


def test_bad_inputs_name_the_value() -> None:
    with pytest.raises(ValueError, match="unknown distance 'hamming'; accepted: cosine"):
        posterior_distance(POSTERIORS, POSTERIORS, "hamming")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"pair ids must lie in 0\.\.5"):
        link_stealing_scores(POSTERIORS, np.array([[0], [6]]))
    with pytest.raises(ValueError, match=r"pairs must have shape \(2, K\)"):
        link_stealing_scores(POSTERIORS, np.array([0, 1]))


def test_anchored_non_edges_keep_the_anchor_and_are_never_edges() -> None:
    # a 5-node path 0-1-2-3-4: node 2's non-neighbours are 0 and 4
    path = np.array([[0, 1, 2, 3], [1, 2, 3, 4]])
    pairs = anchored_non_edges(np.array([2, 2, 0]), 5, path, per_anchor=20, seed=3)
    assert pairs.shape == (2, 60)
    assert pairs[0].tolist() == [2] * 40 + [0] * 20
    assert set(pairs[1, :40].tolist()) == {0, 4}
    assert set(pairs[1, 40:].tolist()) == {2, 3, 4}
    star = np.array([[0, 0], [1, 2]])
    with pytest.raises(ValueError, match="node 0 is linked to every other node"):
        anchored_non_edges(np.array([0]), 3, star)


def test_profile_posteriors_of_a_link_model_are_its_probabilities_to_the_anchors() -> None:
    model = build_model(4, BackboneConfig(backbone="gcn", hidden=8, num_layers=1), "link", None, 0)
    x = torch.randn(5, 4, generator=torch.Generator().manual_seed(0))
    edge_index = torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]])
    anchors = torch.tensor([4, 1])
    profiles = node_posteriors(model, x, edge_index, anchors)
    assert profiles.shape == (5, 2)
    with torch.no_grad():
        z = model.embed(x, edge_index)
    assert profiles[3, 0] == pytest.approx(float(torch.sigmoid(z[3] @ z[4])), abs=1e-6)
    assert profiles[0, 1] == pytest.approx(float(torch.sigmoid(z[0] @ z[1])), abs=1e-6)
    with pytest.raises(ValueError, match="need anchor nodes"):
        node_posteriors(model, x, edge_index)
