"""Graphs as node and edge tables (no database needed), and the store's missing-extra error."""

from __future__ import annotations

import sys
from types import SimpleNamespace
from typing import ClassVar

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
from graph_algos.store import GraphTables, Relation, as_tables, open_store


def test_a_symmetric_matrix_is_undirected_and_kept_once() -> None:
    matrix = sp.csr_matrix(([2.0, 2.0, 1.0, 1.0], ([0, 1, 1, 2], [1, 0, 2, 1])), shape=(3, 3))
    tables = as_tables(matrix)
    assert not tables.directed and tables.node_counts == {"Node": 3}
    (edges,) = tables.relations
    assert sorted(zip(edges.source.tolist(), edges.target.tolist(), strict=True)) == [
        (0, 1),
        (1, 2),
    ]
    assert sorted(edges.weight.tolist()) == [1.0, 2.0]
    directed = as_tables(sp.csr_matrix(([1.0], ([0], [2])), shape=(3, 3)))
    assert directed.directed and directed.relations[0].source.tolist() == [0]


def test_networkx_nodes_become_their_positions() -> None:
    graph = nx.Graph()
    graph.add_edge("a", "b", weight=3.0)
    graph.add_edge("b", "c")
    tables = as_tables(graph, node_type="Person", relation="Knows")
    (knows,) = tables.relations
    assert tables.node_counts == {"Person": 3} and not tables.directed
    assert knows.source.tolist() == [0, 1] and knows.target.tolist() == [1, 2]
    assert knows.weight.tolist() == [3.0, 1.0]


def test_pyg_like_data_is_read_without_torch() -> None:
    # Shaped like torch_geometric.data.Data: an undirected edge listed both ways.
    data = SimpleNamespace(
        edge_index=np.array([[0, 1, 1, 2], [1, 0, 2, 1]]),
        num_nodes=4,
        is_undirected=lambda: True,
    )
    tables = as_tables(data)
    assert tables.node_counts == {"Node": 4} and not tables.directed
    assert tables.relations[0].source.tolist() == [0, 1]
    assert tables.relations[0].target.tolist() == [1, 2]


class _FakeHetero:
    """Shaped like torch_geometric.data.HeteroData: ``data[type]`` and ``data[edge type]``."""

    node_types: ClassVar = ["user", "hotel"]
    edge_types: ClassVar = [("user", "reviews", "hotel"), ("user", "follows", "user")]

    def __getitem__(self, key: str | tuple[str, str, str]) -> SimpleNamespace:
        if key == "user":
            return SimpleNamespace(num_nodes=3)
        if key == "hotel":
            return SimpleNamespace(num_nodes=2)
        if key[1] == "reviews":
            return SimpleNamespace(edge_index=np.array([[0, 2], [1, 1]]))
        return SimpleNamespace(edge_index=np.array([[0], [1]]), edge_weight=np.array([0.5]))


def test_hetero_data_gives_a_table_per_type() -> None:
    tables = as_tables(_FakeHetero())
    assert tables.node_counts == {"user": 3, "hotel": 2} and tables.directed
    reviews, follows = tables.relations
    assert (reviews.source_type, reviews.name, reviews.target_type) == ("user", "reviews", "hotel")
    assert reviews.target.tolist() == [1, 1] and reviews.weight is None
    assert follows.weight.tolist() == [0.5]


def test_bad_tables_are_named() -> None:
    with pytest.raises(ValueError, match="'has space' cannot name a table"):
        Relation("user", "has space", "user", np.array([0]), np.array([0]))
    with pytest.raises(ValueError, match="2 sources but 1 targets"):
        Relation("user", "knows", "user", np.array([0, 1]), np.array([0]))
    with pytest.raises(ValueError, match="'ghost', which is not one of"):
        GraphTables({"user": 2}, [Relation("user", "knows", "ghost", np.array([0]), np.array([0]))])
    with pytest.raises(ValueError, match=r"ids of 'user' must be in 0..1, got 5..5"):
        GraphTables({"user": 2}, [Relation("user", "knows", "user", np.array([0]), np.array([5]))])
    with pytest.raises(ValueError, match="must be square"):
        as_tables(sp.csr_matrix((2, 3)))
    with pytest.raises(TypeError, match="cannot load a list"):
        as_tables([1, 2])


def test_unknown_engine_and_missing_extra_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(
        ValueError, match=r"unknown graph store engine 'neo5'; accepted: \['ladybug'\]"
    ):
        open_store("neo5")
    monkeypatch.setitem(sys.modules, "ladybug", None)  # as if the extra were not installed
    with pytest.raises(ImportError, match=r"graph-algos\[db\]"):
        open_store("ladybug")
