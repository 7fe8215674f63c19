"""Nightly-size checks (``nox -s slow``); excluded from the default suite."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from graph_algos.kernels import betweenness, closeness, pagerank
from graph_algos.methods.critical import exact_critical_nodes, greedy_critical_nodes
from graph_algos.methods.hierarchy import bottom_up
from graph_algos.metrics.critical import pairwise_connectivity
from graph_algos.metrics.hierarchy import exact_recovery_by_depth, tree_recovered
from graph_algos.worlds.generators import barabasi_albert, erdos_renyi, hierarchical_sbm


@pytest.mark.slow
def test_kernels_agree_with_networkx_on_a_larger_graph() -> None:
    adjacency = barabasi_albert(2000, 3, seed=5)
    graph = nx.from_scipy_sparse_array(adjacency)
    expected = nx.betweenness_centrality(graph)
    assert np.abs(betweenness(adjacency) - [expected[i] for i in range(2000)]).max() < 1e-9
    expected = nx.closeness_centrality(graph)
    assert np.abs(closeness(adjacency) - [expected[i] for i in range(2000)]).max() < 1e-12
    expected = nx.pagerank(graph, tol=1e-12)
    assert np.abs(pagerank(adjacency, tol=1e-12) - [expected[i] for i in range(2000)]).max() < 1e-8


@pytest.mark.slow
def test_exact_ilp_on_twenty_two_nodes_is_no_worse_than_greedy() -> None:
    adjacency = erdos_renyi(22, 0.15, seed=2)
    chosen, optimum = exact_critical_nodes(adjacency, 3)
    assert pairwise_connectivity(adjacency, chosen) == optimum
    assert optimum <= pairwise_connectivity(adjacency, greedy_critical_nodes(adjacency, 3))


@pytest.mark.slow
def test_bottom_up_recovers_a_deep_hierarchy() -> None:
    levels = [0.01, 0.03, 0.05, 0.3]  # depth 3: eight leaves of 120 nodes
    adjacency, leaf = hierarchical_sbm(120, levels, seed=0)
    tree = bottom_up(adjacency, seed=0)
    assert exact_recovery_by_depth(tree, leaf, 3) == [True, True, True]
    assert tree_recovered(tree, leaf, 3) and tree.inversions() == 0
