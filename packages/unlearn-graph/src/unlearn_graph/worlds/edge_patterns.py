"""A graph-classification world where only the edges carry the class: edge patterns.

Every graph is a random ``degree``-regular graph (every node has the same degree) on a
node count uniform in ``[min_nodes, max_nodes]`` (even when ``degree`` is odd), redrawn
until it can hold all three patterns below, so that the structure is drawn the same way
whatever the class. Regular graphs keep degree out of the picture: a node's share of red
edges is its red count over ``degree``, and a node-only model with constant features sees
every node alike. Then ``pattern_edges`` of the edges get type ``red`` and form the
class's pattern:

- ``path``: a simple path (consecutive red edges share a node);
- ``star``: all red edges meet at one node;
- ``matching``: no two red edges share a node.

Of the remaining edges each is ``blue`` with probability ``blue_rate`` and ``plain``
otherwise, independently of the class. Edge features are the one-hot type (``plain``,
``red``, ``blue``); node features are a constant 1. So every class has the same
structure distribution, the same node features and the same number of red edges: the
class is in how the red edges sit relative to each other, which a node-only model cannot
see and a per-edge model without message passing cannot either. The edge types are also
the target of the reconstruction task. numpy only: no torch at import time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import Field, model_validator
from unlearn_schema import StrictModel

EdgePattern = Literal["path", "star", "matching"]
EDGE_TYPES = ("plain", "red", "blue")
PLAIN, RED, BLUE = range(3)


def _all_patterns() -> list[EdgePattern]:
    return ["path", "star", "matching"]


class EdgePatternsConfig(StrictModel):
    """Edge-pattern graphs (`edge_patterns`)."""

    classes: list[EdgePattern] = Field(default_factory=_all_patterns, min_length=2)
    graphs_per_class: int = Field(default=100, ge=2, le=100_000)
    min_nodes: int = Field(default=16, ge=6, le=10_000)
    max_nodes: int = Field(default=24, ge=6, le=10_000)
    degree: int = Field(default=4, ge=2, le=20, description="Every node's degree.")
    pattern_edges: int = Field(default=4, ge=2, le=20, description="Red edges per graph.")
    blue_rate: float = Field(default=0.2, ge=0.0, le=1.0, description="Share of other edges blue.")

    @model_validator(mode="after")
    def _check(self) -> EdgePatternsConfig:
        if self.min_nodes > self.max_nodes:
            raise ValueError(f"min_nodes ({self.min_nodes}) > max_nodes ({self.max_nodes})")
        if len(set(self.classes)) != len(self.classes):
            raise ValueError(f"classes must be distinct, got {self.classes}")
        if "star" in self.classes and self.pattern_edges > self.degree:
            raise ValueError(
                f"a star of {self.pattern_edges} edges needs degree >= {self.pattern_edges}, "
                f"got {self.degree}"
            )
        if self.degree >= self.min_nodes:
            raise ValueError(f"degree ({self.degree}) must be below min_nodes ({self.min_nodes})")
        if 2 * self.pattern_edges > self.min_nodes:
            raise ValueError(
                f"a matching of {self.pattern_edges} edges needs min_nodes >= "
                f"{2 * self.pattern_edges}, got {self.min_nodes}"
            )
        return self


@dataclass(frozen=True)
class EdgeGraphDataset:
    """Graphs with one class each: undirected edges (each pair once) and their types."""

    num_nodes: np.ndarray  # (G,) int64
    edges: list[np.ndarray]  # (2, m_i) int64, i < j
    edge_types: list[np.ndarray]  # (m_i,) int64 in 0..len(EDGE_TYPES)-1
    labels: np.ndarray  # (G,) int64 in 0..C-1
    class_names: list[str]

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def num_edge_types(self) -> int:
        return len(EDGE_TYPES)


def random_regular(n: int, degree: int, rng: np.random.Generator) -> np.ndarray | None:
    """A uniform-ish random ``degree``-regular simple graph on ``n`` nodes (pairs i < j):
    stubs are paired at random, a pair that would make a loop or a repeated edge is
    redrawn, and ``None`` comes back when the pairing gets stuck (the caller retries)."""
    stubs = np.repeat(np.arange(n), degree)
    rng.shuffle(stubs)
    open_stubs = stubs.tolist()
    chosen: set[tuple[int, int]] = set()
    while open_stubs:
        u = open_stubs.pop()
        options = [
            i for i, v in enumerate(open_stubs) if v != u and (min(u, v), max(u, v)) not in chosen
        ]
        if not options:
            return None
        v = open_stubs.pop(options[int(rng.integers(len(options)))])
        chosen.add((min(u, v), max(u, v)))
    return np.array(sorted(chosen), dtype=np.int64).T


def _incident(pairs: np.ndarray, n: int) -> list[list[int]]:
    incident: list[list[int]] = [[] for _ in range(n)]
    for j, (u, v) in enumerate(pairs.T.tolist()):
        incident[u].append(j)
        incident[v].append(j)
    return incident


def _star(pairs: np.ndarray, n: int, size: int, rng: np.random.Generator) -> list[int] | None:
    incident = _incident(pairs, n)
    centres = [v for v in range(n) if len(incident[v]) >= size]
    if not centres:
        return None
    centre = centres[int(rng.integers(len(centres)))]
    return rng.choice(incident[centre], size, replace=False).tolist()


def _path(pairs: np.ndarray, n: int, size: int, rng: np.random.Generator) -> list[int] | None:
    incident = _incident(pairs, n)
    # Random self-avoiding walks from random starts; a few tries suffice on these graphs.
    for _ in range(50):
        node = int(rng.integers(n))
        visited = {node}
        chosen: list[int] = []
        while len(chosen) < size:
            options = [j for j in incident[node] if int(pairs[:, j].sum()) - node not in visited]
            if not options:
                break
            j = options[int(rng.integers(len(options)))]
            node = int(pairs[:, j].sum()) - node
            visited.add(node)
            chosen.append(j)
        if len(chosen) == size:
            return chosen
    return None


def _matching(pairs: np.ndarray, size: int, rng: np.random.Generator) -> list[int] | None:
    for _ in range(20):
        used: set[int] = set()
        chosen = []
        for j in rng.permutation(pairs.shape[1]).tolist():
            u, v = pairs[:, j].tolist()
            if u not in used and v not in used:
                used |= {u, v}
                chosen.append(j)
                if len(chosen) == size:
                    return chosen
    return None


def _pattern(
    name: EdgePattern, pairs: np.ndarray, n: int, size: int, rng: np.random.Generator
) -> list[int] | None:
    if name == "star":
        return _star(pairs, n, size, rng)
    if name == "path":
        return _path(pairs, n, size, rng)
    return _matching(pairs, size, rng)


def edge_patterns(config: EdgePatternsConfig, seed: int) -> EdgeGraphDataset:
    """``graphs_per_class`` graphs of every pattern in ``config.classes``, shuffled; the
    same seed gives the same graphs."""
    rng = np.random.default_rng(seed)
    sizes: list[int] = []
    edges: list[np.ndarray] = []
    types: list[np.ndarray] = []
    labels: list[int] = []
    for label, name in enumerate(config.classes):
        for _ in range(config.graphs_per_class):
            for _attempt in range(1000):
                n = int(rng.integers(config.min_nodes, config.max_nodes + 1))
                n += (n * config.degree) % 2  # n * degree stubs must pair up
                drawn = random_regular(n, config.degree, rng)
                if drawn is None:
                    continue
                pairs = drawn
                # Keep only graphs that admit every pattern: the structure must not
                # depend on the class.
                found = {
                    p: _pattern(p, pairs, n, config.pattern_edges, rng) for p in _all_patterns()
                }
                if all(v is not None for v in found.values()):
                    break
            else:
                raise ValueError(
                    f"could not draw a {config.degree}-regular graph holding "
                    f"{config.pattern_edges}-edge paths, stars and matchings; raise the degree "
                    "or lower pattern_edges"
                )
            edge_type = np.where(rng.random(pairs.shape[1]) < config.blue_rate, BLUE, PLAIN)
            edge_type[found[name]] = RED
            sizes.append(n)
            edges.append(pairs)
            types.append(edge_type.astype(np.int64))
            labels.append(label)
    order = rng.permutation(len(labels))
    return EdgeGraphDataset(
        num_nodes=np.asarray(sizes, dtype=np.int64)[order],
        edges=[edges[i] for i in order],
        edge_types=[types[i] for i in order],
        labels=np.asarray(labels, dtype=np.int64)[order],
        class_names=list(config.classes),
    )


__all__ = [
    "EDGE_TYPES",
    "EdgeGraphDataset",
    "EdgePattern",
    "EdgePatternsConfig",
    "edge_patterns",
    "random_regular",
]
