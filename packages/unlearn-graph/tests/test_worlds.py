from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from torch_geometric.data import Data
from unlearn_graph.worlds import (
    WORLD_PARAMS,
    CSBMConfig,
    PlanetoidConfig,
    contextual_sbm,
    from_pyg,
    karate_club,
    load_planetoid_dir,
    load_world,
)
from unlearn_schema import NoParams


def test_csbm_is_seeded_and_follows_its_knobs() -> None:
    config = CSBMConfig(num_nodes=1000, average_degree=12, homophily=0.9, num_features=8)
    a, b = contextual_sbm(config, seed=3), contextual_sbm(config, seed=3)
    assert np.array_equal(a.edges, b.edges) and np.array_equal(a.x, b.x)
    assert not np.array_equal(contextual_sbm(config, seed=4).edges, a.edges)
    assert a.num_nodes == 1000 and a.x.shape == (1000, 8)
    assert abs(a.edges.shape[1] - 6000) < 300  # average degree 12 -> 6000 edges
    assert (a.edges[0] < a.edges[1]).all()
    inside = (a.y[a.edges[0]] == a.y[a.edges[1]]).mean()
    # homophily 0.9 plus the chance 1/4 that a cross-community draw lands inside
    assert 0.88 < inside < 0.96
    low = contextual_sbm(config.model_copy(update={"homophily": 0.1}), seed=3)
    assert (low.y[low.edges[0]] == low.y[low.edges[1]]).mean() < 0.4


def test_csbm_features_carry_the_communities() -> None:
    graph = contextual_sbm(CSBMConfig(num_nodes=800, feature_signal=3.0), seed=0)
    means = np.stack([graph.x[graph.y == c].mean(0) for c in range(4)])
    nearest = ((graph.x[:, None] - means[None]) ** 2).sum(-1).argmin(1)
    assert (nearest == graph.y).mean() > 0.8


def test_karate_club_ships_with_pyg() -> None:
    graph = karate_club()
    assert graph.num_nodes == 34 and graph.edges.shape[1] == 78


def test_from_pyg_makes_edges_undirected_and_names_missing_fields() -> None:
    data = Data(
        x=torch.ones(4, 2),
        y=torch.tensor([0, 1, 0, 1]),
        edge_index=torch.tensor([[0, 1, 2, 2], [1, 0, 3, 2]]),
    )
    graph = from_pyg(data)
    assert graph.edges.tolist() == [[0, 2], [1, 3]]  # duplicate reverse edge and self-loop gone
    with pytest.raises(ValueError, match="lacks y"):
        from_pyg(Data(x=torch.ones(2, 2), edge_index=torch.zeros(2, 0, dtype=torch.long)))
    with pytest.raises(ValueError, match=r"outside 0\.\.3"):
        from_pyg(Data(x=torch.ones(4, 2), y=torch.zeros(4), edge_index=torch.tensor([[0], [9]])))


def _write_planetoid(folder: Path, name: str) -> None:
    # PyG's reader takes the 500 nodes after the labelled ones as validation nodes, so the
    # smallest valid folder has 2 labelled + 500 unlabelled (allx) + 2 test nodes.
    rng = np.random.default_rng(0)
    n_all, n_test = 502, 2
    feats = rng.random((n_all + n_test, 3)).astype(np.float32)
    labels = np.arange(n_all + n_test) % 2
    onehot = np.eye(2)[labels]
    objects = {
        "x": sp.csr_matrix(feats[:2]),
        "y": onehot[:2],
        "allx": sp.csr_matrix(feats[:n_all]),
        "ally": onehot[:n_all],
        "tx": sp.csr_matrix(feats[n_all:]),
        "ty": onehot[n_all:],
        # a path 0 - 1 - ... - 503
        "graph": {
            i: [j for j in (i - 1, i + 1) if 0 <= j < n_all + n_test] for i in range(n_all + n_test)
        },
    }
    for key, value in objects.items():
        with open(folder / f"ind.{name}.{key}", "wb") as handle:
            pickle.dump(value, handle)
    (folder / f"ind.{name}.test.index").write_text(f"{n_all}\n{n_all + 1}\n")


def test_planetoid_folder_loads_from_disk(tmp_path: Path) -> None:
    _write_planetoid(tmp_path, "tiny")
    graph = load_planetoid_dir(tmp_path, "tiny")
    assert graph.num_nodes == 504 and graph.x.shape == (504, 3)
    assert graph.y.tolist() == [i % 2 for i in range(504)]
    assert graph.edges.shape[1] == 503


def test_planetoid_folder_names_missing_files(tmp_path: Path) -> None:
    _write_planetoid(tmp_path, "tiny")
    (tmp_path / "ind.tiny.graph").unlink()
    with pytest.raises(FileNotFoundError, match=r"ind\.tiny\.graph"):
        load_planetoid_dir(tmp_path, "tiny")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_planetoid_dir(tmp_path / "nowhere", "tiny")


def test_load_world_builds_each_declared_world(tmp_path: Path) -> None:
    _write_planetoid(tmp_path, "tiny")
    config = CSBMConfig(num_nodes=50)
    assert np.array_equal(load_world("csbm", config, 3).edges, contextual_sbm(config, 3).edges)
    assert load_world("karate", NoParams(), 0).num_nodes == 34
    planetoid = PlanetoidConfig(folder=str(tmp_path), name="tiny")
    assert load_world("planetoid", planetoid, 0).num_nodes == 504
    assert set(WORLD_PARAMS) == {"csbm", "karate", "planetoid"}
    with pytest.raises(ValueError, match=r"world 'karate' with params CSBMConfig.*accepted: csbm"):
        load_world("karate", config, 0)
