from __future__ import annotations

from collections.abc import Callable

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
from graph_algos.kernels import (
    acl_push,
    betweenness,
    closeness,
    connected_components,
    core_numbers,
    l2_flow_diffusion,
    maximum_matching_size,
    pagerank,
    require_connected,
    sweep_cut,
)
from graph_algos.worlds.generators import (
    barabasi_albert,
    erdos_renyi,
    hierarchical_probabilities,
    hierarchical_sbm,
    stochastic_block_model,
)
from scipy.sparse import csgraph


def _as_array(values: dict[int, float], n: int) -> np.ndarray:
    return np.array([values[i] for i in range(n)])


@pytest.fixture(scope="module")
def scale_free() -> sp.csr_matrix:
    return barabasi_albert(250, 2, seed=0)


def test_sbm_block_densities_match_the_matrix() -> None:
    adjacency, labels = stochastic_block_model([150, 100], [[0.2, 0.02], [0.02, 0.1]], seed=0)
    assert (adjacency != adjacency.T).nnz == 0 and adjacency.diagonal().sum() == 0
    a, b = np.flatnonzero(labels == 0), np.flatnonzero(labels == 1)
    assert abs(adjacency[a][:, a].sum() / (150 * 149) - 0.2) < 0.01
    assert abs(adjacency[a][:, b].sum() / (150 * 100) - 0.02) < 0.005
    assert abs(adjacency[b][:, b].sum() / (100 * 99) - 0.1) < 0.01


def test_hierarchical_probabilities_follow_the_tree() -> None:
    matrix = hierarchical_probabilities([0.01, 0.05, 0.3])
    assert matrix[0, 0] == 0.3 and matrix[0, 1] == 0.05 and matrix[0, 2] == 0.01
    assert matrix[2, 3] == 0.05 and matrix[1, 3] == 0.01
    adjacency, leaf = hierarchical_sbm(30, [0.01, 0.05, 0.3], seed=1)
    assert adjacency.shape == (120, 120) and np.bincount(leaf).tolist() == [30] * 4


def test_barabasi_albert_edge_count_and_heavy_tail() -> None:
    adjacency = barabasi_albert(2000, 3, seed=0)
    assert adjacency.nnz // 2 == 3 + (2000 - 4) * 3
    degree = np.diff(adjacency.indptr)
    assert degree.min() >= 3 and degree.max() > 10 * np.median(degree)


def test_generator_errors_name_the_value() -> None:
    with pytest.raises(ValueError, match=r"block probabilities must lie in \[0, 1\], got \[1.5"):
        stochastic_block_model([3, 3], [[1.5, 0.1], [0.1, 0.2]])
    with pytest.raises(ValueError, match=r"level_probabilities\[1\] must be a probability"):
        hierarchical_sbm(5, [0.1, -0.2])
    with pytest.raises(ValueError, match="m must satisfy 1 <= m < n=5, got m=7"):
        barabasi_albert(5, 7)


def test_pagerank_agrees_with_networkx(scale_free: sp.csr_matrix) -> None:
    ours = pagerank(scale_free, alpha=0.85, tol=1e-12)
    theirs = nx.pagerank(nx.from_scipy_sparse_array(scale_free), alpha=0.85, tol=1e-12)
    assert np.abs(ours - _as_array(theirs, 250)).max() < 1e-8


def test_pagerank_with_dangling_nodes_and_personalisation() -> None:
    # A directed graph whose node 4 has no out-edges (dangling).
    dense = np.zeros((5, 5))
    for u, v in [(0, 1), (0, 2), (0, 3), (1, 2), (2, 0), (2, 4), (3, 2)]:
        dense[u, v] = 1.0
    matrix = sp.csr_matrix(dense)
    graph = nx.from_scipy_sparse_array(matrix, create_using=nx.DiGraph)
    weights = np.array([0.5, 0.1, 0.1, 0.1, 0.2])
    ours = pagerank(matrix, personalization=weights, tol=1e-13)
    theirs = nx.pagerank(graph, personalization=dict(enumerate(weights)), tol=1e-13)
    assert np.abs(ours - _as_array(theirs, 5)).max() < 1e-9


def test_betweenness_exact_agrees_with_networkx(scale_free: sp.csr_matrix) -> None:
    graph = nx.from_scipy_sparse_array(scale_free)
    for normalized in (True, False):
        ours = betweenness(scale_free, normalized=normalized, batch=37)
        theirs = nx.betweenness_centrality(graph, normalized=normalized)
        assert np.abs(ours - _as_array(theirs, 250)).max() < 1e-9


def test_sampled_betweenness_is_unbiased_and_all_sources_is_exact(
    scale_free: sp.csr_matrix,
) -> None:
    exact = betweenness(scale_free)
    assert np.allclose(betweenness(scale_free, samples=250, seed=3), exact)
    estimates = np.mean([betweenness(scale_free, samples=50, seed=s) for s in range(20)], axis=0)
    top = np.argsort(exact)[-10:]
    assert np.abs(estimates[top] - exact[top]).max() < 0.25 * exact[top].max()


def test_components_closeness_and_cores_agree_with_networkx() -> None:
    adjacency = erdos_renyi(300, 0.005, seed=4)  # below the connectivity threshold
    graph = nx.from_scipy_sparse_array(adjacency)
    count, labels = connected_components(adjacency)
    assert count == nx.number_connected_components(graph) > 1
    for component in nx.connected_components(graph):
        assert len(set(labels[list(component)])) == 1
    expected = _as_array(nx.closeness_centrality(graph), 300)
    assert np.abs(closeness(adjacency) - expected).max() < 1e-12
    assert np.array_equal(core_numbers(adjacency), _as_array(nx.core_number(graph), 300))


def test_matching_size_agrees_with_networkx(
    networkx_matching_size: Callable[[sp.spmatrix], int],
) -> None:
    rng = np.random.default_rng(0)
    bipartite = sp.random(40, 30, density=0.06, random_state=rng, format="csr")
    bipartite.data[:] = 1.0
    assert maximum_matching_size(bipartite) == networkx_matching_size(bipartite)


def test_require_connected_names_the_components() -> None:
    adjacency = erdos_renyi(100, 0.005, seed=4)
    with pytest.raises(ValueError, match=r"spectral embedding needs a connected graph, but"):
        require_connected(adjacency, "spectral embedding")


def test_acl_push_meets_its_residual_guarantee(scale_free: sp.csr_matrix) -> None:
    epsilon, alpha = 1e-4, 0.15
    result = acl_push(scale_free, 7, alpha, epsilon)
    degree = np.asarray(scale_free.sum(axis=1)).ravel()
    # The lazy-walk PPR: p = α e_s + (1−α) W p with W = (I + D⁻¹A)/2 (row-stochastic in p).
    lazy = 0.5 * (sp.identity(250) + scale_free @ sp.diags(1.0 / degree))
    exact = alpha * np.linalg.solve(np.eye(250) - (1 - alpha) * lazy.toarray(), np.eye(250)[7])
    estimate = np.zeros(250)
    for node, value in result.scores.items():
        estimate[node] = value
    assert (estimate <= exact + 1e-12).all()
    assert (exact - estimate <= epsilon * degree + 1e-12).all()


def test_local_methods_touch_a_volume_independent_of_graph_size() -> None:
    touched = []
    for n in (2_000, 20_000):
        adjacency, _ = stochastic_block_model([100, n - 100], [[0.1, 0.0005], [0.0005, 10 / n]], 0)
        acl = acl_push(adjacency, 0, alpha=0.1, epsilon=1e-3)
        flow = l2_flow_diffusion(adjacency, 0, source_mass=500.0)
        touched.append((len(acl.scores), len(flow.scores)))
    (small_acl, small_flow), (big_acl, big_flow) = touched
    assert big_acl < 2 * small_acl and big_flow < 2 * small_flow
    assert big_acl < 2000


def test_flow_diffusion_and_sweep_cut_find_a_planted_cluster() -> None:
    adjacency, _ = stochastic_block_model([80, 400], [[0.2, 0.003], [0.003, 0.02]], 0)
    volume = float(adjacency[:80].sum())
    flow = l2_flow_diffusion(adjacency, 5, source_mass=1.5 * volume)
    cut = sweep_cut(adjacency, flow.scores, degree_normalized=False)
    found = set(cut.nodes)
    assert len(found & set(range(80))) / len(found | set(range(80))) > 0.8
    assert cut.conductance < 0.2
    # Conductance is recomputed exactly for the returned set.
    inside = np.zeros(480, dtype=bool)
    inside[cut.nodes] = True
    boundary = adjacency[inside][:, ~inside].sum()
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    expected = boundary / min(degree[inside].sum(), degree[~inside].sum())
    assert abs(cut.conductance - expected) < 1e-12


def test_sweep_cut_counts_a_self_loop_inside_the_set() -> None:
    # Path 0-1-2-3 with a self-loop at 0. The diagonal entry counts once in d_0 and in the
    # volume: d = (2, 2, 2, 1), vol V = 7. Sweeping 0, 1, 2 by hand, the loop never leaves S:
    #   S = {0}:       cut 1 (edge 0-1), min(2, 5) = 2 -> 1/2
    #   S = {0, 1}:    cut 1 (edge 1-2), min(4, 3) = 3 -> 1/3
    #   S = {0, 1, 2}: cut 1 (edge 2-3), min(6, 1) = 1 -> 1
    # Counting the loop as a cut edge gave [1.0, 0.667, 2.0].
    rows = np.array([0, 1, 2, 0])
    cols = np.array([1, 2, 3, 0])
    upper = sp.coo_matrix((np.ones(4), (rows, cols)), shape=(4, 4))
    adjacency = (upper + sp.triu(upper, k=1).T).tocsr()
    assert adjacency[0, 0] == 1.0 and adjacency.sum() == 7.0
    cut = sweep_cut(adjacency, {0: 3.0, 1: 2.0, 2: 1.0}, degree_normalized=False)
    assert cut.profile == pytest.approx([1 / 2, 1 / 3, 1.0])
    assert cut.nodes == [0, 1] and cut.conductance == pytest.approx(1 / 3)


def test_local_methods_reject_bad_seeds() -> None:
    adjacency = erdos_renyi(50, 0.1, seed=0)
    with pytest.raises(ValueError, match=r"seed node 99 is not in the graph: nodes are 0..49"):
        acl_push(adjacency, 99)
    with pytest.raises(ValueError, match=r"seed node -1 is not in the graph"):
        l2_flow_diffusion(adjacency, [-1], 10.0)
    with pytest.raises(ValueError, match="alpha must be in"):
        acl_push(adjacency, 0, alpha=1.5)


def test_flow_diffusion_with_too_much_mass_stops_with_a_clear_error() -> None:
    adjacency = erdos_renyi(60, 0.1, seed=0)
    total_volume = float(adjacency.sum())
    with pytest.raises(RuntimeError, match="lower source_mass"):
        l2_flow_diffusion(adjacency, 0, source_mass=2 * total_volume, max_pushes=5000)
    with pytest.raises(ValueError, match="source_mass must be positive and finite, got -1"):
        l2_flow_diffusion(adjacency, 0, source_mass=-1.0)


def test_pagerank_rejects_bad_personalisation() -> None:
    with pytest.raises(ValueError, match="personalization must be n non-negative weights"):
        pagerank(erdos_renyi(10, 0.3, seed=0), personalization=np.ones(3))


@pytest.mark.parametrize(("n", "mean_degree"), [(3000, 0.5), (3000, 1.2), (5000, 3.0), (400, 30.0)])
def test_components_with_and_without_a_giant_component(n: int, mean_degree: float) -> None:
    adjacency = erdos_renyi(n, mean_degree / n, seed=1)
    count, labels = connected_components(adjacency)
    components = list(nx.connected_components(nx.from_scipy_sparse_array(adjacency)))
    assert count == len(components) == len(np.unique(labels))
    for component in components:
        assert len(set(labels[list(component)])) == 1


def _same_partition(adjacency: sp.csr_matrix) -> None:
    count, labels = connected_components(adjacency)
    reference_count, reference = csgraph.connected_components(adjacency, directed=False)
    assert count == reference_count
    # Same partition: every (ours, scipy's) label pair occurs for exactly one component.
    assert len(set(zip(labels.tolist(), reference.tolist(), strict=True))) == count


def test_components_direction_optimising_search_matches_scipy_on_hard_shapes() -> None:
    # A giant component found bottom-up, with isolated nodes and a second block.
    blocks = [erdos_renyi(3000, 20 / 3000, seed=2), erdos_renyi(900, 0.01, seed=3)]
    _same_partition(sp.block_diag([*blocks, sp.csr_matrix((25, 25))]).tocsr())
    # A long path and a grid exceed the search's round budget and fall back to scipy.
    path = nx.path_graph(4000)
    _same_partition(nx.to_scipy_sparse_array(path, format="csr"))
    grid = nx.grid_2d_graph(50, 50)
    _same_partition(nx.to_scipy_sparse_array(grid, format="csr"))
    # A star: everything is one hop from the start node.
    _same_partition(nx.to_scipy_sparse_array(nx.star_graph(500), format="csr"))
    # Hubs with degree above 127 exercise the bottom-up "any neighbour" reduction.
    _same_partition(barabasi_albert(5000, 3, seed=4))
