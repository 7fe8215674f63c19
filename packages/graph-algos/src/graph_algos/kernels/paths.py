r"""Shortest paths on a weighted sparse graph: Dijkstra and A*.

* Dijkstra (1959), "A note on two problems in connexion with graphs": settle nodes in
  order of their tentative distance $d(v) = \min_u d(u) + w_{uv}$. The single-source
  search runs in scipy.sparse.csgraph's compiled Dijkstra (a Fibonacci heap over the
  CSR arrays); what this module adds is the typed answer (distances, predecessors, the
  path to a target) and the checks.
* A* (Hart, Nilsson & Raphael 1968, "A formal basis for the heuristic determination of
  minimum cost paths"): settle nodes in order of $f(v) = g(v) + h(v)$, $g$ the distance
  found so far and $h$ a lower bound of the distance left to the target; with an
  admissible $h$ (never above the true distance) the first time the target is settled
  its distance is the shortest. $h \equiv 0$ is Dijkstra stopped at the target.

Weights are the stored entries of the adjacency matrix (must be non-negative); a
symmetric matrix is an undirected graph, any other a directed one (row → column).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph

from graph_algos.kernels.sparse import as_csr, check_node

Heuristic = Callable[[int], float] | np.ndarray
"""A lower bound of the distance from a node to the target: an array indexed by node,
or a function of the node."""


@dataclass(frozen=True)
class ShortestPaths:
    """Single-source shortest paths: ``distances[v]`` (inf when unreachable) and
    ``predecessors[v]`` (the node before v on a shortest path; -1 at the source and at
    unreachable nodes)."""

    source: int
    distances: np.ndarray
    predecessors: np.ndarray

    def path_to(self, target: int) -> list[int]:
        """The nodes of a shortest path source → ``target`` ([] when unreachable)."""
        n = len(self.distances)
        if not (isinstance(target, int | np.integer) and 0 <= int(target) < n):
            raise ValueError(f"target {target!r} is not in the graph: nodes are 0..{n - 1}")
        if not np.isfinite(self.distances[target]):
            return []
        nodes = [int(target)]
        while nodes[-1] != self.source:
            nodes.append(int(self.predecessors[nodes[-1]]))
        return nodes[::-1]


def _checked_weights(adjacency: sp.spmatrix | np.ndarray) -> sp.csr_matrix:
    matrix = as_csr(adjacency)
    if matrix.nnz and matrix.data.min() < 0:
        bad = float(matrix.data.min())
        raise ValueError(f"shortest paths need non-negative weights, found {bad}")
    return matrix


def dijkstra(adjacency: sp.spmatrix | np.ndarray, source: int) -> ShortestPaths:
    """Distances and predecessors from ``source`` to every node (Dijkstra)."""
    matrix = _checked_weights(adjacency)
    start = check_node(matrix, source, "source")
    distances, predecessors = csgraph.dijkstra(
        matrix, directed=True, indices=start, return_predecessors=True
    )
    predecessors = np.where(predecessors < 0, -1, predecessors).astype(np.int64)
    return ShortestPaths(source=start, distances=distances, predecessors=predecessors)


def astar(
    adjacency: sp.spmatrix | np.ndarray,
    source: int,
    target: int,
    heuristic: Heuristic | None = None,
) -> tuple[float, list[int]]:
    """Length and nodes of a shortest path ``source`` → ``target`` by A*.

    ``heuristic`` bounds the distance left to ``target`` from below (None: zero, which
    makes A* Dijkstra; then the compiled `dijkstra` answers). Returns ``(inf, [])`` when
    the target is unreachable.
    """
    matrix = _checked_weights(adjacency)
    start = check_node(matrix, source, "source")
    goal = check_node(matrix, target, "target")
    if heuristic is None:
        # h = 0 settles nodes in Dijkstra's order; the compiled search is faster than
        # the heap below even though it does not stop at the target.
        found = dijkstra(matrix, start)
        return float(found.distances[goal]), found.path_to(goal)
    bound: Callable[[int], float]
    if callable(heuristic):
        bound = heuristic
    else:
        values = np.asarray(heuristic, dtype=np.float64)
        if values.shape != (matrix.shape[0],):
            raise ValueError(
                f"heuristic must be one value per node, shape ({matrix.shape[0]},), "
                f"got {values.shape}"
            )
        listed = values.tolist()

        def bound(node: int) -> float:
            return float(listed[node])

    indptr, indices, weights = matrix.indptr, matrix.indices, matrix.data
    best = {start: 0.0}
    parent = {start: -1}
    settled: set[int] = set()
    queue = [(bound(start), 0.0, start)]
    while queue:
        _, distance, node = heapq.heappop(queue)
        if node in settled:
            continue
        if node == goal:
            path = [node]
            while parent[path[-1]] >= 0:
                path.append(parent[path[-1]])
            return distance, path[::-1]
        settled.add(node)
        begin, end = indptr[node], indptr[node + 1]
        for neighbour, weight in zip(
            indices[begin:end].tolist(), weights[begin:end].tolist(), strict=True
        ):
            candidate = distance + weight
            if candidate < best.get(neighbour, np.inf):
                best[neighbour] = candidate
                parent[neighbour] = node
                heapq.heappush(queue, (candidate + bound(neighbour), candidate, neighbour))
    return float("inf"), []


def euclidean_heuristic(coordinates: np.ndarray, target: int) -> np.ndarray:
    """Straight-line distance from every node to ``target``: admissible for A* when no
    edge is shorter than the distance between its ends' ``coordinates`` (n x d)."""
    points = np.asarray(coordinates, dtype=np.float64)
    if points.ndim != 2 or not 0 <= target < points.shape[0]:
        raise ValueError(
            f"coordinates must be n x d and target a row of them, got shape {points.shape} "
            f"and target {target!r}"
        )
    result: np.ndarray = np.linalg.norm(points - points[target], axis=1)
    return result
