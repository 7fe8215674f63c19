"""Graph-classification worlds: generated graph classes, or TUDataset files on local disk.

`graph_classes` draws ``graphs_per_class`` graphs of each class, every graph with a node
count uniform in ``[min_nodes, max_nodes]`` and about the same average degree, so that
neither size nor density gives the class away:

- ``sbm``: two equal communities, edges 8 times likelier inside a community than across;
- ``motif``: an Erdős–Rényi graph with ``motifs`` planted 4-cliques (fewer random edges, so
  the average degree stays);
- ``ba``: Barabási–Albert preferential attachment (each new node links to $m$ others);
- ``er``: Erdős–Rényi at the same density (the structureless reference).

Node features are the one-hot degree, capped at ``degree_features - 1`` (the usual choice
for featureless graphs, e.g. the IMDB TUDatasets), or a constant 1 with
``degree_features=0``; so a model must read the class from the structure, and the
first layers see the local structure best. `load_tu_dir` reads the TUDataset text format
(``<name>_A.txt``, ``_graph_indicator.txt``, ``_graph_labels.txt``, optional
``_node_labels.txt`` / ``_node_attributes.txt``) from a local folder; nothing is
downloaded. numpy only: no torch at import time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, model_validator
from unlearn_schema import StrictModel

GraphClass = Literal["sbm", "motif", "ba", "er"]
SBM_RATIO = 8.0
"""How much likelier an edge is inside an SBM community than across."""


def _default_classes() -> list[GraphClass]:
    return ["sbm", "motif", "ba"]


class GraphClassesConfig(StrictModel):
    """Generated graph classes (`graph_classes`)."""

    classes: list[GraphClass] = Field(default_factory=_default_classes, min_length=2)
    graphs_per_class: int = Field(default=100, ge=2, le=100_000)
    min_nodes: int = Field(default=20, ge=8, le=10_000)
    max_nodes: int = Field(default=40, ge=8, le=10_000)
    average_degree: float = Field(default=4.0, ge=2.0, le=50.0)
    motifs: int = Field(default=2, ge=1, le=50, description="4-cliques planted per motif graph.")
    degree_features: int = Field(
        default=8, ge=0, le=1000, description="One-hot degree width (0: constant features)."
    )

    @model_validator(mode="after")
    def _check(self) -> GraphClassesConfig:
        if self.min_nodes > self.max_nodes:
            raise ValueError(f"min_nodes ({self.min_nodes}) > max_nodes ({self.max_nodes})")
        if len(set(self.classes)) != len(self.classes):
            raise ValueError(f"classes must be distinct, got {self.classes}")
        if "motif" in self.classes and 4 * self.motifs > self.min_nodes:
            raise ValueError(
                f"{self.motifs} disjoint 4-cliques need min_nodes >= {4 * self.motifs}, "
                f"got {self.min_nodes}"
            )
        return self


class TUConfig(StrictModel):
    """A TUDataset already on local disk (`load_tu_dir`)."""

    folder: str = Field(min_length=1, description="Folder holding the <name>_*.txt files.")
    name: str = Field(min_length=1, description="Dataset name, e.g. 'MUTAG' or 'PROTEINS'.")


@dataclass(frozen=True)
class GraphDataset:
    """Graphs with one class each: node features, undirected edges (each pair once)."""

    features: list[np.ndarray]  # (n_i, F) float32
    edges: list[np.ndarray]  # (2, E_i) int64, i < j
    labels: np.ndarray  # (G,) int64 in 0..C-1
    class_names: list[str]

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def num_features(self) -> int:
        return int(self.features[0].shape[1])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def _unique_pairs(pairs: np.ndarray, n: int) -> np.ndarray:
    lo, hi = np.minimum(pairs[0], pairs[1]), np.maximum(pairs[0], pairs[1])
    keep = lo != hi
    keys = np.unique(lo[keep] * n + hi[keep])
    return np.stack([keys // n, keys % n]).astype(np.int64)


def _random_pairs(n: int, p: np.ndarray | float, rng: np.random.Generator) -> np.ndarray:
    """Every pair i < j kept with probability ``p`` (a scalar or an (n, n) matrix)."""
    upper = np.triu(rng.random((n, n)) < p, k=1)
    return np.stack(np.nonzero(upper)).astype(np.int64)


def _sbm(n: int, degree: float, rng: np.random.Generator) -> np.ndarray:
    block = np.arange(n) % 2
    rng.shuffle(block)
    # (n/2 - 1) p_in + (n/2) p_out = degree, p_in = SBM_RATIO p_out.
    p_out = degree / ((n / 2 - 1) * SBM_RATIO + n / 2)
    p = np.where(block[:, None] == block[None, :], SBM_RATIO * p_out, p_out)
    return _random_pairs(n, np.minimum(p, 1.0), rng)


def _er(n: int, degree: float, rng: np.random.Generator) -> np.ndarray:
    return _random_pairs(n, min(degree / (n - 1), 1.0), rng)


def _motif(n: int, degree: float, motifs: int, rng: np.random.Generator) -> np.ndarray:
    planted = 6 * motifs  # a 4-clique has 6 edges
    background = max(degree * n / 2 - planted, 0.0)
    pairs = [_random_pairs(n, min(background / (n * (n - 1) / 2), 1.0), rng)]
    members = rng.permutation(n)[: 4 * motifs].reshape(motifs, 4)
    for clique in members:
        a, b = np.triu_indices(4, k=1)
        pairs.append(np.stack([clique[a], clique[b]]))
    return _unique_pairs(np.concatenate(pairs, axis=1), n)


def _ba(n: int, degree: float, rng: np.random.Generator) -> np.ndarray:
    m = max(1, round(degree / 2))
    sources: list[int] = []
    targets: list[int] = []
    # Start from a star on m + 1 nodes; every later node picks m distinct earlier nodes
    # with probability proportional to their degree.
    ends: list[int] = []
    for node in range(1, m + 1):
        sources.append(0)
        targets.append(node)
        ends += [0, node]
    for node in range(m + 1, n):
        chosen: set[int] = set()
        while len(chosen) < m:
            chosen.add(ends[int(rng.integers(len(ends)))])
        for other in chosen:
            sources.append(node)
            targets.append(other)
            ends += [node, other]
    return _unique_pairs(np.array([sources, targets], dtype=np.int64), n)


def _node_features(pairs: np.ndarray, n: int, width: int) -> np.ndarray:
    if width == 0:
        return np.ones((n, 1), dtype=np.float32)
    degree = np.bincount(pairs.reshape(-1), minlength=n)
    return np.eye(width, dtype=np.float32)[np.minimum(degree, width - 1)]


def graph_classes(config: GraphClassesConfig, seed: int) -> GraphDataset:
    """``graphs_per_class`` graphs of every class in ``config.classes``, shuffled; the same
    seed gives the same graphs."""
    rng = np.random.default_rng(seed)
    features: list[np.ndarray] = []
    edges: list[np.ndarray] = []
    labels: list[int] = []
    for label, name in enumerate(config.classes):
        for _ in range(config.graphs_per_class):
            n = int(rng.integers(config.min_nodes, config.max_nodes + 1))
            degree = config.average_degree
            if name == "sbm":
                pairs = _sbm(n, degree, rng)
            elif name == "motif":
                pairs = _motif(n, degree, config.motifs, rng)
            elif name == "ba":
                pairs = _ba(n, degree, rng)
            else:
                pairs = _er(n, degree, rng)
            features.append(_node_features(pairs, n, config.degree_features))
            edges.append(pairs)
            labels.append(label)
    order = rng.permutation(len(labels))
    return GraphDataset(
        features=[features[i] for i in order],
        edges=[edges[i] for i in order],
        labels=np.asarray(labels, dtype=np.int64)[order],
        class_names=list(config.classes),
    )


TU_REQUIRED = ("A", "graph_indicator", "graph_labels")


def tu_folder(folder: str | Path, name: str) -> Path:
    """Where ``name``'s files are: ``folder`` itself, or the ``raw/`` or ``<name>/raw/``
    below it (the layout PyG's TUDataset leaves on disk)."""
    folder = Path(folder)
    for candidate in (folder, folder / "raw", folder / name / "raw"):
        if (candidate / f"{name}_A.txt").exists():
            return candidate
    return folder


def tu_files_missing(folder: str | Path, name: str) -> list[str]:
    """The required TUDataset files absent from ``folder`` (empty when it is complete)."""
    where = tu_folder(folder, name)
    return [f"{name}_{p}.txt" for p in TU_REQUIRED if not (where / f"{name}_{p}.txt").exists()]


def load_tu_dir(folder: str | Path, name: str) -> GraphDataset:
    """Read TUDataset ``name`` from local text files (1-based node ids, as the format has).

    Node features: the one-hot ``node_labels`` and the ``node_attributes`` when present
    (concatenated), else a constant 1. Graph labels are renumbered to 0..C-1.
    """
    missing = tu_files_missing(folder, name)
    if missing:
        raise FileNotFoundError(
            f"TUDataset folder {str(folder)!r} lacks {', '.join(missing)} (the TUDataset text "
            f"format of dataset {name!r}; nothing is downloaded)"
        )

    folder = tu_folder(folder, name)

    def read(part: str) -> np.ndarray:
        return np.loadtxt(folder / f"{name}_{part}.txt", delimiter=",", ndmin=2)

    pairs = read("A").astype(np.int64).T - 1
    graph_of = read("graph_indicator")[:, 0].astype(np.int64) - 1
    raw_labels = read("graph_labels")[:, 0].astype(np.int64)
    num_nodes = len(graph_of)
    columns: list[np.ndarray] = []
    if (folder / f"{name}_node_labels.txt").exists():
        node_labels = read("node_labels")[:, 0].astype(np.int64)
        values, codes = np.unique(node_labels, return_inverse=True)
        columns.append(np.eye(len(values), dtype=np.float32)[codes])
    if (folder / f"{name}_node_attributes.txt").exists():
        columns.append(read("node_attributes").astype(np.float32))
    x = np.concatenate(columns, axis=1) if columns else np.ones((num_nodes, 1), np.float32)
    classes, labels = np.unique(raw_labels, return_inverse=True)
    starts = np.searchsorted(graph_of, np.arange(len(raw_labels)))
    if np.any(np.diff(graph_of) < 0):
        raise ValueError(f"{name}_graph_indicator.txt must list nodes graph by graph, in order")
    features, edges = [], []
    edge_graph = graph_of[pairs[0]]
    for g in range(len(raw_labels)):
        nodes = np.nonzero(graph_of == g)[0]
        local = pairs[:, edge_graph == g] - starts[g]
        features.append(x[nodes])
        edges.append(_unique_pairs(local, len(nodes)) if local.size else local.reshape(2, 0))
    return GraphDataset(
        features=features,
        edges=edges,
        labels=labels.astype(np.int64),
        class_names=[str(c) for c in classes],
    )
