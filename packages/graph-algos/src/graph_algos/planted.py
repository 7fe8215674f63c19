"""Detecting a planted subgraph Γ in G(n, q): the count test and the degree test.

Hypotheses ("Detecting Arbitrary Planted Subgraphs in Random Graphs", 2025):
H0: G ~ G(n, q); H1: G ~ G(n, q) with a copy of Γ whose
edges appear with probability p instead of q.

* Count test: T = |E(G)|. Under H0, T ~ Bin(N, q) with N = n(n-1)/2, and H1 shifts its
  mean by |E(Γ)|(p - q). It succeeds when |E(Γ)|(p - q) ≫ sqrt(N q(1-q)).
* Degree test: T = max_v deg(v). Under H0 each degree is Bin(n-1, q); Γ raises the
  planted vertex of largest degree by about d_max(Γ)(p - q). It succeeds when
  d_max(Γ)(p - q) ≫ sqrt(n q(1-q) log n).

So the count test sees dense patterns (cliques) and the degree test sees patterns
with one high-degree vertex (stars); a cycle, with few edges and degree 2, escapes both.

* Scan test (small n only): T = max over placements of Γ of the number of Γ's edges
  present; it detects sparse patterns that escape both, at an exhaustive cost.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from itertools import permutations

import numpy as np
import scipy.sparse as sp
from scipy import stats

from graph_algos.generators import SeedLike, Subgraph, as_rng, erdos_renyi

Statistic = Callable[[sp.spmatrix], float]


def edge_count(adjacency: sp.spmatrix) -> float:
    """Number of undirected edges of a symmetric adjacency matrix (no self-loops)."""
    return float(adjacency.nnz) / 2.0


def max_degree(adjacency: sp.spmatrix) -> float:
    """Largest degree."""
    degrees = np.diff(sp.csr_matrix(adjacency).indptr)
    return float(degrees.max()) if len(degrees) else 0.0


STATISTICS: dict[str, Statistic] = {"count-test": edge_count, "degree-test": max_degree}


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")


def count_threshold(n: int, q: float, level: float) -> float:
    """Smallest t with P(Bin(N, q) > t) <= level, N = n(n-1)/2: the count test's exact cut."""
    _check_level(level)
    return float(stats.binom.isf(level, n * (n - 1) // 2, q))


def degree_threshold(n: int, q: float, level: float) -> float:
    """Cut for the maximum degree with a union bound over the n vertices.

    P(max deg > t) <= n · P(Bin(n-1, q) > t) <= level, so the test is conservative.
    """
    _check_level(level)
    return float(stats.binom.isf(level / n, n - 1, q))


def count_test(adjacency: sp.spmatrix, q: float, level: float = 0.05) -> bool:
    """Reject H0 (declare 'planted') when the edge count exceeds its level-α cut."""
    n = adjacency.shape[0]
    return edge_count(adjacency) > count_threshold(n, q, level)


def degree_test(adjacency: sp.spmatrix, q: float, level: float = 0.05) -> bool:
    """Reject H0 when the maximum degree exceeds its (union-bound) level-α cut."""
    n = adjacency.shape[0]
    return max_degree(adjacency) > degree_threshold(n, q, level)


def calibrate_threshold(
    statistic: Statistic, n: int, q: float, level: float, trials: int, seed: SeedLike = None
) -> float:
    """Monte Carlo cut: the (1 - level) quantile of the statistic over null graphs.

    Used where the analytic cut is loose (the degree test's union bound), so that both
    tests are compared at the same false-alarm rate.
    """
    _check_level(level)
    if trials < 1:
        raise ValueError(f"trials must be positive, got {trials}")
    rng = as_rng(seed)
    values = np.array([statistic(erdos_renyi(n, q, rng)) for _ in range(trials)])
    return float(np.quantile(values, 1.0 - level, method="higher"))


def detection_power(decisions: np.ndarray | list[bool]) -> float:
    """Share of planted graphs in which the test declared a planted subgraph."""
    array = np.asarray(decisions, dtype=bool)
    if array.size == 0:
        raise ValueError("detection_power needs at least one decision")
    return float(array.mean())


def false_alarm_rate(decisions: np.ndarray | list[bool]) -> float:
    """Share of null graphs in which the test wrongly declared a planted subgraph."""
    return detection_power(decisions)


def count_signal_to_noise(n: int, q: float, p: float, num_edges: int) -> float:
    """|E(Γ)|(p - q) / sqrt(N q (1 - q)): order one marks the count test's boundary."""
    pairs = n * (n - 1) / 2
    return num_edges * (p - q) / np.sqrt(pairs * q * (1 - q))


def degree_signal_to_noise(n: int, q: float, p: float, top_degree: int) -> float:
    """d_max(Γ)(p - q) / sqrt(2 n q (1 - q) log n): order one marks the degree test's boundary."""
    return top_degree * (p - q) / np.sqrt(2.0 * n * q * (1 - q) * np.log(n))


SCAN_LIMIT = 2_000_000
"""Largest number of placements n!/(n−k)! the exhaustive scan test will enumerate."""


@lru_cache(maxsize=8)
def _placements(n: int, k: int) -> np.ndarray:
    """Every injective map of k pattern vertices into n nodes, as rows of node indices."""
    count = 1
    for i in range(k):
        count *= n - i
    if count > SCAN_LIMIT:
        raise ValueError(
            f"the scan test would enumerate n!/(n-k)! = {count} placements for n={n}, k={k}; "
            f"it is limited to {SCAN_LIMIT} (small n only)"
        )
    return np.array(list(permutations(range(n), k)), dtype=np.int64).reshape(-1, k)


def scan_statistic(adjacency: sp.spmatrix, subgraph: Subgraph) -> float:
    """Scan statistic: the largest number of Γ's edges present over all placements of Γ.

    max over injective φ: V(Γ) → V(G) of Σ_{(a, b) ∈ E(Γ)} 1{φ(a)φ(b) ∈ E(G)}. Exhaustive,
    so only for small n (see ``SCAN_LIMIT``); its level-α cut comes from simulation.
    """
    n = adjacency.shape[0]
    if subgraph.k > n:
        raise ValueError(f"subgraph has k={subgraph.k} vertices but the graph only n={n}")
    dense = sp.csr_matrix(adjacency).toarray() > 0
    placements = _placements(n, subgraph.k)
    hits = np.zeros(len(placements), dtype=np.int64)
    for a, b in subgraph.edges.tolist():
        hits += dense[placements[:, a], placements[:, b]]
    return float(hits.max())


def scan_signal_to_noise(n: int, q: float, p: float, num_edges: int, k: int) -> float:
    """|E(Γ)|(p − q) / sqrt(2 |E(Γ)| q(1 − q) · k log n): the union-bound scan boundary.

    The scan maximises over about n^k placements, each a Bin(|E(Γ)|, q) under H0, so its
    null maximum sits near |E(Γ)| q + sqrt(2 |E(Γ)| q(1 − q) k log n); order one marks
    where the planted copy's excess |E(Γ)|(p − q) clears it. (Our union-bound heuristic,
    not a constant from the paper.)
    """
    spread = np.sqrt(2.0 * num_edges * q * (1 - q) * k * np.log(n))
    return num_edges * (p - q) / spread
