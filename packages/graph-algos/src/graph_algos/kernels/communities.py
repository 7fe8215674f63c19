r"""Community detection by modularity: our sparse Louvain, and Louvain/Leiden by igraph.

Modularity (Newman & Girvan 2004, arXiv:cond-mat/0308217, with the resolution $\gamma$
of Reichardt & Bornholdt 2006, arXiv:cond-mat/0603718) of a partition $c$ of an
undirected weighted graph with adjacency $A$, strengths $k_i = \sum_j A_{ij}$ and
$2m = \sum_{ij} A_{ij}$:

$$Q = \frac{1}{2m} \sum_{ij} \Big(A_{ij} - \gamma \frac{k_i k_j}{2m}\Big)\, \delta(c_i, c_j)
    = \sum_c \Big(\frac{\Sigma^{\text{in}}_c}{2m} - \gamma \Big(\frac{K_c}{2m}\Big)^2\Big),$$

$\Sigma^{\text{in}}_c$ the sum of $A_{ij}$ over ordered pairs inside $c$ and $K_c$ the
strength of $c$ (networkx's ``modularity`` on graphs without self-loops).

Louvain (Blondel, Guillaume, Lambiotte & Lefebvre 2008, arXiv:0803.0476) alternates two
phases: *local moving*, where a node $i$ leaves its community and joins the neighbouring
community $C$ of largest gain; up to terms equal for every $C$ the gain is

$$\Delta Q(i \to C) \propto k_{i,C} - \gamma \frac{K_C\, k_i}{2m}$$

($k_{i,C}$ the weight from $i$ into $C$, $K_C$ without $i$), repeated until no move
raises $Q$ by more than ``tol``; and *aggregation*, where each community becomes one
node (the weights between communities summed, inside ones as a self-loop), until a
level moves nothing. The paper visits nodes one at a time; ours moves a whole colour
class of a distance-1 colouring at once (the parallel heuristic of Lu, Halappanavar &
Kalyanaraman 2015, arXiv:1410.1237): no two nodes of a class are neighbours, so each
one's $k_{i,C}$ is exact and only the $K_C$ of a community that several of them join
at once is stale. That lets every step be a numpy operation over the class's edges. After the first
pass only nodes with a neighbour that moved are visited again (the fast local moving of
Traag, Waltman & van Eck 2019, arXiv:1810.08473). With numba installed (extra
``graph-algos[fast]``) the colouring and the local moving run as compiled loops
(`graph_algos.kernels.communities_compiled`) that take the same random draws and make
the same moves; the aggregation is scipy's sparse product either way.
The docs' "communities and paths" page and ``graph-algos-speed`` compare its modularity
with igraph's sequential Louvain.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp

from graph_algos.kernels.sparse import as_csr
from graph_algos.seeding import SeedLike, as_rng


@dataclass(frozen=True)
class Communities:
    """A partition: ``membership[i]`` is node i's community (0..count-1), with its
    modularity, the number of aggregation levels that found it and the engine that
    ran (``numba`` or ``numpy`` for our `louvain`, else the library's name)."""

    membership: np.ndarray
    modularity: float
    levels: int
    engine: str = "numpy"

    @property
    def count(self) -> int:
        return int(self.membership.max()) + 1 if self.membership.size else 0


def _undirected(adjacency: sp.spmatrix | np.ndarray) -> sp.csr_matrix:
    matrix = as_csr(adjacency)
    if (matrix != matrix.T).nnz:
        raise ValueError("modularity needs an undirected graph: the adjacency must be symmetric")
    if matrix.nnz and matrix.data.min() < 0:
        raise ValueError(f"weights must be non-negative, found {float(matrix.data.min())}")
    return matrix


def _rows(matrix: sp.csr_matrix) -> np.ndarray:
    return np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))


def _labels(membership: np.ndarray | list[int], n: int) -> np.ndarray:
    labels = np.asarray(membership)
    if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"membership must be {n} integer labels, got {labels.dtype} {labels.shape}"
        )
    return labels.astype(np.int64)


def modularity(
    adjacency: sp.spmatrix | np.ndarray, membership: np.ndarray | list[int], resolution: float = 1.0
) -> float:
    """Modularity $Q$ of ``membership`` (any integer labels) on an undirected graph."""
    matrix = _undirected(adjacency)
    labels = _labels(membership, matrix.shape[0])
    return _modularity(matrix, labels, resolution)


def _modularity(matrix: sp.csr_matrix, labels: np.ndarray, resolution: float) -> float:
    two_m = float(matrix.data.sum())
    if two_m == 0.0:
        raise ValueError("modularity is undefined on a graph without edges")
    inside = labels[_rows(matrix)] == labels[matrix.indices]
    _, compact = np.unique(labels, return_inverse=True)
    strength = np.bincount(compact, weights=np.asarray(matrix.sum(axis=1)).ravel())
    return float(matrix.data[inside].sum() / two_m - resolution * (strength**2).sum() / two_m**2)


def _colour_classes(matrix: sp.csr_matrix, priority: np.ndarray) -> list[np.ndarray]:
    """A distance-1 colouring, class by class (Jones & Plassmann 1993): a node takes the
    current colour when its priority (a random permutation) beats every uncoloured
    neighbour's."""
    n = matrix.shape[0]
    rows, cols = _rows(matrix), matrix.indices
    # Keep each edge once, pointing from the node it blocks to the node that blocks it.
    blocks = (rows != cols) & (priority[cols] > priority[rows])
    blocked_node, blocker = rows[blocks], cols[blocks]
    uncoloured = np.ones(n, dtype=bool)
    classes = []
    while uncoloured.any():
        blocked = np.zeros(n, dtype=bool)
        blocked[blocked_node[uncoloured[blocker]]] = True
        chosen = uncoloured & ~blocked
        classes.append(np.flatnonzero(chosen))
        uncoloured &= ~chosen
        keep = uncoloured[blocked_node] & uncoloured[blocker]
        blocked_node, blocker = blocked_node[keep], blocker[keep]
    return classes


def _row_entries(
    matrix: sp.csr_matrix, nodes: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions in the CSR arrays of the rows ``nodes`` (in order), each row's length,
    and the row pointer of those rows alone: a row gather without sparse indexing."""
    starts, counts = matrix.indptr[nodes], matrix.indptr[nodes + 1] - matrix.indptr[nodes]
    indptr = np.zeros(len(nodes) + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    positions = np.arange(indptr[-1]) + np.repeat(starts - indptr[:-1], counts)
    return positions, counts, indptr


def _move_class(
    matrix: sp.csr_matrix,
    nodes: np.ndarray,
    community: np.ndarray,
    total: np.ndarray,
    strength: np.ndarray,
    scale: float,
    self_loops: bool,
) -> tuple[int, float, np.ndarray]:
    r"""Move every node of one colour class to its best community (in place).

    ``scale`` is $\gamma / 2m$; ``total`` holds each community's $K_C$. Returns how many
    nodes moved, the change of $\Sigma^{\text{in}}$ (twice the weight the movers
    brought into their new communities minus what they took out of their old ones:
    exact, since no two movers are neighbours) and the movers.
    """
    n = matrix.shape[0]
    positions, counts, indptr = _row_entries(matrix, nodes)
    columns, weight = matrix.indices[positions], matrix.data[positions]
    if self_loops:
        row_of_entry = np.repeat(np.arange(len(nodes)), counts)
        weight = np.where(columns == nodes[row_of_entry], 0.0, weight)
    # Weight from each node into each neighbouring community, k_{i,C}: the class's rows
    # with every column replaced by its community, duplicates summed (compiled scipy).
    into = sp.csr_matrix((weight, community[columns], indptr), shape=(len(nodes), n))
    into.sum_duplicates()
    pair_owner = np.repeat(np.arange(len(nodes)), np.diff(into.indptr))
    pair_community, weight_in = into.indices, into.data
    if pair_owner.size == 0:
        return 0, 0.0, nodes[:0]
    own = community[nodes]
    node_strength = strength[nodes]
    at_home = pair_community == own[pair_owner]
    others_total = total[pair_community] - np.where(at_home, node_strength[pair_owner], 0.0)
    score = weight_in - scale * others_total * node_strength[pair_owner]
    stay_in = np.zeros(len(nodes))
    stay_in[pair_owner[at_home]] = weight_in[at_home]
    stay = stay_in - scale * (total[own] - node_strength) * node_strength
    # Best pair per node (the first of equals): each node's pairs are one CSR row.
    starts = into.indptr[:-1][np.diff(into.indptr) > 0]
    best = np.maximum.reduceat(score, starts)
    lengths = np.diff(np.r_[starts, pair_owner.size])
    winners = np.flatnonzero(score == np.repeat(best, lengths))
    first = winners[np.r_[True, pair_owner[winners[1:]] != pair_owner[winners[:-1]]]]
    candidates = pair_owner[starts]
    move = best - stay[candidates] > 1e-12 * max(1.0, float(np.abs(best).max()))
    if not move.any():
        return 0, 0.0, nodes[:0]
    movers = nodes[candidates[move]]
    targets = pair_community[first[move]]
    inside_change = 2.0 * float((weight_in[first[move]] - stay_in[candidates[move]]).sum())
    np.subtract.at(total, community[movers], strength[movers])
    np.add.at(total, targets, strength[movers])
    community[movers] = targets
    return int(movers.size), inside_change, movers


def _numpy_pass(
    matrix: sp.csr_matrix,
    classes: list[np.ndarray],
    order: np.ndarray,
    community: np.ndarray,
    total: np.ndarray,
    strength: np.ndarray,
    active: np.ndarray,
    scale: float,
    self_loops: bool,
) -> tuple[int, float]:
    """One pass of colour-class moves in numpy, the classes visited in ``order``: the
    moves made and the change of the inside weight (``communities_compiled`` compiles
    the same pass)."""
    moved, inside_change = 0, 0.0
    for index in order:
        nodes = classes[index][active[classes[index]]]
        if nodes.size == 0:
            continue
        active[nodes] = False
        count, change, movers = _move_class(
            matrix, nodes, community, total, strength, scale, self_loops
        )
        moved += count
        inside_change += change
        if count:
            active[matrix.indices[_row_entries(matrix, movers)[0]]] = True
    return moved, inside_change


def _local_moving(
    matrix: sp.csr_matrix,
    resolution: float,
    rng: np.random.Generator,
    tol: float,
    passes: int,
    compiled: ModuleType | None,
) -> np.ndarray:
    """Louvain's first phase on one level; community labels compacted to 0..k-1.

    ``compiled`` is `graph_algos.kernels.communities_compiled` (numba) or None (numpy);
    both draw the same random numbers and make the same moves.
    """
    n = matrix.shape[0]
    strength = np.asarray(matrix.sum(axis=1)).ravel()
    two_m = float(strength.sum())
    scale = resolution / two_m
    community = np.arange(n, dtype=np.int64)
    total = strength.copy()
    inside = float(matrix.diagonal().sum())
    self_loops = bool(matrix.diagonal().any())
    priority = rng.permutation(n)
    if compiled is None:
        classes = _colour_classes(matrix, priority)
        class_count = len(classes)
    else:
        class_ptr, class_nodes = compiled.colour_classes(matrix.indptr, matrix.indices, priority)
        class_count = class_ptr.size - 1

    def quality() -> float:
        return inside / two_m - resolution * float((total**2).sum()) / two_m**2

    # Only nodes with a neighbour that moved since their last visit are visited again
    # (the queue of the Leiden paper's fast local moving, arXiv:1810.08473 section 4).
    active = np.ones(n, dtype=bool)
    current = quality()
    for _ in range(passes):
        order = rng.permutation(class_count)
        if compiled is None:
            moved, inside_change = _numpy_pass(
                matrix, classes, order, community, total, strength, active, scale, self_loops
            )
        else:
            moved, inside_change = compiled.local_moving_pass(
                matrix.indptr,
                matrix.indices,
                matrix.data,
                class_ptr,
                class_nodes,
                order,
                community,
                total,
                strength,
                active,
                scale,
                self_loops,
            )
        inside += inside_change
        previous, current = current, quality()
        if moved == 0 or current - previous <= tol:
            break
    return np.unique(community, return_inverse=True)[1]


def _aggregate(matrix: sp.csr_matrix, labels: np.ndarray) -> sp.csr_matrix:
    """One node per community; the weights between (and inside) communities summed."""
    n, k = matrix.shape[0], int(labels.max()) + 1
    assign = sp.csr_matrix((np.ones(n), (np.arange(n), labels)), shape=(n, k))
    return as_csr((assign.T @ matrix @ assign).tocsr())


Engine = Literal["auto", "numba", "numpy"]


@functools.cache
def _compiled_kernels() -> ModuleType | None:
    try:
        from graph_algos.kernels import communities_compiled
    except ImportError:  # numba is the optional extra graph-algos[fast]
        return None
    return communities_compiled


def _engine(engine: str) -> ModuleType | None:
    """The compiled kernels module for ``engine``, or None for numpy."""
    if engine == "numpy":
        return None
    if engine not in ("auto", "numba"):
        raise ValueError(f"engine must be 'auto', 'numba' or 'numpy', got {engine!r}")
    compiled = _compiled_kernels()
    if compiled is None and engine == "numba":
        raise ImportError(
            "engine='numba' needs numba: pip install 'graph-algos[fast]' "
            "(or engine='numpy', the same partition, slower)"
        )
    return compiled


def louvain(
    adjacency: sp.spmatrix | np.ndarray,
    resolution: float = 1.0,
    seed: SeedLike = None,
    tol: float = 1e-7,
    max_passes: int = 100,
    engine: Engine = "auto",
) -> Communities:
    """Louvain communities of an undirected graph (colour-class moves, see the module).

    ``tol`` ends a level's local moving once a pass raises $Q$ by no more; ``seed``
    draws the colouring and the order of the classes. ``engine`` runs the colouring
    and the local moving compiled by numba (``"numba"``, extra ``graph-algos[fast]``)
    or in numpy (``"numpy"``); ``"auto"`` takes numba when it imports. Both engines
    return the same partition for the same seed (`Communities.engine` says which ran).
    """
    if resolution <= 0:
        raise ValueError(f"resolution must be positive, got {resolution}")
    compiled = _engine(engine)
    matrix = _undirected(adjacency)
    if matrix.data.sum() == 0:
        raise ValueError("Louvain needs a graph with at least one edge of positive weight")
    rng = as_rng(seed)
    membership = np.arange(matrix.shape[0])
    current, levels = matrix, 0
    while True:
        labels = _local_moving(current, resolution, rng, tol, max_passes, compiled)
        if labels.max() + 1 == current.shape[0]:
            break
        membership = labels[membership]
        current = _aggregate(current, labels)
        levels += 1
    used = "numpy" if compiled is None else "numba"
    return Communities(membership, _modularity(matrix, membership, resolution), levels, used)


def igraph_graph(adjacency: sp.spmatrix | np.ndarray) -> Any:
    """The undirected weighted ``igraph.Graph`` of a symmetric adjacency (extra
    ``graph-algos[igraph]``); edge attribute ``weight``."""
    try:
        import igraph
    except ImportError as error:
        raise ImportError(
            "igraph is not installed: pip install 'graph-algos[igraph]' for Louvain/Leiden "
            "by igraph and leidenalg (our louvain() needs neither)"
        ) from error
    matrix = _undirected(adjacency)
    upper = sp.triu(matrix).tocoo()
    graph = igraph.Graph(n=matrix.shape[0], edges=np.column_stack([upper.row, upper.col]))
    graph.es["weight"] = upper.data.tolist()
    return graph


def louvain_igraph(
    adjacency: sp.spmatrix | np.ndarray | Any, resolution: float = 1.0, seed: int = 0
) -> Communities:
    """Louvain by igraph's ``community_multilevel`` (sequential moves, as the paper).

    ``adjacency`` may be an ``igraph.Graph`` from `igraph_graph` (reused, not rebuilt).
    igraph's random generator is global: this seeds it with ``seed``.
    """
    import random

    import igraph

    graph = adjacency if isinstance(adjacency, igraph.Graph) else igraph_graph(adjacency)
    igraph.set_random_number_generator(random.Random(seed))
    found = graph.community_multilevel(weights="weight", resolution=resolution, return_levels=True)
    best = found[-1]
    return Communities(
        np.asarray(best.membership, dtype=np.int64),
        float(graph.modularity(best.membership, weights="weight", resolution=resolution)),
        len(found),
        "igraph",
    )


def leiden(
    adjacency: sp.spmatrix | np.ndarray | Any, resolution: float = 1.0, seed: int = 0
) -> Communities:
    """Leiden communities (Traag, Waltman & van Eck 2019, arXiv:1810.08473) by leidenalg,
    optimising the modularity above (``RBConfigurationVertexPartition``) until no
    iteration improves it. Extra ``graph-algos[igraph]``."""
    try:
        import leidenalg
    except ImportError as error:
        raise ImportError(
            "leidenalg is not installed: pip install 'graph-algos[igraph]' for Leiden"
        ) from error
    import igraph

    graph = adjacency if isinstance(adjacency, igraph.Graph) else igraph_graph(adjacency)
    partition = leidenalg.find_partition(
        graph,
        leidenalg.RBConfigurationVertexPartition,
        weights="weight",
        resolution_parameter=resolution,
        n_iterations=-1,
        seed=seed,
    )
    membership = np.asarray(partition.membership, dtype=np.int64)
    return Communities(
        membership,
        float(graph.modularity(partition.membership, weights="weight", resolution=resolution)),
        1,
        "leidenalg",
    )
