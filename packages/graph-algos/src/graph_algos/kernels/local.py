r"""Local diffusions and the sweep cut: their cost follows the output volume, not n.

They keep their state in dicts and read only the rows of the nodes they push from.

* ACL push: Andersen, Chung, Lang (2006), "Local graph partitioning using PageRank
  vectors": lazy push $p_u \mathrel{+}= \alpha r_u$, $r_u \leftarrow (1-\alpha) r_u / 2$,
  $r_v \mathrel{+}= (1-\alpha) r_u w_{uv} / (2 d_u)$ while some $r_u \ge \varepsilon d_u$.
* $\ell_2$ flow diffusion: Fountoulakis, Wang, Yang (2020), "p-Norm Flow Diffusion for
  Local Graph Clustering", p = 2: source mass $\Delta$ at the seeds, sink capacity
  $T_u = d_u$; while some $m_u > T_u$, push: $x_u \mathrel{+}= (m_u - T_u)/d_u$ and spread
  the excess to the neighbours in proportion to the edge weights.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from graph_algos.kernels.sparse import as_csr, check_node


def _row(matrix: sp.csr_matrix, node: int) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = matrix.indptr[node], matrix.indptr[node + 1]
    return matrix.indices[lo:hi], matrix.data[lo:hi]


class _Degrees(dict[int, float]):
    """Weighted degrees of a CSR matrix's nodes, each read from its row when first asked."""

    def __init__(self, matrix: sp.csr_matrix) -> None:
        super().__init__()
        self.matrix = matrix

    def __missing__(self, node: int) -> float:
        value = float(_row(self.matrix, node)[1].sum())
        self[node] = value
        return value


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
    r"""Approximate personalised PageRank from ``seed`` by the ACL lazy push.

    Ends with every residual $r_u < \varepsilon d_u$, so the returned p satisfies
    $|p_u - \text{ppr}_u| \le \varepsilon d_u$ and its support has volume at most
    $1/(\varepsilon \alpha)$.
    """
    matrix = adjacency if isinstance(adjacency, sp.csr_matrix) else as_csr(adjacency)
    seed = check_node(matrix, seed, "seed node")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if epsilon <= 0.0:
        raise ValueError(f"epsilon must be positive, got {epsilon}")
    degree = _Degrees(matrix)
    if degree[seed] == 0:
        raise ValueError(f"seed node {seed} has no edges; nothing can diffuse from it")
    estimate: dict[int, float] = {}
    residual: dict[int, float] = {seed: 1.0}
    queue = deque([seed])
    queued = {seed}
    pushes = 0
    while queue:
        u = queue.popleft()
        queued.discard(u)
        r_u, d_u = residual.get(u, 0.0), degree[u]
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
            if v not in queued and r_v >= epsilon * degree[v]:
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
    degree = _Degrees(matrix)
    mass: dict[int, float] = {}
    for s in seed_list:
        if degree[s] == 0:
            raise ValueError(f"seed node {s} has no edges; nothing can diffuse from it")
        mass[s] = mass.get(s, 0.0) + source_mass / len(seed_list)
    potential: dict[int, float] = {}
    queue = deque(s for s in dict.fromkeys(seed_list) if mass[s] > degree[s])
    queued = set(queue)
    pushes = 0
    while queue:
        u = queue.popleft()
        queued.discard(u)
        d_u = degree[u]
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
            if v not in queued and m_v > degree[v] * (1.0 + tolerance):
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
    r"""Sweep over nodes by decreasing score (score/degree when ``degree_normalized``).

    Conductance $\phi(S) = \text{cut}(S) / \min(\text{vol}\, S, \text{vol}\, V - \text{vol}\, S)$,
    updated incrementally: $\text{cut}(S \cup \{v\}) = \text{cut}(S) + d_v - w_{vv} - 2 w(v, S)$,
    where $w_{vv}$ is v's self-loop (it adds to $d_v$ and to the volume, as the diagonal
    entry of the matrix, but it never leaves S, so it is no cut edge).
    Only the scored nodes' rows are read;
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
        to_inside = self_loop = 0.0
        for u, w in zip(neighbours.tolist(), weights.tolist(), strict=True):
            if u == v:
                self_loop += w
            elif u in inside:
                to_inside += w
        inside.add(v)
        volume += degree[v]
        cut += degree[v] - self_loop - 2.0 * to_inside
        denominator = min(volume, volume_all - volume)
        profile.append(cut / denominator if denominator > 0 else 1.0)
    best = int(np.argmin(profile))
    return SweepCut(order[: best + 1], float(profile[best]), profile)
