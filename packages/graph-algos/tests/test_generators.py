from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from graph_algos.worlds import generators


def test_pair_index_inverts() -> None:
    n = 9
    rows, cols = np.triu_indices(n, k=1)
    pairs = generators.pair_index(rows, cols, n)
    assert np.array_equal(pairs, np.arange(len(rows)))
    back_rows, back_cols = generators._pairs_to_edges(pairs, n)
    assert np.array_equal(back_rows, rows) and np.array_equal(back_cols, cols)


def test_erdos_renyi_is_symmetric_simple_and_has_expected_density() -> None:
    n, q = 300, 0.05
    counts = []
    for seed in range(20):
        adjacency = generators.erdos_renyi(n, q, seed)
        assert (adjacency != adjacency.T).nnz == 0
        assert adjacency.diagonal().sum() == 0
        counts.append(adjacency.nnz / 2)
    expected = q * n * (n - 1) / 2
    standard_error = np.sqrt(expected * (1 - q) / len(counts))
    assert abs(np.mean(counts) - expected) < 4 * standard_error


def test_erdos_renyi_is_reproducible_from_seed() -> None:
    assert (generators.erdos_renyi(50, 0.2, 3) != generators.erdos_renyi(50, 0.2, 3)).nnz == 0
    assert (generators.erdos_renyi(50, 0.2, 3) != generators.erdos_renyi(50, 0.2, 4)).nnz > 0


def test_degrees_agree_with_networkx() -> None:
    adjacency = generators.erdos_renyi(120, 0.1, 0)
    graph = nx.from_scipy_sparse_array(adjacency)
    ours = np.asarray(adjacency.sum(axis=1)).ravel()
    theirs = np.array([graph.degree[v] for v in range(120)])
    assert np.array_equal(ours, theirs)
    assert graph.number_of_edges() == adjacency.nnz // 2


@pytest.mark.parametrize(
    ("pattern", "edges", "top_degree"),
    [
        (generators.clique(6), 15, 5),
        (generators.star(6), 5, 5),
        (generators.path(6), 5, 2),
        (generators.cycle(6), 6, 2),
    ],
)
def test_pattern_shapes(pattern: object, edges: int, top_degree: int) -> None:
    assert pattern.num_edges == edges  # type: ignore[attr-defined]
    assert pattern.max_degree == top_degree  # type: ignore[attr-defined]


def test_random_tree_is_a_tree() -> None:
    for seed in range(5):
        tree = generators.random_tree(12, seed)
        graph = nx.Graph([tuple(e) for e in tree.edges])
        assert graph.number_of_nodes() == 12 and nx.is_tree(graph)


def test_dense_random_density() -> None:
    pattern = generators.dense_random(60, 0.5, 0)
    assert 0.4 < pattern.num_edges / (60 * 59 / 2) < 0.6


def test_planted_edges_present_when_p_is_one() -> None:
    pattern = generators.clique(10)
    planted = generators.planted_subgraph(200, 0.01, 1.0, pattern, seed=1)
    sub = planted.adjacency[planted.nodes][:, planted.nodes].toarray()
    assert sub.sum() == 10 * 9  # every pair of the clique, both directions


def test_bad_inputs_name_the_value() -> None:
    with pytest.raises(ValueError, match=r"q must be a probability in \[0, 1\], got 1\.5"):
        generators.erdos_renyi(10, 1.5)
    with pytest.raises(ValueError, match="unknown subgraph 'blob'; accepted: clique"):
        generators.make_subgraph("blob", 5)
    with pytest.raises(ValueError, match="k=20 vertices but the graph only n=10"):
        generators.planted_subgraph(10, 0.1, 0.5, generators.clique(20))
    with pytest.raises(ValueError, match="a cycle needs at least 3 vertices, got k=2"):
        generators.cycle(2)
