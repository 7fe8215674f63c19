"""Fast graph kernels on ``scipy.sparse`` adjacency matrices.

Global kernels (PageRank, components, betweenness, closeness, k-core) are vectorised
over whole frontiers; local kernels (ACL push, ℓ2 flow diffusion, sweep cut) keep their
state in dicts and touch only the nodes they push from and their neighbours, so their
cost follows the output volume, not the graph size.

* PageRank: power iteration of x ← α Pᵀx + (α·dangling mass + 1 − α)·v, as networkx.
* Betweenness: Brandes (2001), "A faster algorithm for betweenness centrality",
  run for a batch of sources at once: σ counts along BFS levels forward, then
  δ_s(v) = Σ_{w: v∈pred(w)} σ_sv/σ_sw (1 + δ_s(w)) backward. Sampling k sources and
  rescaling by n/k gives the estimator of Brandes & Pich (2007).
* ACL push: Andersen, Chung, Lang (2006), "Local graph partitioning using PageRank
  vectors": lazy push p_u += α r_u, r_u ← (1−α) r_u / 2, r_v += (1−α) r_u w_uv / (2 d_u)
  while some r_u ≥ ε d_u.
* ℓ2 flow diffusion: Fountoulakis, Wang, Yang (2020), "p-Norm Flow Diffusion for Local
  Graph Clustering", p = 2: source mass Δ at the seeds, sink capacity T_u = d_u; while
  some m_u > T_u, push: x_u += (m_u − T_u)/d_u and spread the excess to the neighbours
  in proportion to the edge weights.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph

from graph_algos.generators import SeedLike, as_rng


def as_csr(adjacency: sp.spmatrix | sp.sparray | np.ndarray) -> sp.csr_matrix:
    """A float64 CSR view of a square adjacency matrix (no copy when it already is one).

    Raises on a non-square input. Callers must not modify the result in place.
    """
    if isinstance(adjacency, sp.csr_matrix) and adjacency.dtype == np.float64:
        matrix = adjacency
    else:
        matrix = sp.csr_matrix(adjacency, dtype=np.float64)
    if matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"adjacency must be square, got shape {matrix.shape}")
    return matrix


def unweighted(adjacency: sp.spmatrix | sp.sparray | np.ndarray) -> sp.csr_matrix:
    """A fresh CSR copy with every stored weight set to one."""
    matrix = as_csr(adjacency).copy()
    matrix.data[:] = 1.0
    return matrix


def check_node(adjacency: sp.spmatrix, node: int, name: str = "node") -> int:
    """``node`` as an int, or a ValueError naming it when it is not in the graph."""
    n = adjacency.shape[0]
    if not (isinstance(node, int | np.integer) and 0 <= int(node) < n):
        raise ValueError(f"{name} {node!r} is not in the graph: nodes are 0..{n - 1}")
    return int(node)


def degrees(adjacency: sp.spmatrix) -> np.ndarray:
    """Weighted degree (row sums) of every node."""
    return np.asarray(as_csr(adjacency).sum(axis=1)).ravel()


# ---------------------------------------------------------------------------- global


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


# A bottom-up probe costs several numpy passes; a top-down edge one gather.
_BOTTOM_UP_COST = 4.0


def _bottom_up_pass(
    indptr: np.ndarray, indices: np.ndarray, visited: np.ndarray, candidates: np.ndarray
) -> int:
    """Mark every candidate with a visited neighbour as visited; return how many.

    Each candidate first probes its neighbours one at a time (most find a visited one
    within a probe or two once most nodes are visited), and only the few left after
    ``probes`` rounds read the rest of their row at once.
    """
    found = 0
    pointer = indptr[candidates].astype(np.intp)
    end = indptr[candidates + 1].astype(np.intp)
    for _ in range(4):
        if candidates.size == 0:
            return found
        hit = np.take(visited, np.take(indices, pointer))
        newly = candidates[hit]
        visited[newly] = True
        found += newly.size
        keep = ~hit
        pointer = pointer[keep] + 1
        candidates, end = candidates[keep], end[keep]
        alive = pointer < end
        candidates, pointer, end = candidates[alive], pointer[alive], end[alive]
    if candidates.size:
        lengths = end - pointer
        offsets = np.cumsum(lengths) - lengths
        positions = np.repeat(pointer - offsets, lengths) + np.arange(int(lengths.sum()))
        hits = np.take(visited, np.take(indices, positions))
        newly = candidates[np.logical_or.reduceat(hits, offsets)]
        visited[newly] = True
        found += newly.size
    return found


def _component_of(matrix: sp.csr_matrix, start: int, max_rounds: int = 16) -> np.ndarray | None:
    """Boolean mask of the component of ``start``, by direction-optimising search.

    After Beamer, Asanović, Patterson (2012), "Direction-optimizing breadth-first
    search": expand the frontier top-down (with scipy's compiled CSR row gather) in
    chunks while that is the cheaper way forward; once the unvisited nodes are few
    compared with the visited ones, finish bottom-up, where every unvisited node looks
    for any visited neighbour (only reachability matters), repeated until a pass finds
    nothing. On small-world graphs this reads a fraction of the edges that a full
    breadth-first search reads. Returns ``None`` after ``max_rounds`` rounds (long
    paths, grids), where scipy's linear-time search is the better tool.
    """
    indptr, indices = matrix.indptr, matrix.indices
    n = matrix.shape[0]
    degree = np.diff(indptr)
    active = int(np.count_nonzero(degree))  # nodes without edges are reached from nowhere
    visited = np.zeros(n, dtype=bool)
    visited[start] = True
    seen = 1
    frontier = np.array([start], dtype=np.intp)
    stamp = np.empty(n, dtype=np.intp)
    chunk_edges = max(n // 4, 1024)
    for _ in range(max_rounds):
        if frontier.size == 0:
            return visited
        edges = np.cumsum(degree[frontier])
        # Split the frontier into chunks of about chunk_edges edges each.
        cuts = np.searchsorted(edges, np.arange(chunk_edges, int(edges[-1]), chunk_edges))
        bounds = [0, *np.unique(cuts).tolist(), frontier.size]
        next_parts: list[np.ndarray] = []
        for lo, hi in itertools.pairwise(bounds):
            if hi <= lo:
                continue
            # Bottom-up finish costs about (unvisited / visited share) probes.
            unvisited = active - seen
            remaining = int(edges[-1]) - (int(edges[lo - 1]) if lo else 0)
            if unvisited * active * _BOTTOM_UP_COST < remaining * max(seen, 1):
                while True:
                    candidates = np.flatnonzero(~visited & (degree > 0))
                    if (
                        candidates.size == 0
                        or _bottom_up_pass(indptr, indices, visited, candidates) == 0
                    ):
                        return visited
            reached = matrix[frontier[lo:hi]].indices.astype(np.intp)
            if 32 * reached.size > n:  # large chunk: diff the masks to deduplicate
                before = visited.copy()
                visited[reached] = True
                new = np.flatnonzero(visited != before)
            else:  # small chunk: the last write to ``stamp`` wins, no sorting
                reached = reached[~np.take(visited, reached)]
                order = np.arange(reached.size)
                stamp[reached] = order
                new = reached[np.take(stamp, reached) == order]
                visited[new] = True
            seen += new.size
            next_parts.append(new)
        frontier = np.concatenate(next_parts) if next_parts else frontier[:0]
    return None


def connected_components(adjacency: sp.spmatrix, symmetric: bool = True) -> tuple[int, np.ndarray]:
    """Number of connected components and each node's component label.

    For a symmetric adjacency the component of the highest-degree node (usually the giant
    one) is found by a direction-optimising search (see ``_component_of``) that stops
    once every node with an edge is accounted for; only the nodes it leaves out go through
    scipy's component search (whose strongly connected components equal the connected
    ones and need no transpose). Graphs of large diameter, where that search would need
    many rounds, go to scipy's breadth-first search directly. Pass ``symmetric=False`` for
    a directed graph to get its weak components.
    """
    matrix = as_csr(adjacency)
    n = matrix.shape[0]
    if not symmetric:
        count, labels = csgraph.connected_components(matrix, directed=True, connection="weak")
        return int(count), labels
    if n == 0:
        return 0, np.zeros(0, dtype=np.int32)
    start = int(np.argmax(np.diff(matrix.indptr)))
    mask = _component_of(matrix, start)
    if mask is None:
        giant = csgraph.breadth_first_order(matrix, start, directed=True, return_predecessors=False)
        mask = np.zeros(n, dtype=bool)
        mask[giant] = True
    size = int(mask.sum())
    if size == n:
        return 1, np.zeros(n, dtype=np.int32)
    if 2 * size < n:  # no giant component: the plain search is cheaper
        count, labels = csgraph.connected_components(matrix, directed=True, connection="strong")
        return int(count), labels
    labels = np.zeros(n, dtype=np.int32)
    rest = np.flatnonzero(~mask)
    count, rest_labels = csgraph.connected_components(
        matrix[rest][:, rest], directed=True, connection="strong"
    )
    labels[rest] = rest_labels + 1
    return int(count) + 1, labels


def largest_component_size(adjacency: sp.spmatrix, removed: Iterable[int] = ()) -> int:
    """Nodes in the largest connected component after deleting the nodes ``removed``."""
    matrix = as_csr(adjacency)
    keep = np.ones(matrix.shape[0], dtype=bool)
    keep[list(removed)] = False
    if not keep.any():
        return 0
    _, labels = connected_components(matrix[keep][:, keep])
    return int(np.bincount(labels).max())


def require_connected(adjacency: sp.spmatrix, method: str) -> None:
    """Raise a ValueError when ``method`` needs a connected graph and this one is not."""
    count, labels = connected_components(adjacency)
    if count > 1:
        sizes = np.sort(np.bincount(labels))[::-1]
        raise ValueError(
            f"{method} needs a connected graph, but this one has {count} components "
            f"(largest sizes {sizes[:5].tolist()}); run it on the largest component"
        )


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
    """Closeness (r-1)/Σd · (r-1)/(n-1), r = nodes reachable (Wasserman–Faust, as networkx)."""
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


# ----------------------------------------------------------------------------- local


def _row(matrix: sp.csr_matrix, node: int) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = matrix.indptr[node], matrix.indptr[node + 1]
    return matrix.indices[lo:hi], matrix.data[lo:hi]


@dataclass(frozen=True)
class LocalResult:
    """Scores of a local method on the nodes it touched, and how many pushes it made."""

    scores: dict[int, float]
    pushes: int

    def support(self) -> list[int]:
        return [node for node, value in self.scores.items() if value > 0]


def acl_push(
    adjacency: sp.spmatrix, seed: int, alpha: float = 0.15, epsilon: float = 1e-4
) -> LocalResult:
    """Approximate personalised PageRank from ``seed`` by the ACL lazy push.

    Ends with every residual r_u < ε d_u, so the returned p satisfies
    |p_u − ppr_u| ≤ ε d_u and its support has volume at most 1/(ε α).
    """
    matrix = adjacency if isinstance(adjacency, sp.csr_matrix) else as_csr(adjacency)
    seed = check_node(matrix, seed, "seed node")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if epsilon <= 0.0:
        raise ValueError(f"epsilon must be positive, got {epsilon}")
    degree: dict[int, float] = {}

    def degree_of(node: int) -> float:
        if node not in degree:
            degree[node] = float(_row(matrix, node)[1].sum())
        return degree[node]

    if degree_of(seed) == 0:
        raise ValueError(f"seed node {seed} has no edges; nothing can diffuse from it")
    estimate: dict[int, float] = {}
    residual: dict[int, float] = {seed: 1.0}
    queue = deque([seed])
    queued = {seed}
    pushes = 0
    while queue:
        u = queue.popleft()
        queued.discard(u)
        r_u, d_u = residual.get(u, 0.0), degree_of(u)
        if r_u < epsilon * d_u:
            continue
        pushes += 1
        estimate[u] = estimate.get(u, 0.0) + alpha * r_u
        spread = (1.0 - alpha) * r_u / (2.0 * d_u)
        residual[u] = (1.0 - alpha) * r_u / 2.0
        neighbours, weights = _row(matrix, u)
        for v, w in zip(neighbours.tolist(), weights.tolist(), strict=True):
            r_v = residual.get(v, 0.0) + spread * w
            residual[v] = r_v
            if v not in queued and r_v >= epsilon * degree_of(v):
                queue.append(v)
                queued.add(v)
        if u not in queued and residual[u] >= epsilon * d_u:
            queue.append(u)
            queued.add(u)
    return LocalResult(estimate, pushes)


def l2_flow_diffusion(
    adjacency: sp.spmatrix,
    seeds: int | list[int],
    source_mass: float,
    tolerance: float = 1e-6,
    max_pushes: int = 2_000_000,
) -> LocalResult:
    """ℓ2-norm flow diffusion from ``seeds`` (mass split equally), sink capacity d_u.

    Returns the dual potentials x (their support is the cluster the diffusion found).
    Coordinate descent as in Fountoulakis, Wang & Yang (2020), Algorithm 1 for p = 2;
    a node is pushed while its excess exceeds ``tolerance · d_u``. The mass must stay
    below the volume of the seeds' component, or no flow can settle.
    """
    matrix = adjacency if isinstance(adjacency, sp.csr_matrix) else as_csr(adjacency)
    seed_list = [seeds] if isinstance(seeds, int | np.integer) else list(seeds)
    if not seed_list:
        raise ValueError("flow diffusion needs at least one seed node")
    seed_list = [check_node(matrix, s, "seed node") for s in seed_list]
    if not np.isfinite(source_mass) or source_mass <= 0:
        raise ValueError(f"source_mass must be positive and finite, got {source_mass}")
    degree: dict[int, float] = {}

    def degree_of(node: int) -> float:
        if node not in degree:
            degree[node] = float(_row(matrix, node)[1].sum())
        return degree[node]

    mass: dict[int, float] = {}
    for s in seed_list:
        if degree_of(s) == 0:
            raise ValueError(f"seed node {s} has no edges; nothing can diffuse from it")
        mass[s] = mass.get(s, 0.0) + source_mass / len(seed_list)
    potential: dict[int, float] = {}
    queue = deque(s for s in dict.fromkeys(seed_list) if mass[s] > degree_of(s))
    queued = set(queue)
    pushes = 0
    while queue:
        u = queue.popleft()
        queued.discard(u)
        d_u = degree_of(u)
        excess = mass[u] - d_u
        if excess <= tolerance * d_u:
            continue
        pushes += 1
        if pushes > max_pushes:
            raise RuntimeError(
                f"flow diffusion exceeded {max_pushes} pushes; source_mass={source_mass} "
                "is probably close to or above the volume of the seed's component, "
                "where the flow cannot settle: lower source_mass"
            )
        potential[u] = potential.get(u, 0.0) + excess / d_u
        mass[u] = d_u
        neighbours, weights = _row(matrix, u)
        for v, w in zip(neighbours.tolist(), weights.tolist(), strict=True):
            m_v = mass.get(v, 0.0) + excess * w / d_u
            mass[v] = m_v
            if v not in queued and m_v > degree_of(v) * (1.0 + tolerance):
                queue.append(v)
                queued.add(v)
    return LocalResult(potential, pushes)


@dataclass(frozen=True)
class SweepCut:
    """The best prefix of a sweep: its nodes, conductance, and the whole profile."""

    nodes: list[int]
    conductance: float
    profile: list[float]


def sweep_cut(
    adjacency: sp.spmatrix,
    scores: dict[int, float],
    degree_normalized: bool = True,
    total_volume: float | None = None,
) -> SweepCut:
    """Sweep over nodes by decreasing score (score/degree when ``degree_normalized``).

    Conductance φ(S) = cut(S) / min(vol S, vol V − vol S), updated incrementally:
    cut(S ∪ {v}) = cut(S) + d_v − 2 w(v, S). Only the scored nodes' rows are read;
    pass ``total_volume`` to avoid summing the whole matrix once.
    """
    matrix = adjacency if isinstance(adjacency, sp.csr_matrix) else as_csr(adjacency)
    candidates = [(node, value) for node, value in scores.items() if value > 0]
    if not candidates:
        raise ValueError("sweep_cut needs at least one node with a positive score")
    volume_all = float(matrix.data.sum()) if total_volume is None else total_volume
    rows = {node: _row(matrix, node) for node, _ in candidates}
    degree = {node: float(row[1].sum()) for node, row in rows.items()}

    def key(item: tuple[int, float]) -> float:
        node, value = item
        return value / degree[node] if degree_normalized and degree[node] > 0 else value

    order = [node for node, _ in sorted(candidates, key=key, reverse=True)]
    inside: set[int] = set()
    volume = cut = 0.0
    profile: list[float] = []
    for v in order:
        neighbours, weights = rows[v]
        to_inside = float(
            sum(
                w for u, w in zip(neighbours.tolist(), weights.tolist(), strict=True) if u in inside
            )
        )
        inside.add(v)
        volume += degree[v]
        cut += degree[v] - 2.0 * to_inside
        denominator = min(volume, volume_all - volume)
        profile.append(cut / denominator if denominator > 0 else 1.0)
    best = int(np.argmin(profile))
    return SweepCut(order[: best + 1], float(profile[best]), profile)
