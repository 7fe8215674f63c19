r"""Detecting a planted subgraph Γ in G(n, q): the count, degree and scan tests.

Seed paper: "Detecting Arbitrary Planted Subgraphs in Random Graphs" (2025).
$H_0$: $G \sim G(n, q)$; $H_1$: $G \sim G(n, q)$ with a copy of Γ whose edges appear
with probability p instead of q.

* Count test: $T = |E(G)|$. Under $H_0$, $T \sim \mathrm{Bin}(N, q)$ with
  $N = n(n-1)/2$, and $H_1$ shifts its mean by $|E(\Gamma)|(p - q)$. It succeeds when
  $|E(\Gamma)|(p - q) \gg \sqrt{N q (1-q)}$.
* Degree test: $T = \max_v \deg(v)$. Under $H_0$ each degree is $\mathrm{Bin}(n-1, q)$;
  Γ raises the planted vertex of largest degree by about $d_{\max}(\Gamma)(p - q)$. It
  succeeds when $d_{\max}(\Gamma)(p - q) \gg \sqrt{n q (1-q) \log n}$.
* Scan test (small n only): $T = \max_\varphi \sum_{(a, b) \in E(\Gamma)}
  1\{\varphi(a)\varphi(b) \in E(G)\}$ over the injective placements φ of Γ; it detects
  sparse patterns that escape both, at an exhaustive cost.

So the count test sees dense patterns (cliques) and the degree test sees patterns
with one high-degree vertex (stars); a cycle, with few edges and degree 2, escapes both.

The registered entries are the test statistics (``edge_count``, ``max_degree``,
``scan_statistic``): a benchmark calibrates each statistic's level-α cut on simulated
null graphs, so that every test is compared at the same false-alarm rate.
``count_test`` and ``degree_test`` are the same tests with analytic cuts.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from itertools import permutations

import numpy as np
import scipy.sparse as sp
from scipy import stats

from graph_algos.seeding import SeedLike, as_rng
from graph_algos.worlds.generators import Subgraph, erdos_renyi, make_subgraph

Statistic = Callable[[sp.spmatrix], float]


def edge_count(adjacency: sp.spmatrix) -> float:
    """Count-test statistic: undirected edges of a symmetric adjacency (no self-loops)."""
    return float(adjacency.nnz) / 2.0


def max_degree(adjacency: sp.spmatrix) -> float:
    """Degree-test statistic: the largest degree."""
    degrees = np.diff(sp.csr_matrix(adjacency).indptr)
    return float(degrees.max()) if len(degrees) else 0.0


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")


def count_threshold(n: int, q: float, level: float) -> float:
    r"""Smallest t with $P(\mathrm{Bin}(N, q) > t) \le$ level, N = n(n-1)/2: the exact cut."""
    _check_level(level)
    return float(stats.binom.isf(level, n * (n - 1) // 2, q))


def degree_threshold(n: int, q: float, level: float) -> float:
    r"""Cut for the maximum degree with a union bound over the n vertices.

    $P(\max \deg > t) \le n \cdot P(\mathrm{Bin}(n-1, q) > t) \le$ level, so the test
    is conservative.
    """
    _check_level(level)
    return float(stats.binom.isf(level / n, n - 1, q))


def count_test(adjacency: sp.spmatrix, q: float, level: float = 0.05) -> bool:
    """Reject $H_0$ (declare 'planted') when the edge count exceeds its level-α cut."""
    n = adjacency.shape[0]
    return edge_count(adjacency) > count_threshold(n, q, level)


def degree_test(adjacency: sp.spmatrix, q: float, level: float = 0.05) -> bool:
    """Reject $H_0$ when the maximum degree exceeds its (union-bound) level-α cut."""
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


def count_signal_to_noise(n: int, q: float, p: float, num_edges: int) -> float:
    r"""$|E(\Gamma)|(p - q) / \sqrt{N q (1 - q)}$: order one marks the count test's boundary."""
    pairs = n * (n - 1) / 2
    return num_edges * (p - q) / np.sqrt(pairs * q * (1 - q))


def degree_signal_to_noise(n: int, q: float, p: float, top_degree: int) -> float:
    r"""$d_{\max}(\Gamma)(p - q) / \sqrt{2 n q (1 - q) \log n}$: order one marks the degree
    test's boundary."""
    return top_degree * (p - q) / np.sqrt(2.0 * n * q * (1 - q) * np.log(n))


def boundary_size(subgraph: str, n: int, q: float, p: float, test: str) -> float | None:
    """Smallest k (on a geometric grid up to n) whose signal-to-noise ratio reaches one.

    The predicted detection boundary of ``test`` (``count-test`` or ``degree-test``) for
    the pattern family ``subgraph`` (``None`` when no k up to n reaches it).
    """
    if test not in ("count-test", "degree-test"):
        raise ValueError(f"no boundary for test {test!r}; accepted: count-test, degree-test")
    for k in np.unique(np.geomspace(3, n, 80).astype(int)):
        pattern = make_subgraph(subgraph, int(k), seed=0)
        if test == "count-test":
            snr = count_signal_to_noise(n, q, p, pattern.num_edges)
        else:
            snr = degree_signal_to_noise(n, q, p, pattern.max_degree)
        if snr >= 1.0:
            return float(k)
    return None


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
    r"""Scan-test statistic: the largest number of Γ's edges present over all placements.

    $\max_{\varphi: V(\Gamma) \to V(G)} \sum_{(a, b) \in E(\Gamma)}
    1\{\varphi(a)\varphi(b) \in E(G)\}$ over injective φ. Exhaustive, so only for
    small n (see ``SCAN_LIMIT``); its level-α cut comes from simulation.
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
    r"""$|E(\Gamma)|(p - q) / \sqrt{2 |E(\Gamma)| q (1 - q) \cdot k \log n}$: the
    union-bound scan boundary.

    The scan maximises over about $n^k$ placements, each a $\mathrm{Bin}(|E(\Gamma)|, q)$
    under $H_0$, so its null maximum sits near
    $|E(\Gamma)| q + \sqrt{2 |E(\Gamma)| q (1 - q) k \log n}$; order one marks where the
    planted copy's excess $|E(\Gamma)|(p - q)$ clears it. (Our union-bound heuristic,
    not a constant from the paper.)
    """
    spread = np.sqrt(2.0 * num_edges * q * (1 - q) * k * np.log(n))
    return num_edges * (p - q) / spread
