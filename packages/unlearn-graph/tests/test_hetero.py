from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from unlearn_graph.worlds.hetero import to_hetero_data


@dataclass
class _TinyWorld:
    """Two users (user 1 in ring 0), one device both use; user 1 is in the test split."""

    num_nodes: dict[str, int]
    edges: dict[tuple[str, str, str], np.ndarray]
    features: dict[str, np.ndarray]
    ring: dict[str, np.ndarray]
    partition: dict[str, np.ndarray]


def _tiny() -> _TinyWorld:
    return _TinyWorld(
        num_nodes={"user": 2, "device": 1},
        edges={("user", "uses_device", "device"): np.array([[0, 1], [0, 0]])},
        features={"user": np.eye(2, 3), "device": np.zeros((1, 3))},
        ring={"user": np.array([-1, 0]), "device": np.array([0])},
        partition={"user": np.array([0, 2]), "device": np.array([2])},
    )


def test_hetero_data_carries_features_labels_masks_and_edges() -> None:
    data = to_hetero_data(_tiny())
    assert data.node_types == ["user", "device"]
    assert data["user"].x.dtype == torch.float32 and data["user"].x.shape == (2, 3)
    assert data["user"].y.tolist() == [0, 1] and data["device"].y.tolist() == [1]
    assert data["user"].ring.tolist() == [-1, 0]
    assert data["user"].train_mask.tolist() == [True, False]
    assert data["user"].test_mask.tolist() == [False, True]
    assert not data["user"].val_mask.any()
    assert data["user", "uses_device", "device"].edge_index.tolist() == [[0, 1], [0, 0]]
    assert ("device", "rev_uses_device", "user") not in data.edge_types


def test_reverse_edges_point_back() -> None:
    data = to_hetero_data(_tiny(), reverse_edges=True)
    assert data["device", "rev_uses_device", "user"].edge_index.tolist() == [[0, 0], [0, 1]]
    data.validate()
