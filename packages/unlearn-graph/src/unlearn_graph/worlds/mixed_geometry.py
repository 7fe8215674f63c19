"""A text-attributed graph mixing tree-like and cycle-like regions, joined at boundaries.

The world GraphShaper (arXiv:2510.12085) is about: some regions of a graph branch like
trees (hyperbolic), others close into cycles (spherical), and the nodes where the two
meet are where single-geometry encoders are said to lose accuracy. `mixed_geometry`
draws:

- ``num_trees`` balanced trees (``tree_branching`` children per node, ``tree_depth``
  levels below the root). The root takes a class at random; the subtree under each of
  its children takes the next class in turn, so a class is a branch of the hierarchy.
- ``num_rings`` ring lattices of ``ring_size`` nodes (node $i$ linked to $i \\pm 1, \\dots,
  i \\pm$ ``ring_neighbours``, so full of triangles and short cycles), cut into
  ``num_classes`` arcs of consecutive nodes, one class per arc.
- ``bridges`` edges per region, each from a random node of the region to a random node of
  a region of the other kind (tree to ring, ring to tree).

A node is on the **boundary** when a neighbour belongs to another region
(``boundary``); ``boundary_distance`` is the number of hops to the nearest boundary node.
Every node carries a short text of ``words_per_text`` words: each word comes from its
class's vocabulary with probability ``text_signal`` and from a shared background
vocabulary otherwise (the words are generated syllable strings, not English); the class
descriptions (``class_texts``) list every word of a class's vocabulary. The texts are
embedded by `unlearn_graph.geometry.text.HashedTextEncoder`, so ``x`` is the text
embedding. numpy only: no torch at import time.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
from pydantic import Field
from unlearn_schema import StrictModel

from unlearn_graph.worlds.csbm import GraphArrays

TREE, RING = 0, 1
"""Region kinds in ``MixedGeometryGraph.region_kind``."""

_SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]


class MixedGeometryConfig(StrictModel):
    """Size, shape and text knobs of `mixed_geometry`."""

    num_classes: int = Field(default=4, ge=2, le=50)
    num_trees: int = Field(default=4, ge=1, le=1000)
    tree_branching: int = Field(default=3, ge=2, le=20)
    tree_depth: int = Field(default=4, ge=1, le=12, description="Levels below the root.")
    num_rings: int = Field(default=4, ge=1, le=1000)
    ring_size: int = Field(default=120, ge=8, le=1_000_000)
    ring_neighbours: int = Field(
        default=2, ge=1, le=10, description="A ring node links to this many on each side."
    )
    bridges: int = Field(
        default=12, ge=1, le=100_000, description="Edges from each region to the other kind."
    )
    words_per_text: int = Field(default=8, ge=1, le=1000)
    text_signal: float = Field(
        default=0.2, ge=0.0, le=1.0, description="Chance that a word comes from the class."
    )
    class_vocabulary: int = Field(default=12, ge=1, le=10_000, description="Words per class.")
    background_vocabulary: int = Field(default=200, ge=1, le=100_000)
    embedding_dim: int = Field(default=128, ge=4, le=65_536, description="Hashed text width.")


@dataclass(frozen=True)
class MixedGeometryGraph:
    """The graph (``graph.x`` are the text embeddings) and what each node is."""

    graph: GraphArrays
    texts: list[str]
    class_texts: list[str]
    class_embeddings: np.ndarray  # (num_classes, embedding_dim)
    region: np.ndarray  # region id of every node
    region_kind: np.ndarray  # TREE or RING
    boundary: np.ndarray  # bool: a neighbour lies in another region
    boundary_distance: np.ndarray  # hops to the nearest boundary node


def _words(rng: np.random.Generator, count: int, taken: set[str]) -> list[str]:
    words: list[str] = []
    while len(words) < count:
        word = "".join(rng.choice(_SYLLABLES, size=int(rng.integers(2, 4))))
        if word not in taken:
            taken.add(word)
            words.append(word)
    return words


Built = tuple[list[tuple[int, int]], list[int]]
"""A region's edges and the labels of its nodes, in node order."""


def _tree(config: MixedGeometryConfig, start: int, first_class: int) -> Built:
    edges: list[tuple[int, int]] = []
    labels = [first_class]
    frontier: list[tuple[int, int | None]] = [(start, None)]  # (node, branch under the root)
    next_node = start + 1
    for _ in range(config.tree_depth):
        grown: list[tuple[int, int | None]] = []
        for parent, branch in frontier:
            for child in range(config.tree_branching):
                own = child if branch is None else branch
                edges.append((parent, next_node))
                labels.append((first_class + 1 + own) % config.num_classes)
                grown.append((next_node, own))
                next_node += 1
        frontier = grown
    return edges, labels


def _ring(config: MixedGeometryConfig, start: int, first_class: int) -> Built:
    n = config.ring_size
    edges = [
        (start + i, start + (i + step) % n)
        for i in range(n)
        for step in range(1, config.ring_neighbours + 1)
    ]
    labels = [(first_class + (i * config.num_classes) // n) % config.num_classes for i in range(n)]
    return edges, labels


def _distances(num_nodes: int, edges: np.ndarray, sources: np.ndarray) -> np.ndarray:
    neighbours: list[list[int]] = [[] for _ in range(num_nodes)]
    for u, v in edges.T:
        neighbours[u].append(int(v))
        neighbours[v].append(int(u))
    distance = np.full(num_nodes, -1, dtype=np.int64)
    queue = deque(int(s) for s in sources)
    distance[sources] = 0
    while queue:
        node = queue.popleft()
        for other in neighbours[node]:
            if distance[other] < 0:
                distance[other] = distance[node] + 1
                queue.append(other)
    distance[distance < 0] = num_nodes  # unreachable from any boundary
    return distance


def mixed_geometry(config: MixedGeometryConfig | None = None, seed: int = 0) -> MixedGeometryGraph:
    """Draw the world; the same (config, seed) always gives the same graph and texts."""
    from unlearn_graph.geometry.text import HashedTextEncoder

    config = config or MixedGeometryConfig()
    rng = np.random.default_rng(seed)
    pairs: list[tuple[int, int]] = []
    labels: list[int] = []
    region: list[int] = []
    kinds: list[int] = []
    members: list[np.ndarray] = []
    plan = [TREE] * config.num_trees + [RING] * config.num_rings
    for index, kind in enumerate(plan):
        start = len(labels)
        first_class = int(rng.integers(config.num_classes))
        build = _tree if kind == TREE else _ring
        new_edges, new_labels = build(config, start, first_class)
        pairs += new_edges
        labels += new_labels
        region += [index] * len(new_labels)
        kinds.append(kind)
        members.append(np.arange(start, len(labels)))
    for index, kind in enumerate(kinds):
        others = [i for i, k in enumerate(kinds) if k != kind]
        for _ in range(config.bridges):
            target = members[others[int(rng.integers(len(others)))]]
            pairs.append((int(rng.choice(members[index])), int(rng.choice(target))))
    n = len(labels)
    array = np.asarray(pairs, dtype=np.int64).T
    lo, hi = np.minimum(array[0], array[1]), np.maximum(array[0], array[1])
    keys = np.unique(lo[lo != hi] * n + hi[lo != hi])
    edges = np.stack([keys // n, keys % n]).astype(np.int64)
    region_of = np.asarray(region, dtype=np.int64)
    crossing = region_of[edges[0]] != region_of[edges[1]]
    boundary = np.zeros(n, dtype=bool)
    boundary[edges[0][crossing]] = True
    boundary[edges[1][crossing]] = True
    y = np.asarray(labels, dtype=np.int64)

    taken: set[str] = set()
    vocabularies = [_words(rng, config.class_vocabulary, taken) for _ in range(config.num_classes)]
    background = _words(rng, config.background_vocabulary, taken)
    texts = []
    for label in y:
        from_class = rng.random(config.words_per_text) < config.text_signal
        words = [
            vocabularies[label][int(rng.integers(config.class_vocabulary))]
            if signal
            else background[int(rng.integers(config.background_vocabulary))]
            for signal in from_class
        ]
        texts.append(" ".join(words))
    class_texts = [" ".join(words) for words in vocabularies]
    encoder = HashedTextEncoder(dim=config.embedding_dim)
    return MixedGeometryGraph(
        graph=GraphArrays(x=encoder.encode(texts), y=y, edges=edges),
        texts=texts,
        class_texts=class_texts,
        class_embeddings=encoder.encode(class_texts),
        region=region_of,
        region_kind=np.asarray(kinds, dtype=np.int64)[region_of],
        boundary=boundary,
        boundary_distance=_distances(n, edges, np.flatnonzero(boundary)),
    )
