from __future__ import annotations

import itertools
from collections.abc import Callable

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
from graph_algos.methods.critical import (
    CENTRALITIES,
    centrality,
    collective_influence,
    connectivity_after_removal,
    driver_nodes,
    exact_critical_nodes,
    greedy_critical_nodes,
    top_k,
)
from graph_algos.methods.influence import SpreadEstimator, celf, reverse_reachable_seeds
from graph_algos.methods.robustness import gc_rwcs, rwcs, rwcs_scores
from graph_algos.metrics.critical import (
    covered_targets,
    largest_component_after_removal,
    pairwise_connectivity,
)
from graph_algos.worlds.generators import barabasi_albert, erdos_renyi


@pytest.fixture(scope="module")
def scale_free() -> sp.csr_matrix:
    return barabasi_albert(300, 2, seed=0)


def test_collective_influence_matches_its_definition(scale_free: sp.csr_matrix) -> None:
    graph = nx.from_scipy_sparse_array(scale_free)
    ci = collective_influence(scale_free, radius=2)
    for node in (0, 5, 123):
        ring = nx.single_source_shortest_path_length(graph, node, cutoff=2)
        expected = (graph.degree[node] - 1) * sum(
            graph.degree[j] - 1 for j, d in ring.items() if d == 2
        )
        assert ci[node] == expected


def test_every_centrality_beats_random_removal(scale_free: sp.csr_matrix) -> None:
    random_order = list(np.random.default_rng(0).permutation(300))
    baseline = largest_component_after_removal(scale_free, random_order, 15)
    for name in CENTRALITIES:
        ranking = top_k(centrality(scale_free, name), 15)
        assert largest_component_after_removal(scale_free, ranking, 15) < baseline, name


def test_exact_ilp_matches_brute_force_and_bounds_greedy() -> None:
    adjacency = erdos_renyi(14, 0.25, seed=3)
    chosen, value = exact_critical_nodes(adjacency, 3)
    brute = min(
        pairwise_connectivity(adjacency, list(c)) for c in itertools.combinations(range(14), 3)
    )
    assert value == brute == pairwise_connectivity(adjacency, chosen) and len(chosen) <= 3
    assert pairwise_connectivity(adjacency, greedy_critical_nodes(adjacency, 3)) >= value


def test_exact_ilp_refuses_large_graphs() -> None:
    with pytest.raises(ValueError, match="limited to n <= 30 nodes, got n=100"):
        exact_critical_nodes(erdos_renyi(100, 0.05, seed=0), 3)


@pytest.mark.parametrize("model", ["ic", "lt"])
def test_celf_and_rr_sets_beat_random_seeds(scale_free: sp.csr_matrix, model: str) -> None:
    spread = SpreadEstimator(scale_free, model, 0.05, samples=100, seed=0)  # type: ignore[arg-type]
    lazy = celf(spread, 300, 5)
    rr, _ = reverse_reachable_seeds(scale_free, 5, model, 0.05, sets=1500, seed=1)  # type: ignore[arg-type]
    random_seeds = [int(v) for v in np.random.default_rng(0).choice(300, 5, replace=False)]
    assert spread(lazy) > spread(random_seeds)
    assert spread(rr) > spread(random_seeds)
    # CELF is lazy: far fewer evaluations than plain greedy's k * n.
    assert spread.calls < 5 * 300


def test_spread_of_a_seed_is_at_least_one_and_monotone(scale_free: sp.csr_matrix) -> None:
    spread = SpreadEstimator(scale_free, "ic", 0.1, samples=50, seed=0)
    assert spread([3]) >= 1.0 and spread([3, 4]) >= spread([3])
    with pytest.raises(ValueError, match="seed node 300 is not in the graph"):
        spread([300])
    with pytest.raises(ValueError, match="unknown cascade model 'sir'; accepted: ic, lt"):
        SpreadEstimator(scale_free, "sir")  # type: ignore[arg-type]


def test_driver_nodes_count_matches_networkx_matching(
    networkx_matching_size: Callable[[sp.spmatrix], int],
) -> None:
    directed = erdos_renyi(120, 0.02, seed=0)
    from scipy import sparse

    upper = sparse.triu(directed).tocsr()  # orient every edge from low to high index
    # Rows are the edges' tails, columns their heads: a node whose head copy is left
    # unmatched by a maximum matching is a driver node.
    matched = networkx_matching_size(upper)
    drivers = driver_nodes(upper)
    assert len(drivers) == 120 - matched
    assert 0 in drivers  # node 0 has no in-edges in this orientation


def test_gc_rwcs_spreads_out_where_rwcs_piles_up() -> None:
    from graph_algos.worlds.generators import stochastic_block_model

    # One dense hub block and a sparse rest: RWCS takes hub nodes that all reach the
    # same targets, GC-RWCS moves on once those targets are covered.
    sizes = [40, 400]
    adjacency, _ = stochastic_block_model(sizes, [[0.5, 0.002], [0.002, 0.01]], seed=0)
    plain = rwcs(adjacency, 10, steps=2)
    greedy = gc_rwcs(adjacency, 10, steps=2, saturation=1)
    scores = rwcs_scores(adjacency, 2)
    assert scores[plain].min() >= np.sort(scores)[-10]
    assert covered_targets(adjacency, greedy) > covered_targets(adjacency, plain)
    accessible = list(range(100, 200))
    assert set(gc_rwcs(adjacency, 5, accessible=accessible)) <= set(accessible)
    with pytest.raises(ValueError, match=r"accessible nodes \[999\] are not in the graph"):
        rwcs(adjacency, 2, accessible=[999])


def test_gc_rwcs_options_degree_limit_top_influencers_and_spacing() -> None:
    adjacency = barabasi_albert(300, 2, seed=1)
    degree = np.diff(adjacency.indptr)
    limited = gc_rwcs(adjacency, 8, max_degree=5, top_per_target=3)
    assert degree[limited].max() <= 5 and len(set(limited)) == 8
    spaced = gc_rwcs(adjacency, 8)
    for a, b in itertools.combinations(spaced, 2):
        assert adjacency[a, b] == 0  # picked nodes are never neighbours
    assert degree[rwcs(adjacency, 5, max_degree=3)].max() <= 3
    with pytest.raises(ValueError, match=r"budget must be in \[0, "):
        rwcs(adjacency, 10_000)


def test_connectivity_after_removal_matches_recomputation() -> None:
    for seed, (n, q) in enumerate([(40, 0.05), (60, 0.04), (30, 0.2)]):
        adjacency = erdos_renyi(n, q, seed=seed)
        removed = [0, 5] if seed == 1 else []
        fast = connectivity_after_removal(adjacency, removed)
        for v in range(n):
            if v in removed:
                assert fast[v] == np.inf
            else:
                assert fast[v] == pairwise_connectivity(adjacency, [*removed, v])
