"""Random graph generators returning symmetric ``scipy.sparse`` adjacency matrices.

Every generator takes a ``numpy.random.Generator`` (or a seed), so that a graph is
reproducible from its seed; none builds a dense n×n matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from graph_algos.seeding import SeedLike, as_rng


def _check_probability(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {value}")


def _check_nodes(n: int) -> None:
    if n < 1:
        raise ValueError(f"n must be a positive number of nodes, got {n}")


def pair_index(u: np.ndarray, v: np.ndarray, n: int) -> np.ndarray:
    """Position of the unordered pair {u, v} (u != v) in the row-major upper triangle."""
    lo = np.minimum(u, v).astype(np.int64)
    hi = np.maximum(u, v).astype(np.int64)
    return lo * n - lo * (lo + 1) // 2 + (hi - lo - 1)


def adjacency_from_edges(rows: np.ndarray, cols: np.ndarray, n: int) -> sp.csr_matrix:
    """Symmetric 0/1 CSR adjacency from undirected edges given once each."""
    data = np.ones(2 * len(rows), dtype=np.float64)
    both_rows = np.concatenate([rows, cols])
    both_cols = np.concatenate([cols, rows])
    adjacency = sp.csr_matrix((data, (both_rows, both_cols)), shape=(n, n))
    adjacency.sum_duplicates()
    adjacency.data[:] = 1.0
    return adjacency


def _sample_pairs(n: int, q: float, rng: np.random.Generator) -> np.ndarray:
    """Indices of the upper-triangle pairs that are edges in G(n, q).

    Skips between successive edges are geometric, so the cost is proportional to the
    number of edges rather than to n² (needed for the sparse regime with large n).
    """
    return _sample_positions(n * (n - 1) // 2, q, rng)


def _sample_positions(total: int, q: float, rng: np.random.Generator) -> np.ndarray:
    """Positions in ``range(total)`` kept independently with probability q (sorted)."""
    if q <= 0.0 or total == 0:
        return np.empty(0, dtype=np.int64)
    if q >= 1.0:
        return np.arange(total, dtype=np.int64)
    expected = total * q
    chunk = int(expected + 6.0 * np.sqrt(expected) + 16)
    picks: list[np.ndarray] = []
    position = -1
    while True:
        gaps = rng.geometric(q, size=chunk)
        positions = position + np.cumsum(gaps)
        inside = positions[positions < total]
        picks.append(inside)
        if len(inside) < len(positions):
            break
        position = int(positions[-1])
    return np.concatenate(picks)


def _pairs_to_edges(pairs: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    # Invert pair_index: row u starts at offset u*n - u*(u+1)/2.
    starts = (
        np.arange(n, dtype=np.int64) * n
        - np.arange(n, dtype=np.int64) * (np.arange(n, dtype=np.int64) + 1) // 2
    )
    rows = np.searchsorted(starts, pairs, side="right") - 1
    cols = pairs - starts[rows] + rows + 1
    return rows, cols


def erdos_renyi(n: int, q: float, seed: SeedLike = None) -> sp.csr_matrix:
    """G(n, q): each of the n(n-1)/2 pairs is an edge independently with probability q."""
    _check_nodes(n)
    _check_probability("q", q)
    rng = as_rng(seed)
    rows, cols = _pairs_to_edges(_sample_pairs(n, q, rng), n)
    return adjacency_from_edges(rows, cols, n)


@dataclass(frozen=True)
class Subgraph:
    """A pattern Γ on ``k`` vertices 0..k-1, given by its undirected edge list."""

    name: str
    k: int
    edges: np.ndarray  # shape (m, 2), each edge once, u < v

    @property
    def num_edges(self) -> int:
        return len(self.edges)

    @property
    def max_degree(self) -> int:
        if self.num_edges == 0:
            return 0
        return int(np.bincount(self.edges.ravel(), minlength=self.k).max())


def _pattern(name: str, k: int, edges: list[tuple[int, int]] | np.ndarray) -> Subgraph:
    array = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    array = np.sort(array, axis=1)
    return Subgraph(name=name, k=k, edges=array)


def _check_size(name: str, k: int, minimum: int) -> None:
    if k < minimum:
        raise ValueError(f"a {name} needs at least {minimum} vertices, got k={k}")


def clique(k: int) -> Subgraph:
    """The complete graph K_k."""
    _check_size("clique", k, 2)
    rows, cols = np.triu_indices(k, k=1)
    return _pattern("clique", k, np.stack([rows, cols], axis=1))


def star(k: int) -> Subgraph:
    """A star: vertex 0 joined to k-1 leaves."""
    _check_size("star", k, 2)
    return _pattern("star", k, [(0, leaf) for leaf in range(1, k)])


def path(k: int) -> Subgraph:
    """The path 0-1-...-(k-1)."""
    _check_size("path", k, 2)
    return _pattern("path", k, [(i, i + 1) for i in range(k - 1)])


def cycle(k: int) -> Subgraph:
    """The cycle on k vertices."""
    _check_size("cycle", k, 3)
    return _pattern("cycle", k, [(i, (i + 1) % k) for i in range(k)])


def random_tree(k: int, seed: SeedLike = None) -> Subgraph:
    """A uniformly random labelled tree (random Prüfer sequence)."""
    _check_size("tree", k, 2)
    rng = as_rng(seed)
    if k == 2:
        return _pattern("tree", k, [(0, 1)])
    prufer = rng.integers(0, k, size=k - 2)
    degree = np.ones(k, dtype=np.int64)
    np.add.at(degree, prufer, 1)
    edges = []
    for node in prufer:
        leaf = int(np.flatnonzero(degree == 1)[0])
        edges.append((leaf, int(node)))
        degree[leaf] -= 1
        degree[node] -= 1
    last = np.flatnonzero(degree == 1)
    edges.append((int(last[0]), int(last[1])))
    return _pattern("tree", k, edges)


def dense_random(k: int, density: float = 0.5, seed: SeedLike = None) -> Subgraph:
    """A fixed G(k, density) pattern: a dense subgraph with no special structure."""
    _check_size("dense random subgraph", k, 2)
    _check_probability("density", density)
    rng = as_rng(seed)
    rows, cols = np.triu_indices(k, k=1)
    keep = rng.random(len(rows)) < density
    return _pattern("dense", k, np.stack([rows[keep], cols[keep]], axis=1))


SUBGRAPHS = ("clique", "star", "path", "cycle", "tree", "dense")


def make_subgraph(name: str, k: int, seed: SeedLike = None) -> Subgraph:
    """Build a pattern by name: one of ``SUBGRAPHS``."""
    builders = {
        "clique": lambda: clique(k),
        "star": lambda: star(k),
        "path": lambda: path(k),
        "cycle": lambda: cycle(k),
        "tree": lambda: random_tree(k, seed),
        "dense": lambda: dense_random(k, 0.5, seed),
    }
    if name not in builders:
        raise ValueError(f"unknown subgraph {name!r}; accepted: {', '.join(SUBGRAPHS)}")
    return builders[name]()


@dataclass(frozen=True)
class PlantedGraph:
    """A G(n, q) graph with a copy of Γ planted on ``nodes`` (``nodes[i]`` plays vertex i)."""

    adjacency: sp.csr_matrix
    nodes: np.ndarray
    subgraph: Subgraph


def planted_subgraph(
    n: int, q: float, p: float, subgraph: Subgraph, seed: SeedLike = None
) -> PlantedGraph:
    """G(n, q) in which the pairs of a random copy of Γ are edges with probability p instead.

    Pairs among the planted vertices that are not edges of Γ keep probability q, so the
    alternative differs from the null only on Γ's edges, as in the detection problem.
    """
    _check_nodes(n)
    _check_probability("q", q)
    _check_probability("p", p)
    if subgraph.k > n:
        raise ValueError(f"subgraph has k={subgraph.k} vertices but the graph only n={n}")
    rng = as_rng(seed)
    nodes = rng.choice(n, size=subgraph.k, replace=False)
    background = _sample_pairs(n, q, rng)
    planted_pairs = pair_index(nodes[subgraph.edges[:, 0]], nodes[subgraph.edges[:, 1]], n)
    # Resample Γ's pairs at probability p: drop them from the background, then add back.
    background = background[~np.isin(background, planted_pairs)]
    kept = planted_pairs[rng.random(len(planted_pairs)) < p]
    rows, cols = _pairs_to_edges(np.concatenate([background, kept]), n)
    return PlantedGraph(adjacency_from_edges(rows, cols, n), nodes, subgraph)


def _check_block_probabilities(probabilities: np.ndarray, blocks: int) -> None:
    if probabilities.shape != (blocks, blocks):
        raise ValueError(
            f"probabilities must be a {blocks}x{blocks} matrix (one row per block), "
            f"got shape {probabilities.shape}"
        )
    if not np.allclose(probabilities, probabilities.T):
        raise ValueError("probabilities must be symmetric for an undirected graph")
    bad = probabilities[(probabilities < 0.0) | (probabilities > 1.0)]
    if bad.size:
        raise ValueError(f"block probabilities must lie in [0, 1], got {bad.tolist()}")


def stochastic_block_model(
    sizes: list[int] | np.ndarray,
    probabilities: list[list[float]] | np.ndarray,
    seed: SeedLike = None,
) -> tuple[sp.csr_matrix, np.ndarray]:
    """SBM: nodes of block a and block b are joined with probability ``probabilities[a][b]``.

    Nodes are numbered block after block. Returns the adjacency and each node's block.
    Every block pair is sampled by geometric skipping, so the cost follows the edges.
    """
    block_sizes = np.asarray(sizes, dtype=np.int64)
    if block_sizes.ndim != 1 or block_sizes.size == 0 or (block_sizes < 1).any():
        raise ValueError(f"sizes must be a non-empty list of positive block sizes, got {sizes}")
    matrix = np.asarray(probabilities, dtype=np.float64)
    _check_block_probabilities(matrix, len(block_sizes))
    rng = as_rng(seed)
    n = int(block_sizes.sum())
    starts = np.concatenate([[0], np.cumsum(block_sizes)[:-1]])
    all_rows: list[np.ndarray] = []
    all_cols: list[np.ndarray] = []
    for a, (start_a, size_a) in enumerate(zip(starts, block_sizes, strict=True)):
        pairs = _sample_pairs(int(size_a), float(matrix[a, a]), rng)
        rows, cols = _pairs_to_edges(pairs, int(size_a))
        all_rows.append(rows + start_a)
        all_cols.append(cols + start_a)
        for b in range(a + 1, len(block_sizes)):
            positions = _sample_positions(int(size_a * block_sizes[b]), float(matrix[a, b]), rng)
            all_rows.append(positions // block_sizes[b] + start_a)
            all_cols.append(positions % block_sizes[b] + starts[b])
    labels = np.repeat(np.arange(len(block_sizes)), block_sizes)
    adjacency = adjacency_from_edges(np.concatenate(all_rows), np.concatenate(all_cols), n)
    return adjacency, labels


def hierarchical_probabilities(level_probabilities: list[float] | np.ndarray) -> np.ndarray:
    """Block matrix of a hierarchical SBM whose communities are the leaves of a binary tree.

    With depth L = ``len(level_probabilities) - 1`` there are 2^L leaf communities;
    two leaves a, b whose lowest common ancestor sits at depth ℓ (0 = root, L = the
    same leaf) are joined with probability ``level_probabilities[ℓ]``. The depth of the
    common ancestor is L minus the bit length of a XOR b.
    """
    levels = np.asarray(level_probabilities, dtype=np.float64)
    if levels.ndim != 1 or levels.size < 2:
        raise ValueError(
            "level_probabilities needs one probability per depth 0..L with L >= 1, "
            f"got {level_probabilities}"
        )
    for depth, value in enumerate(levels):
        _check_probability(f"level_probabilities[{depth}]", float(value))
    depth = levels.size - 1
    leaves = np.arange(2**depth)
    xor = leaves[:, None] ^ leaves[None, :]
    bit_length = np.where(xor > 0, np.floor(np.log2(np.maximum(xor, 1))).astype(int) + 1, 0)
    return levels[depth - bit_length]


def hierarchical_sbm(
    community_size: int, level_probabilities: list[float] | np.ndarray, seed: SeedLike = None
) -> tuple[sp.csr_matrix, np.ndarray]:
    """Hierarchical SBM on a full binary tree: 2^L leaf communities of ``community_size`` nodes.

    Returns the adjacency and each node's leaf community; the community of a node at
    depth ℓ of the tree is ``leaf >> (L - ℓ)``.
    """
    if community_size < 1:
        raise ValueError(f"community_size must be positive, got {community_size}")
    matrix = hierarchical_probabilities(level_probabilities)
    return stochastic_block_model([community_size] * len(matrix), matrix, seed)


def barabasi_albert(n: int, m: int, seed: SeedLike = None) -> sp.csr_matrix:
    """Barabási–Albert preferential attachment: each new node links to m distinct nodes.

    Starts from a star on m + 1 nodes (as networkx does); later targets are drawn with
    probability proportional to degree by sampling from the list of edge endpoints.
    """
    _check_nodes(n)
    if not 1 <= m < n:
        raise ValueError(f"m must satisfy 1 <= m < n={n}, got m={m}")
    rng = as_rng(seed)
    endpoints = np.empty(2 * m * n, dtype=np.int64)
    rows = np.empty(m * n, dtype=np.int64)
    cols = np.empty(m * n, dtype=np.int64)
    filled = 0
    count = 0
    for leaf in range(1, m + 1):  # the initial star: node 0 joined to nodes 1..m
        rows[count], cols[count] = 0, leaf
        endpoints[filled : filled + 2] = (0, leaf)
        filled += 2
        count += 1
    for node in range(m + 1, n):
        targets: set[int] = set()
        while len(targets) < m:
            draws = endpoints[rng.integers(0, filled, size=2 * m)]
            for target in draws.tolist():
                targets.add(target)
                if len(targets) == m:
                    break
        chosen = np.fromiter(targets, dtype=np.int64, count=m)
        rows[count : count + m] = node
        cols[count : count + m] = chosen
        endpoints[filled : filled + m] = node
        endpoints[filled + m : filled + 2 * m] = chosen
        filled += 2 * m
        count += m
    return adjacency_from_edges(rows[:count], cols[:count], n)
