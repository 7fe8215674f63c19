"""The LadybugDB store (extra graph-algos[db]): loading, Cypher, and the tutorial's
operations checked against networkx and our kernels."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
from graph_algos.kernels import betweenness, closeness, dijkstra, louvain
from graph_algos.store import (
    GraphStore,
    GraphTables,
    Relation,
    centrality,
    communities,
    degrees,
    load_graph,
    neighbourhood,
    open_store,
    shortest_path_lengths,
    to_csr,
)
from graph_algos.worlds.generators import erdos_renyi

pytestmark = pytest.mark.requires("ladybug")


@pytest.fixture
def weighted() -> sp.csr_matrix:
    matrix = erdos_renyi(300, 0.03, seed=4)
    upper = sp.triu(matrix).tocsr()
    upper.data = np.random.default_rng(4).uniform(0.5, 2.0, upper.nnz)
    return (upper + upper.T).tocsr()


def test_a_scipy_graph_round_trips(weighted: sp.csr_matrix) -> None:
    with load_graph(weighted) as store:
        assert isinstance(store, GraphStore)
        assert store.schema.node_counts == {"Node": 300} and not store.schema.directed
        assert abs(to_csr(store) - weighted).max() == pytest.approx(0.0)
        assert np.array_equal(degrees(store), np.diff(weighted.indptr))


def test_cypher_answers_come_back_as_arrays(weighted: sp.csr_matrix) -> None:
    with load_graph(weighted) as store:
        found = store.query(
            "MATCH (a:Node)-[e:Edge]-(b:Node) WHERE a.id = $node RETURN b.id AS n, e.weight AS w",
            {"node": 0},
        )
        row = weighted.getrow(0)
        assert found["n"].dtype == np.int64 and found["w"].dtype == np.float64
        order = np.argsort(found["n"])
        assert found["n"][order].tolist() == row.indices.tolist()
        assert np.allclose(found["w"][order], row.data)
        empty = store.query("MATCH (a:Node) WHERE a.id < 0 RETURN a.id AS n")
        assert empty["n"].shape == (0,)
        with pytest.raises(ValueError, match="the query failed"):
            store.query("MATCH (a:Nope) RETURN a")


def test_paths_and_neighbourhoods_match_networkx_and_ours(weighted: sp.csr_matrix) -> None:
    graph = nx.from_scipy_sparse_array(weighted)
    with load_graph(weighted) as store:
        by_query = shortest_path_lengths(store, 5)
        assert np.allclose(by_query, dijkstra(weighted, 5).distances)
        hops = shortest_path_lengths(store, 5, weighted=False)
        theirs = nx.single_source_shortest_path_length(graph, 5)
        assert all(hops[v] == d for v, d in theirs.items())
        two_hop = set(nx.single_source_shortest_path_length(graph, 5, cutoff=2)) - {5}
        assert neighbourhood(store, 5, hops=2).tolist() == sorted(two_hop)


def test_kernels_run_on_the_stored_graph(weighted: sp.csr_matrix) -> None:
    with load_graph(weighted) as store:
        assert np.allclose(centrality(store, "closeness"), closeness(weighted))
        assert np.allclose(centrality(store, "betweenness"), betweenness(weighted))
        assert np.array_equal(centrality(store, "degree"), np.diff(weighted.indptr))
        assert communities(store, seed=0).modularity == pytest.approx(
            louvain(weighted, seed=0).modularity
        )
        with pytest.raises(ValueError, match="unknown centrality 'fame'"):
            centrality(store, "fame")


def test_directed_networkx_graph_keeps_direction() -> None:
    graph = nx.DiGraph([(0, 1), (1, 2)])
    with load_graph(graph) as store:
        assert store.schema.directed
        assert degrees(store).tolist() == [1, 1, 0]
        assert shortest_path_lengths(store, 2).tolist() == [np.inf, np.inf, 0.0]
        assert neighbourhood(store, 0, hops=2).tolist() == [1, 2]


def test_typed_tables_and_a_store_on_disk(tmp_path: Path) -> None:
    tables = GraphTables(
        {"user": 3, "hotel": 2},
        [Relation("user", "reviews", "hotel", np.array([0, 1, 2]), np.array([1, 1, 0]))],
    )
    with open_store("ladybug", tmp_path / "db") as store:
        store.load(tables)
        found = store.query(
            "MATCH (u:user)-[:reviews]->(h:hotel {id: 1}) RETURN u.id AS user ORDER BY user"
        )
        assert found["user"].tolist() == [0, 1]
        with pytest.raises(ValueError, match=r"already holds tables named \['user', 'hotel'"):
            store.load(tables)
        with pytest.raises(ValueError, match="joins 'user' to 'hotel'"):
            degrees(store)
    with open_store("ladybug", tmp_path / "db") as reopened:
        assert reopened.schema.node_counts == {"user": 3, "hotel": 2}
        assert reopened.schema.relations == {"reviews": ("user", "hotel")}
        assert reopened.schema.directed


@pytest.mark.slow  # importing torch_geometric alone takes tens of seconds on 2 cores
@pytest.mark.requires("torch_geometric")
def test_real_pyg_data_loads() -> None:
    import torch
    from torch_geometric.data import Data

    data = Data(edge_index=torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]]), num_nodes=3)
    with load_graph(data) as store:
        assert not store.schema.directed
        assert degrees(store).tolist() == [1, 2, 1]


def test_an_unweighted_graph_reads_back_by_bulk_export() -> None:
    matrix = erdos_renyi(400, 0.02, seed=5)  # every weight 1: the COPY TO path
    with load_graph(matrix) as store:
        source, target, weight = store.edge_arrays("Edge")  # type: ignore[attr-defined]
        assert source.dtype == np.int64 and target.dtype == np.int64
        assert set(weight.tolist()) == {1.0}
        assert len(source) == matrix.nnz // 2
        assert (to_csr(store) != matrix).nnz == 0
        with pytest.raises(ValueError, match="no edge table 'Road'"):
            store.edge_arrays("Road")  # type: ignore[attr-defined]
