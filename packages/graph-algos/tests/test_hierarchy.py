from __future__ import annotations

import numpy as np
import pytest
from graph_algos.methods.hierarchy import (
    BottomUpParams,
    Dendrogram,
    TopDownParams,
    bottom_up,
    chernoff_hellinger,
    count_communities,
    leaf_divergence_ratio,
    linkage_gap_boundary,
    spectral_clustering,
    top_down,
)
from graph_algos.metrics.hierarchy import exact_recovery_by_depth, same_partition, tree_recovered
from graph_algos.worlds.generators import erdos_renyi, hierarchical_sbm


def test_bethe_hessian_counts_the_leaf_communities() -> None:
    adjacency, _ = hierarchical_sbm(100, [0.01, 0.04, 0.3], seed=0)
    assert count_communities(adjacency) == 4
    assert count_communities(erdos_renyi(400, 0.05, seed=0)) == 1


def test_spectral_clustering_recovers_clear_blocks() -> None:
    adjacency, leaf = hierarchical_sbm(80, [0.01, 0.03, 0.3], seed=1)
    assert same_partition(spectral_clustering(adjacency, seed=0), leaf)


def test_both_methods_recover_an_easy_hierarchy() -> None:
    adjacency, leaf = hierarchical_sbm(100, [0.01, 0.08, 0.3], seed=2)
    for tree in (bottom_up(adjacency, seed=0), top_down(adjacency, seed=0)):
        assert exact_recovery_by_depth(tree, leaf, 2) == [True, True]
        assert tree_recovered(tree, leaf, 2)
        assert tree.inversions() == 0


def test_bottom_up_recovers_the_middle_level_where_top_down_fails() -> None:
    # Sibling and cousin probabilities almost equal: the top split carries a weak signal
    # for one spectral bisection, while linkage averages it over whole leaf blocks.
    bottom, top = [], []
    for seed in range(6):
        adjacency, leaf = hierarchical_sbm(200, [0.045, 0.05, 0.2], seed=seed)
        bottom.append(exact_recovery_by_depth(bottom_up(adjacency, seed=seed), leaf, 2)[0])
        top.append(exact_recovery_by_depth(top_down(adjacency, seed=seed), leaf, 2)[0])
    assert np.mean(bottom) == 1.0
    assert np.mean(top) < np.mean(bottom)


def test_inversions_and_tree_recovery_on_hand_built_trees() -> None:
    tree = Dendrogram()
    a = tree.add(np.array([0, 1]), (), 0.9)
    b = tree.add(np.array([2, 3]), (), 0.9)
    c = tree.add(np.array([4, 5]), (), 0.9)
    ab = tree.add(np.array([0, 1, 2, 3]), (a, b), 0.2)
    tree.root = tree.add(np.arange(6), (ab, c), 0.5)  # parent denser than child: inversion
    assert tree.inversions() == 1
    labels = tree.partition_at_depth(1, 6)
    assert same_partition(labels, np.array([0, 0, 0, 0, 1, 1]))
    assert not same_partition(labels, np.array([0, 0, 1, 1, 1, 1]))
    leaf = np.array([0, 0, 1, 1, 2, 2])
    assert not tree_recovered(tree, leaf, 2)  # 3 leaves, not 4


@pytest.mark.parametrize("k", [0, 500])
def test_spectral_clustering_rejects_bad_k(k: int) -> None:
    with pytest.raises(ValueError, match=f"k must be in \\[1, n=100\\], got {k}"):
        spectral_clustering(erdos_renyi(100, 0.1, seed=0), k)


def test_hierarchical_methods_refuse_a_disconnected_graph() -> None:
    adjacency = erdos_renyi(200, 0.004, seed=0)
    with pytest.raises(ValueError, match="bottom-up hierarchical clustering needs a connected"):
        bottom_up(adjacency)
    with pytest.raises(ValueError, match="top-down hierarchical clustering needs a connected"):
        top_down(adjacency)


def test_chernoff_hellinger_is_zero_for_equal_blocks_and_grows_with_contrast() -> None:
    sizes = np.array([50.0, 50.0])
    same = np.array([[0.1, 0.1], [0.1, 0.1]])
    assert chernoff_hellinger(same, sizes, 0, 1) == pytest.approx(0.0, abs=1e-12)
    weak = np.array([[0.12, 0.1], [0.1, 0.12]])
    strong = np.array([[0.3, 0.1], [0.1, 0.3]])
    assert 0 < chernoff_hellinger(weak, sizes, 0, 1) < chernoff_hellinger(strong, sizes, 0, 1)
    # Symmetric two-block case: the maximum sits at t = 1/2, Σ n_k (√P_ak − √P_bk)² / 2.
    expected = 2 * 50 * (np.sqrt(0.3) - np.sqrt(0.1)) ** 2 / 2
    assert chernoff_hellinger(strong, sizes, 0, 1) == pytest.approx(expected, rel=1e-9)


def test_leaf_divergence_ratio_crosses_one_as_leaves_separate() -> None:
    assert (
        leaf_divergence_ratio([0.02, 0.03, 0.05], 100)
        < 1
        < leaf_divergence_ratio([0.02, 0.03, 0.3], 100)
    )


def test_linkage_boundary_shrinks_with_community_size() -> None:
    small, large = linkage_gap_boundary(0.02, 50, 1), linkage_gap_boundary(0.02, 200, 1)
    assert small == pytest.approx(np.sqrt(2 * 0.02 * 0.98) / 50)
    assert large == pytest.approx(small / 4)
    with pytest.raises(ValueError, match="level must be at least 1"):
        linkage_gap_boundary(0.02, 50, 0)


def test_method_params_reach_the_algorithms() -> None:
    adjacency, _ = hierarchical_sbm(60, [0.01, 0.05, 0.4], seed=3)
    forced = bottom_up(adjacency, BottomUpParams(communities=2), seed=0)
    assert len(forced.leaves()) == 2
    shallow = top_down(adjacency, TopDownParams(max_depth=1), seed=0)
    assert len(shallow.leaves()) <= 2
