"""Modularity and Louvain on hand-worked examples, networkx, igraph and leidenalg."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
from graph_algos.kernels import communities, leiden, louvain, louvain_igraph, modularity
from graph_algos.kernels.communities import _aggregate, _colour_classes
from graph_algos.worlds.generators import erdos_renyi, stochastic_block_model


def _triangles() -> sp.csr_matrix:
    """Two triangles {0,1,2}, {3,4,5} joined by the edge 2-3 (m = 7)."""
    edges = [(0, 1), (1, 2), (0, 2), (3, 4), (4, 5), (3, 5), (2, 3)]
    rows = [u for u, _ in edges] + [v for _, v in edges]
    cols = [v for _, v in edges] + [u for u, _ in edges]
    return sp.csr_matrix((np.ones(14), (rows, cols)), shape=(6, 6))


ENGINES = ["numpy", pytest.param("numba", marks=pytest.mark.requires("numba"))]


def _two_cliques() -> sp.csr_matrix:
    """Two 4-cliques {0..3}, {4..7} joined by the edge 3-4 (m = 13)."""
    edges = [
        (u, v) for side in (0, 4) for u in range(side, side + 4) for v in range(u + 1, side + 4)
    ]
    edges.append((3, 4))
    rows = [u for u, _ in edges] + [v for _, v in edges]
    cols = [v for _, v in edges] + [u for u, _ in edges]
    return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(8, 8))


def _weighted_with_self_loops(seed: int) -> sp.csr_matrix:
    """Planted blocks with weights uniform in [1, 10] and a self-loop on every fifth
    node: non-integer sums, and the self-loop branch of the moves."""
    matrix, _ = _planted(seed)
    upper = sp.triu(matrix, k=1).tocoo()
    weights = np.random.default_rng(seed).uniform(1.0, 10.0, upper.nnz)
    weighted = sp.coo_matrix((weights, (upper.row, upper.col)), shape=matrix.shape)
    loops = sp.diags(np.where(np.arange(matrix.shape[0]) % 5 == 0, 2.0, 0.0))
    return sp.csr_matrix(weighted + weighted.T + loops)


def _planted(seed: int = 0) -> tuple[sp.csr_matrix, np.ndarray]:
    sizes = [60] * 5
    probabilities = np.full((5, 5), 0.01)
    np.fill_diagonal(probabilities, 0.3)
    return stochastic_block_model(sizes, probabilities, seed)


def test_modularity_of_the_two_triangles_by_hand() -> None:
    # Each triangle: 3 inner edges (6 ordered pairs) and strength 7, so
    # Q = 2 (6/14 - (7/14)^2) = 5/14; everything in one community: 14/14 - 1 = 0.
    assert modularity(_triangles(), [0, 0, 0, 1, 1, 1]) == pytest.approx(5 / 14)
    assert modularity(_triangles(), [3, 3, 3, 3, 3, 3]) == pytest.approx(0.0)
    # gamma = 2 doubles the null-model term: 6/7 - 2 * 2 * (1/2)^2 = -1/7.
    assert modularity(_triangles(), [0, 0, 0, 1, 1, 1], resolution=2.0) == pytest.approx(-1 / 7)


def test_modularity_matches_networkx() -> None:
    matrix = erdos_renyi(200, 0.05, seed=1)
    graph = nx.from_scipy_sparse_array(matrix)
    labels = np.random.default_rng(1).integers(0, 4, 200)
    parts = [set(np.flatnonzero(labels == c).tolist()) for c in range(4)]
    for gamma in (0.5, 1.0):
        theirs = nx.community.modularity(graph, parts, resolution=gamma)
        assert modularity(matrix, labels, gamma) == pytest.approx(theirs)


def test_louvain_splits_the_two_triangles() -> None:
    found = louvain(_triangles(), seed=0)
    assert found.membership.tolist() in ([0, 0, 0, 1, 1, 1], [1, 1, 1, 0, 0, 0])
    assert found.modularity == pytest.approx(5 / 14)
    assert found.count == 2


@pytest.mark.parametrize("engine", ENGINES)
def test_louvain_splits_two_cliques_joined_by_an_edge(engine: str) -> None:
    # m = 13 (6 edges per clique and the bridge), 2m = 26. Each clique keeps 12 ordered
    # pairs inside and has strength 4 * 3 + 1 = 13, so
    # Q = 2 (12/26 - (13/26)^2) = 12/13 - 1/2 = 11/26 = 0.42307...
    found = louvain(_two_cliques(), seed=0, engine=engine)
    assert found.engine == engine
    assert found.count == 2
    assert found.membership.tolist() in ([0] * 4 + [1] * 4, [1] * 4 + [0] * 4)
    assert found.modularity == pytest.approx(11 / 26)
    assert modularity(_two_cliques(), [0] * 4 + [1] * 4) == pytest.approx(11 / 26)


@pytest.mark.requires("numba")
def test_compiled_colouring_is_the_numpy_colouring() -> None:
    from graph_algos.kernels.communities_compiled import colour_classes

    matrix = _weighted_with_self_loops(3)
    priority = np.random.default_rng(3).permutation(matrix.shape[0])
    class_ptr, class_nodes = colour_classes(matrix.indptr, matrix.indices, priority)
    ours = [class_nodes[a:b].tolist() for a, b in itertools.pairwise(class_ptr)]
    assert ours == [c.tolist() for c in _colour_classes(matrix, priority)]
    assert len(ours) > 2  # a colouring with several classes, not a trivial one


@pytest.mark.requires("numba")
@pytest.mark.parametrize(
    ("graph", "resolution"),
    [("planted", 1.0), ("random", 1.0), ("weighted", 1.0), ("weighted", 0.5)],
)
def test_numba_and_numpy_engines_give_the_same_partition(graph: str, resolution: float) -> None:
    matrix = {
        "planted": lambda: _planted(2)[0],
        "random": lambda: erdos_renyi(300, 0.03, seed=4),
        "weighted": lambda: _weighted_with_self_loops(5),
    }[graph]()
    compiled = louvain(matrix, resolution, seed=7, engine="numba")
    plain = louvain(matrix, resolution, seed=7, engine="numpy")
    assert (compiled.engine, plain.engine) == ("numba", "numpy")
    assert np.array_equal(compiled.membership, plain.membership)
    assert compiled.levels == plain.levels
    assert compiled.modularity == plain.modularity
    assert compiled.count > 1


def test_engine_choice_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="engine must be 'auto', 'numba' or 'numpy'"):
        louvain(_triangles(), engine="cython")  # type: ignore[arg-type]
    monkeypatch.setattr(communities, "_compiled_kernels", lambda: None)  # numba missing
    with pytest.raises(ImportError, match=r"graph-algos\[fast\]"):
        louvain(_triangles(), engine="numba")
    assert louvain(_triangles(), seed=0).engine == "numpy"  # auto falls back


def test_louvain_recovers_planted_blocks_and_is_seeded() -> None:
    matrix, blocks = _planted()
    found = louvain(matrix, seed=0)
    pairs = {(int(b), int(c)) for b, c in zip(blocks, found.membership, strict=True)}
    assert len(pairs) == 5 and found.count == 5  # one community per block
    again = louvain(matrix, seed=0)
    assert np.array_equal(found.membership, again.membership)
    graph = nx.from_scipy_sparse_array(matrix)
    theirs = nx.community.modularity(graph, nx.community.louvain_communities(graph, seed=0))
    assert found.modularity >= 0.99 * theirs


def test_louvain_quality_near_networkx_without_planted_structure() -> None:
    matrix = erdos_renyi(400, 0.03, seed=2)
    graph = nx.from_scipy_sparse_array(matrix)
    theirs = nx.community.modularity(graph, nx.community.louvain_communities(graph, seed=2))
    assert louvain(matrix, seed=2).modularity >= 0.97 * theirs


def test_aggregation_keeps_modularity() -> None:
    matrix, blocks = _planted(1)
    merged = _aggregate(matrix, blocks)
    assert merged.shape == (5, 5)
    assert modularity(merged, np.arange(5)) == pytest.approx(modularity(matrix, blocks))


def test_bad_input_is_named() -> None:
    with pytest.raises(ValueError, match="symmetric"):
        louvain(sp.csr_matrix(([1.0], ([0], [1])), shape=(2, 2)))
    with pytest.raises(ValueError, match="without edges"):
        modularity(sp.csr_matrix((3, 3)), [0, 1, 2])
    with pytest.raises(ValueError, match="resolution must be positive"):
        louvain(_triangles(), resolution=0.0)
    with pytest.raises(ValueError, match="6 integer labels"):
        modularity(_triangles(), [0, 1])


@pytest.mark.requires("igraph")
def test_igraph_louvain_agrees_on_planted_blocks() -> None:
    matrix, _ = _planted()
    theirs = louvain_igraph(matrix, seed=0)
    assert theirs.modularity == pytest.approx(modularity(matrix, theirs.membership))
    assert louvain(matrix, seed=0).modularity == pytest.approx(theirs.modularity, rel=0.01)


@pytest.mark.requires("leidenalg")
def test_leiden_agrees_on_planted_blocks() -> None:
    matrix, _ = _planted()
    theirs = leiden(matrix, seed=0)
    assert theirs.count == 5
    assert louvain(matrix, seed=0).modularity == pytest.approx(theirs.modularity, rel=0.01)
