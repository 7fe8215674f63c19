r"""Global centralities, vectorised over whole frontiers: PageRank, betweenness, closeness,
k-cores, and maximum bipartite matching.

* PageRank: power iteration of
  $x \leftarrow \alpha P^\top x + (\alpha\, x_{\text{dangling}} + 1 - \alpha)\, v$,
  as networkx.
* Betweenness: Brandes (2001), "A faster algorithm for betweenness centrality",
  run for a batch of sources at once: $\sigma$ counts along BFS levels forward, then
  $\delta_s(v) = \sum_{w:\, v \in \text{pred}(w)} \frac{\sigma_{sv}}{\sigma_{sw}} (1 + \delta_s(w))$
  backward. Sampling k sources and rescaling by n/k gives the estimator of Brandes &
  Pich (2007).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph

from graph_algos.kernels.sparse import as_csr, unweighted
from graph_algos.seeding import SeedLike, as_rng


def pagerank(
    adjacency: sp.spmatrix,
    alpha: float = 0.85,
    personalization: np.ndarray | None = None,
    tol: float = 1e-10,
    max_iter: int = 1000,
) -> np.ndarray:
    """PageRank by power iteration (weights respected; dangling mass goes to ``v``).

    Converges when the ℓ1 change falls below ``n · tol`` (the networkx criterion).
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    matrix = as_csr(adjacency)
    n = matrix.shape[0]
    if n == 0:
        return np.zeros(0)
    out_weight = np.asarray(matrix.sum(axis=1)).ravel()
    dangling = out_weight == 0
    inverse = np.divide(1.0, out_weight, out=np.zeros(n), where=~dangling)
    transition_t = (sp.diags(inverse) @ matrix).T.tocsr()
    if personalization is None:
        teleport = np.full(n, 1.0 / n)
    else:
        teleport = np.asarray(personalization, dtype=np.float64)
        if teleport.shape != (n,) or (teleport < 0).any() or teleport.sum() <= 0:
            raise ValueError("personalization must be n non-negative weights with a positive sum")
        teleport = teleport / teleport.sum()
    x = teleport.copy()
    for _ in range(max_iter):
        previous = x
        x = alpha * (transition_t @ x) + (alpha * x[dangling].sum() + 1.0 - alpha) * teleport
        if np.abs(x - previous).sum() < n * tol:
            return x
    raise RuntimeError(f"PageRank did not converge in {max_iter} iterations (tol={tol})")


def _bfs_levels(matrix: sp.csr_matrix, sources: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distances (-1 when unreachable) and shortest-path counts σ from a batch of sources.

    Column j of both n x s arrays belongs to ``sources[j]``.
    """
    n, s = matrix.shape[0], len(sources)
    distance = np.full((n, s), -1, dtype=np.int32)
    sigma = np.zeros((n, s))
    columns = np.arange(s)
    distance[sources, columns] = 0
    sigma[sources, columns] = 1.0
    frontier = np.zeros((n, s))
    frontier[sources, columns] = 1.0
    level = 0
    while True:
        reached = matrix @ frontier
        new = (reached > 0) & (distance < 0)
        if not new.any():
            return distance, sigma
        level += 1
        distance[new] = level
        frontier = np.where(new, reached, 0.0)
        sigma += frontier


def betweenness(
    adjacency: sp.spmatrix,
    samples: int | None = None,
    normalized: bool = True,
    seed: SeedLike = None,
    batch: int = 64,
) -> np.ndarray:
    """Betweenness centrality of an unweighted undirected graph (Brandes).

    ``samples=None`` is exact; ``samples=k`` accumulates from k uniformly sampled
    sources and rescales by n/k. Normalisation as networkx: 2/((n-1)(n-2)) when
    ``normalized`` (the pair count of an undirected graph), else 1/2.
    """
    matrix = unweighted(adjacency)
    n = matrix.shape[0]
    if samples is None:
        sources = np.arange(n)
    else:
        if not 1 <= samples <= n:
            raise ValueError(f"samples must be in [1, n={n}], got {samples}")
        sources = np.sort(as_rng(seed).choice(n, size=samples, replace=False))
    total = np.zeros(n)
    for start in range(0, len(sources), batch):
        chunk = sources[start : start + batch]
        distance, sigma = _bfs_levels(matrix, chunk)
        delta = np.zeros_like(sigma)
        safe_sigma = np.where(sigma > 0, sigma, 1.0)
        for level in range(int(distance.max()), 0, -1):
            at_level = distance == level
            coefficient = np.where(at_level, (1.0 + delta) / safe_sigma, 0.0)
            parents = distance == level - 1
            delta += np.where(parents, sigma * (matrix @ coefficient), 0.0)
        delta[chunk, np.arange(len(chunk))] = 0.0
        total += delta.sum(axis=1)
    scale = (1.0 / ((n - 1) * (n - 2)) if n > 2 else 1.0) if normalized else 0.5
    if samples is not None:
        scale *= n / samples
    return total * scale


def closeness(adjacency: sp.spmatrix, batch: int = 256) -> np.ndarray:
    r"""Closeness $\frac{r-1}{\sum d} \cdot \frac{r-1}{n-1}$, r = nodes reachable (Wasserman–Faust).

    As networkx: on a disconnected graph each node is judged on its own component.
    """
    matrix = unweighted(adjacency)
    n = matrix.shape[0]
    result = np.zeros(n)
    for start in range(0, n, batch):
        chunk = np.arange(start, min(n, start + batch))
        distance, _ = _bfs_levels(matrix, chunk)
        reach = (distance >= 0).sum(axis=0) - 1
        total = np.where(distance > 0, distance, 0).sum(axis=0)
        ok = total > 0
        result[chunk[ok]] = (reach[ok] / total[ok]) * (reach[ok] / max(n - 1, 1))
    return result


def core_numbers(adjacency: sp.spmatrix) -> np.ndarray:
    """k-core number of every node (Batagelj–Zaversnik bucket peeling)."""
    matrix = as_csr(adjacency)
    n = matrix.shape[0]
    degree = np.diff(matrix.indptr).astype(np.int64)
    order = np.argsort(degree, kind="stable")
    max_degree = int(degree.max()) if n else 0
    bin_start = np.zeros(max_degree + 2, dtype=np.int64)
    np.add.at(bin_start, degree + 1, 1)
    bin_start = np.cumsum(bin_start)[:-1]
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)
    vertices = order.copy()
    core = degree.copy()
    indptr, indices = matrix.indptr, matrix.indices
    for i in range(n):
        v = int(vertices[i])
        for u in indices[indptr[v] : indptr[v + 1]].tolist():
            if core[u] > core[v]:
                du = core[u]
                pu = position[u]
                pw = bin_start[du]
                w = vertices[pw]
                if u != w:
                    position[u], position[w] = pw, pu
                    vertices[pu], vertices[pw] = w, u
                bin_start[du] += 1
                core[u] -= 1
    return core


def maximum_matching_size(adjacency: sp.spmatrix) -> int:
    """Size of a maximum matching of the bipartite graph rows → columns of ``adjacency``."""
    matrix = sp.csr_matrix(adjacency, dtype=np.float64)  # rectangular is fine here
    matching = csgraph.maximum_bipartite_matching(matrix, perm_type="column")
    return int((matching >= 0).sum())
