"""Dijkstra and A* on hand-worked graphs and against networkx."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
from graph_algos.kernels import astar, dijkstra, euclidean_heuristic


def _undirected(edges: list[tuple[int, int, float]], n: int) -> sp.csr_matrix:
    rows = [u for u, _, _ in edges] + [v for _, v, _ in edges]
    cols = [v for _, v, _ in edges] + [u for u, _, _ in edges]
    weights = [w for _, _, w in edges] * 2
    return sp.csr_matrix((weights, (rows, cols)), shape=(n, n))


# 0 -1- 1 -2- 2 -1- 3, with a long chord 0 -5- 2 and node 4 alone.
HAND = _undirected([(0, 1, 1.0), (1, 2, 2.0), (0, 2, 5.0), (2, 3, 1.0)], 5)


def test_dijkstra_on_a_hand_worked_graph() -> None:
    found = dijkstra(HAND, 0)
    assert found.distances.tolist() == [0.0, 1.0, 3.0, 4.0, np.inf]
    assert found.path_to(3) == [0, 1, 2, 3]
    assert found.path_to(4) == []
    assert found.predecessors[0] == -1


def test_astar_with_and_without_a_heuristic() -> None:
    exact_remaining = np.array([4.0, 3.0, 1.0, 0.0, 0.0])
    assert astar(HAND, 0, 3) == (4.0, [0, 1, 2, 3])
    assert astar(HAND, 0, 3, exact_remaining) == (4.0, [0, 1, 2, 3])
    assert astar(HAND, 0, 3, lambda node: float(exact_remaining[node])) == (4.0, [0, 1, 2, 3])
    assert astar(HAND, 0, 4) == (float("inf"), [])


def test_directed_edges_are_followed_one_way() -> None:
    one_way = sp.csr_matrix(([1.0, 1.0], ([0, 1], [1, 2])), shape=(3, 3))
    assert dijkstra(one_way, 0).distances.tolist() == [0.0, 1.0, 2.0]
    assert dijkstra(one_way, 2).distances.tolist() == [np.inf, np.inf, 0.0]


def test_dijkstra_and_astar_match_networkx_on_a_geometric_graph() -> None:
    rng = np.random.default_rng(3)
    points = rng.random((300, 2))
    graph = nx.random_geometric_graph(300, 0.12, pos=dict(enumerate(points)), seed=3)
    for u, v in graph.edges:
        graph[u][v]["weight"] = float(np.linalg.norm(points[u] - points[v])) * 1.5
    matrix = nx.to_scipy_sparse_array(graph, nodelist=range(300), weight="weight", format="csr")
    theirs = nx.single_source_dijkstra_path_length(graph, 0)
    ours = dijkstra(matrix, 0).distances
    assert np.allclose([ours[v] for v in theirs], list(theirs.values()))
    assert np.isinf(np.delete(ours, list(theirs))).all()
    reachable = [v for v in theirs if v != 0]
    for target in reachable[:: max(1, len(reachable) // 10)]:
        length, path = astar(matrix, 0, target, euclidean_heuristic(points, target))
        assert length == pytest.approx(theirs[target])
        assert path[0] == 0 and path[-1] == target
        assert sum(graph[a][b]["weight"] for a, b in itertools.pairwise(path)) == (
            pytest.approx(length)
        )


def test_bad_input_is_named() -> None:
    negative = sp.csr_matrix(([-1.0], ([0], [1])), shape=(2, 2))
    with pytest.raises(ValueError, match="non-negative"):
        dijkstra(negative, 0)
    with pytest.raises(ValueError, match="source 9 is not in the graph"):
        dijkstra(HAND, 9)
    with pytest.raises(ValueError, match="target -1"):
        astar(HAND, 0, -1)
    with pytest.raises(ValueError, match=r"one value per node, shape \(5,\)"):
        astar(HAND, 0, 3, np.zeros(3))
    with pytest.raises(ValueError, match="target 7"):
        dijkstra(HAND, 0).path_to(7)
