from __future__ import annotations

import numpy as np
import pytest
from graph_algos.methods.planted import edge_count, scan_signal_to_noise, scan_statistic
from graph_algos.worlds.generators import clique, cycle, erdos_renyi, planted_subgraph


def test_scan_statistic_counts_the_best_placement() -> None:
    planted = planted_subgraph(10, 0.0, 1.0, cycle(5), seed=0)
    assert scan_statistic(planted.adjacency, cycle(5)) == 5.0
    assert scan_statistic(planted.adjacency, clique(4)) == 3.0  # a path of 3 in a cycle
    assert scan_statistic(erdos_renyi(10, 0.0, seed=0), cycle(5)) == 0.0


def test_scan_test_sees_a_cycle_that_the_count_test_misses() -> None:
    rng = np.random.default_rng(0)
    n, q, pattern = 12, 0.08, cycle(5)
    null_scan = [scan_statistic(erdos_renyi(n, q, rng), pattern) for _ in range(60)]
    null_count = [edge_count(erdos_renyi(n, q, rng)) for _ in range(60)]
    planted = [planted_subgraph(n, q, 1.0, pattern, rng).adjacency for _ in range(60)]
    scan_cut = np.quantile(null_scan, 0.9, method="higher")
    count_cut = np.quantile(null_count, 0.9, method="higher")
    scan_power = np.mean([scan_statistic(g, pattern) > scan_cut for g in planted])
    count_power = np.mean([edge_count(g) > count_cut for g in planted])
    assert scan_power > 0.9 and scan_power > count_power + 0.15


def test_scan_refuses_large_n_and_snr_grows_with_p() -> None:
    with pytest.raises(ValueError, match="limited to 2000000"):
        scan_statistic(erdos_renyi(60, 0.1, seed=0), cycle(6))
    assert scan_signal_to_noise(100, 0.1, 0.9, 10, 5) > scan_signal_to_noise(100, 0.1, 0.5, 10, 5)
