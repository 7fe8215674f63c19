r"""Hierarchical community detection: bottom-up versus top-down.

Seed paper: Dreveton, Kuroda, Grossglauser, Thiran, "When Does Bottom-up Beat Top-down
in Hierarchical Community Detection?" (arXiv:2306.00833).

* Bethe-Hessian (Saade, Krzakala, Zdeborová 2014, arXiv:1406.1880):
  $H(r) = (r^2 - 1) I - r A + D$ with $r = \sqrt{\sum d^2 / \sum d - 1}$; the number of
  its negative eigenvalues estimates the number of communities, and its eigenvectors for
  them embed the nodes for k-means.
* Bottom-up: Bethe-Hessian spectral clustering down to the finest communities, then
  average linkage that repeatedly merges the two clusters of largest edge density
  $\rho(a, b) = e(a, b) / (|a| |b|)$, the merge height being that density.
* Top-down: recursive spectral bisection (sign of the second Bethe-Hessian
  eigenvector), stopping when the Bethe-Hessian of the part has fewer than two negative
  eigenvalues; the height of a split is the edge density between its two halves.

Both methods are registry entries: ``method(adjacency, params, *, seed=None)`` returns a
``Dendrogram``; its metrics (exact recovery per depth, tree recovery, inversions) are in
``graph_algos.metrics.hierarchy``. The finite-n boundaries drawn on the phase diagrams
(``leaf_divergence_ratio``, ``linkage_gap_boundary``) are at the end of this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from pydantic import Field
from scipy.sparse.linalg import eigsh
from unlearn_schema import MethodParams

from graph_algos.kernels import as_csr, require_connected
from graph_algos.seeding import SeedLike, as_rng
from graph_algos.worlds.generators import hierarchical_probabilities

# Below this many nodes a dense eigensolver is used. It is kept small on purpose: dense
# LAPACK spawns BLAS threads, which on a shared CPU can be 100x slower than ARPACK.
DENSE_LIMIT = 64


def bethe_hessian(adjacency: sp.spmatrix, r: float | None = None) -> sp.csr_matrix:
    r"""$H(r) = (r^2 - 1) I - r A + D$, with $r = \sqrt{\sum d^2 / \sum d - 1}$ by default."""
    matrix = as_csr(adjacency)
    degree = np.asarray(matrix.sum(axis=1)).ravel()
    if r is None:
        total = degree.sum()
        r = float(np.sqrt(max((degree**2).sum() / total - 1.0, 1.0))) if total > 0 else 1.0
    n = matrix.shape[0]
    return sp.csr_matrix((r**2 - 1.0) * sp.identity(n) - r * matrix + sp.diags(degree))


def _smallest_eigenpairs(matrix: sp.csr_matrix, count: int) -> tuple[np.ndarray, np.ndarray]:
    n = matrix.shape[0]
    count = min(count, n)
    if n <= DENSE_LIMIT:
        values, vectors = scipy.linalg.eigh(matrix.toarray(), subset_by_index=[0, count - 1])
        return values, vectors
    # A fixed start vector keeps ARPACK, hence the clustering, reproducible.
    start = np.random.default_rng(0).standard_normal(n)
    values, vectors = eigsh(matrix, k=count, which="SA", tol=1e-8, v0=start)
    order = np.argsort(values)
    return values[order], vectors[:, order]


def count_communities(adjacency: sp.spmatrix, max_communities: int = 64) -> int:
    """Number of negative eigenvalues of the Bethe-Hessian (at least 1, at most the cap)."""
    n = adjacency.shape[0]
    if n < 3:
        return 1
    matrix = bethe_hessian(adjacency)
    count = min(8, max_communities + 1, n - 1)
    while True:
        values, _ = _smallest_eigenpairs(matrix, count)
        negative = int((values < 0).sum())
        if negative < count or count >= min(max_communities + 1, n - 1):
            return max(1, min(negative, max_communities))
        count = min(2 * count, max_communities + 1, n - 1)


def kmeans(points: np.ndarray, k: int, seed: SeedLike = None, restarts: int = 5) -> np.ndarray:
    """k-means++ with Lloyd iterations; the best of ``restarts`` runs by inertia."""
    rng = as_rng(seed)
    n = len(points)
    if k >= n:
        return np.arange(n)
    best_labels, best_inertia = np.zeros(n, dtype=np.int64), np.inf
    for _ in range(restarts):
        centres = [points[rng.integers(n)]]
        for _ in range(1, k):
            gaps = np.min([((points - c) ** 2).sum(axis=1) for c in centres], axis=0)
            total = gaps.sum()
            pick = rng.choice(n, p=gaps / total) if total > 0 else rng.integers(n)
            centres.append(points[pick])
        centre_array = np.array(centres)
        labels = np.zeros(n, dtype=np.int64)
        for _ in range(100):
            distances = ((points[:, None, :] - centre_array[None, :, :]) ** 2).sum(axis=2)
            new_labels = distances.argmin(axis=1)
            if (new_labels == labels).all() and _ > 0:
                break
            labels = new_labels
            for j in range(k):
                members = points[labels == j]
                if len(members):
                    centre_array[j] = members.mean(axis=0)
        inertia = float(((points - centre_array[labels]) ** 2).sum())
        if inertia < best_inertia:
            best_labels, best_inertia = labels, inertia
    return best_labels


def spectral_clustering(
    adjacency: sp.spmatrix, k: int | None = None, seed: SeedLike = None
) -> np.ndarray:
    """Bethe-Hessian spectral clustering; k from the negative eigenvalues when not given."""
    n = adjacency.shape[0]
    if k is None:
        k = count_communities(adjacency)
    if not 1 <= k <= n:
        raise ValueError(f"k must be in [1, n={n}], got {k}")
    if k == 1:
        return np.zeros(n, dtype=np.int64)
    _, vectors = _smallest_eigenpairs(bethe_hessian(adjacency), k)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    embedding = vectors / np.where(norms > 0, norms, 1.0)
    return _relabel(kmeans(embedding, k, seed))


def _relabel(labels: np.ndarray) -> np.ndarray:
    """Labels renumbered 0..k-1 in order of first appearance."""
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.argsort(np.argsort(first))
    return rank[inverse]


@dataclass
class Dendrogram:
    """A binary tree over node sets: ``members[i]`` are the nodes under tree node i.

    ``children[i]`` is empty for a leaf; ``height[i]`` is the merge (or split) density,
    higher meaning more tightly knit. The root is node ``root``.
    """

    members: list[np.ndarray] = field(default_factory=list)
    children: list[tuple[int, ...]] = field(default_factory=list)
    height: list[float] = field(default_factory=list)
    root: int = 0

    def add(self, members: np.ndarray, children: tuple[int, ...], height: float) -> int:
        self.members.append(members)
        self.children.append(children)
        self.height.append(height)
        return len(self.members) - 1

    def leaves(self) -> list[int]:
        return [i for i, c in enumerate(self.children) if not c]

    def partition_at_depth(self, depth: int, n: int) -> np.ndarray:
        """Labels of the tree nodes at ``depth`` below the root (shallower leaves kept)."""
        frontier = [self.root]
        for _ in range(depth):
            frontier = [c for node in frontier for c in (self.children[node] or (node,))]
        labels = np.full(n, -1, dtype=np.int64)
        for label, node in enumerate(frontier):
            labels[self.members[node]] = label
        return labels

    def inversions(self) -> int:
        """Parent–child pairs of internal nodes where the parent is higher than the child."""
        count = 0
        for parent, kids in enumerate(self.children):
            for child in kids:
                if self.children[child] and self.height[parent] > self.height[child] + 1e-12:
                    count += 1
        return count


def _edge_density(matrix: sp.csr_matrix, a: np.ndarray, b: np.ndarray) -> float:
    if len(a) == 0 or len(b) == 0:
        return 0.0
    return float(matrix[a][:, b].sum()) / (len(a) * len(b))


def linkage_tree(adjacency: sp.spmatrix, labels: np.ndarray) -> Dendrogram:
    """Average linkage on inter-cluster edge density, starting from the clusters ``labels``."""
    matrix = as_csr(adjacency)
    k = int(labels.max()) + 1
    indicator = sp.csr_matrix((np.ones(len(labels)), (np.arange(len(labels)), labels)))
    edges = (indicator.T @ matrix @ indicator).toarray()
    sizes = np.bincount(labels, minlength=k).astype(np.float64)
    tree = Dendrogram()
    active: dict[int, int] = {}  # cluster slot -> tree node
    for j in range(k):
        inside = np.flatnonzero(labels == j)
        pairs = len(inside) * (len(inside) - 1)
        density = edges[j, j] / pairs if pairs else 0.0
        active[j] = tree.add(inside, (), float(density))
    slots = list(range(k))
    while len(slots) > 1:
        best, best_pair = -1.0, (slots[0], slots[1])
        for i, a in enumerate(slots):
            for b in slots[i + 1 :]:
                density = edges[a, b] / (sizes[a] * sizes[b])
                if density > best:
                    best, best_pair = density, (a, b)
        a, b = best_pair
        node = tree.add(
            np.concatenate([tree.members[active[a]], tree.members[active[b]]]),
            (active[a], active[b]),
            float(best),
        )
        edges[a, :] += edges[b, :]
        edges[:, a] += edges[:, b]
        sizes[a] += sizes[b]
        active[a] = node
        slots.remove(b)
    tree.root = active[slots[0]]
    return tree


class BottomUpParams(MethodParams):
    """Bottom-up: the number of finest communities (None: Bethe-Hessian estimate)."""

    communities: int | None = Field(default=None, ge=2, le=256)


class TopDownParams(MethodParams):
    """Top-down: smallest part that may still be split, and the deepest split."""

    min_size: int = Field(default=8, ge=2, le=10_000)
    max_depth: int = Field(default=12, ge=1, le=30)


def bottom_up(
    adjacency: sp.spmatrix, params: BottomUpParams | None = None, *, seed: SeedLike = None
) -> Dendrogram:
    """Bottom-up: Bethe-Hessian clustering to the finest communities, then linkage.

    Needs a connected graph (isolated pieces would be split off as spurious leaves).
    """
    params = params or BottomUpParams()
    require_connected(adjacency, "bottom-up hierarchical clustering")
    labels = spectral_clustering(adjacency, params.communities, seed)
    return linkage_tree(adjacency, labels)


def top_down(
    adjacency: sp.spmatrix, params: TopDownParams | None = None, *, seed: SeedLike = None
) -> Dendrogram:
    """Top-down: recursive Bethe-Hessian bisection until the stopping rule says 'one block'.

    Needs a connected graph, like ``bottom_up``.
    """
    params = params or TopDownParams()
    min_size, max_depth = params.min_size, params.max_depth
    require_connected(adjacency, "top-down hierarchical clustering")
    matrix = as_csr(adjacency)
    rng = as_rng(seed)
    tree = Dendrogram()

    def split(nodes: np.ndarray, depth: int) -> int:
        sub = matrix[nodes][:, nodes]
        if depth >= max_depth or len(nodes) < 2 * min_size or count_communities(sub, 2) < 2:
            pairs = len(nodes) * (len(nodes) - 1)
            return tree.add(nodes, (), float(sub.sum()) / pairs if pairs else 0.0)
        halves = spectral_clustering(sub, 2, rng)
        left, right = nodes[halves == 0], nodes[halves == 1]
        if len(left) == 0 or len(right) == 0:
            pairs = len(nodes) * (len(nodes) - 1)
            return tree.add(nodes, (), float(sub.sum()) / pairs if pairs else 0.0)
        height = _edge_density(matrix, left, right)
        children = (split(left, depth + 1), split(right, depth + 1))
        return tree.add(nodes, children, height)

    tree.root = split(np.arange(matrix.shape[0]), 0)
    return tree


# ------------------------------------------------------- finite-n boundaries


def chernoff_hellinger(
    probabilities: np.ndarray, sizes: np.ndarray, a: int, b: int, grid: int = 201
) -> float:
    r"""$\max_t \sum_k n_k [t P_{ak} + (1-t) P_{bk} - P_{ak}^t P_{bk}^{1-t}]$ between blocks a, b.

    Abbe & Sandon (2015), "Community detection in general stochastic block models":
    with P = Q log n / n, the nodes of blocks a and b can be told apart exactly when
    this divergence exceeds log n (their CH(a, b) > 1 after the rescaling). The
    maximum over t in [0, 1] is taken on a grid of ``grid`` points.
    """
    t = np.linspace(0.0, 1.0, grid)[:, None]
    pa, pb = probabilities[a][None, :], probabilities[b][None, :]
    terms = t * pa + (1.0 - t) * pb - np.power(pa, t) * np.power(pb, 1.0 - t)
    return float(np.max(terms @ sizes))


def leaf_divergence_ratio(level_probabilities: list[float], community_size: int) -> float:
    """min over pairs of leaves of their Chernoff-Hellinger divergence, over log n.

    Above one, the finest communities of the hierarchical SBM are exactly recoverable
    (the information-theoretic condition of Abbe & Sandon applied at this finite n);
    the bottom-up algorithm starts from them.
    """
    matrix = hierarchical_probabilities(level_probabilities)
    leaves = matrix.shape[0]
    sizes = np.full(leaves, float(community_size))
    smallest = min(
        chernoff_hellinger(matrix, sizes, a, b) for a in range(leaves) for b in range(a + 1, leaves)
    )
    return smallest / float(np.log(leaves * community_size))


def linkage_gap_boundary(cousin_probability: float, community_size: int, level: int) -> float:
    r"""Gap at which the linkage step's signal-to-noise reaches one at depth ``level``.

    Merging the finest communities into the depth-ℓ ones compares block-pair edge
    densities that differ by one ``gap``; each is estimated from $s^2$ node pairs, so two
    of them differ by noise of standard deviation $\sqrt{2 q (1 - q)} / s$, with q the
    depth-$(\ell-1)$ probability cousin + $(\ell-1)$·gap (solved by fixed-point
    iteration). The boundary gap $= \sqrt{2 q (1 - q)} / s$ is an order-one reading, like the
    planted-subgraph boundaries, not a constant stated by the paper.
    """
    if level < 1:
        raise ValueError(f"level must be at least 1, got {level}")
    gap = 0.0
    for _ in range(50):  # q depends on the gap itself: a short fixed-point iteration
        q = min(cousin_probability + (level - 1) * gap, 1.0)
        gap = float(np.sqrt(2.0 * q * (1.0 - q)) / community_size)
    return gap
