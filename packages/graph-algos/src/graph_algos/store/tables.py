"""Graphs as typed node and edge tables: what every store engine loads.

`as_tables` turns any graph we meet into `GraphTables`: a scipy.sparse adjacency
matrix (ours), a networkx graph, a PyG ``Data`` or ``HeteroData`` (read duck-typed,
through ``.edge_index`` / ``.node_types``: torch is never imported here), or tables
built by hand (the TravelFraudBench exporter builds them directly).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def check_identifier(name: str, what: str) -> str:
    """``name`` when it can name a table in Cypher, else a ValueError naming it."""
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
        raise ValueError(
            f"{what} {name!r} cannot name a table: use letters, digits and '_', "
            "starting with a letter or '_'"
        )
    return name


@dataclass(frozen=True)
class Relation:
    """Edges ``source[k] -> target[k]`` from nodes of ``source_type`` to nodes of
    ``target_type`` (ids 0..count-1 of each type), with optional weights."""

    source_type: str
    name: str
    target_type: str
    source: np.ndarray
    target: np.ndarray
    weight: np.ndarray | None = None

    def __post_init__(self) -> None:
        for what, value in (
            ("source_type", self.source_type),
            ("relation", self.name),
            ("target_type", self.target_type),
        ):
            check_identifier(value, what)
        source = np.asarray(self.source, dtype=np.int64).ravel()
        target = np.asarray(self.target, dtype=np.int64).ravel()
        if source.shape != target.shape:
            raise ValueError(
                f"relation {self.name!r}: {source.size} sources but {target.size} targets"
            )
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "target", target)
        if self.weight is not None:
            weight = np.asarray(self.weight, dtype=np.float64).ravel()
            if weight.shape != source.shape:
                raise ValueError(
                    f"relation {self.name!r}: {weight.size} weights for {source.size} edges"
                )
            object.__setattr__(self, "weight", weight)

    def __len__(self) -> int:
        return int(self.source.size)


@dataclass(frozen=True)
class GraphTables:
    """Node counts per type and the relations between them. ``directed=False`` means
    each edge is listed once and stands for both directions."""

    node_counts: dict[str, int]
    relations: list[Relation] = field(default_factory=list)
    directed: bool = True

    def __post_init__(self) -> None:
        for node_type, count in self.node_counts.items():
            check_identifier(node_type, "node type")
            if not isinstance(count, int | np.integer) or count < 0:
                raise ValueError(f"node type {node_type!r}: count must be >= 0, got {count!r}")
        names = [relation.name for relation in self.relations]
        for relation in self.relations:
            for end in (relation.source_type, relation.target_type):
                if end not in self.node_counts:
                    raise ValueError(
                        f"relation {relation.name!r} joins node type {end!r}, which is not "
                        f"one of {sorted(self.node_counts)}"
                    )
            for end, ids in (
                (relation.source_type, relation.source),
                (relation.target_type, relation.target),
            ):
                if ids.size and (ids.min() < 0 or ids.max() >= self.node_counts[end]):
                    raise ValueError(
                        f"relation {relation.name!r}: ids of {end!r} must be in "
                        f"0..{self.node_counts[end] - 1}, got {int(ids.min())}..{int(ids.max())}"
                    )
            if names.count(relation.name) > 1:
                raise ValueError(
                    f"relation name {relation.name!r} is used twice: give each (source type, "
                    "relation, target type) its own name"
                )


def _sparse_tables(
    matrix: sp.spmatrix | sp.sparray, directed: bool | None, node_type: str, relation: str
) -> GraphTables:
    csr = sp.csr_matrix(matrix, dtype=np.float64)
    if csr.shape[0] != csr.shape[1]:
        raise ValueError(f"an adjacency matrix must be square, got shape {csr.shape}")
    if directed is None:
        directed = bool((csr != csr.T).nnz)
    kept = csr.tocoo() if directed else sp.triu(csr).tocoo()
    return GraphTables(
        node_counts={node_type: int(csr.shape[0])},
        relations=[Relation(node_type, relation, node_type, kept.row, kept.col, kept.data)],
        directed=directed,
    )


def _networkx_tables(
    graph: Any, directed: bool | None, node_type: str, relation: str, weight: str
) -> GraphTables:
    position = {node: index for index, node in enumerate(graph.nodes)}
    edges = list(graph.edges(data=weight, default=1.0))
    source = np.fromiter((position[u] for u, _, _ in edges), dtype=np.int64, count=len(edges))
    target = np.fromiter((position[v] for _, v, _ in edges), dtype=np.int64, count=len(edges))
    weights = np.fromiter((w for _, _, w in edges), dtype=np.float64, count=len(edges))
    return GraphTables(
        node_counts={node_type: graph.number_of_nodes()},
        relations=[Relation(node_type, relation, node_type, source, target, weights)],
        directed=graph.is_directed() if directed is None else directed,
    )


def _numpy(value: Any) -> np.ndarray:
    """A torch tensor (or anything array-like) as numpy, without importing torch."""
    if hasattr(value, "detach"):
        value = value.detach()
    if hasattr(value, "cpu"):
        value = value.cpu()
    if hasattr(value, "numpy"):
        return np.asarray(value.numpy())
    return np.asarray(value)


def _edge_weight(store: Any) -> np.ndarray | None:
    for name in ("edge_weight", "edge_attr"):
        value = getattr(store, name, None)
        if value is not None:
            array = _numpy(value)
            if array.ndim == 1 or (array.ndim == 2 and array.shape[1] == 1):
                return array.ravel()
    return None


def _pyg_tables(data: Any, directed: bool | None, node_type: str, relation: str) -> GraphTables:
    if hasattr(data, "node_types") and hasattr(data, "edge_types"):
        counts = {check_identifier(t, "node type"): int(data[t].num_nodes) for t in data.node_types}
        relations = []
        names = [name for _, name, _ in data.edge_types]
        for source_type, name, target_type in data.edge_types:
            edges = data[source_type, name, target_type]
            index = _numpy(edges.edge_index)
            # A relation joining several pairs of node types gets one table per pair.
            table = name if names.count(name) == 1 else f"{source_type}_{name}_{target_type}"
            relations.append(
                Relation(source_type, table, target_type, index[0], index[1], _edge_weight(edges))
            )
        return GraphTables(counts, relations, directed=True if directed is None else directed)
    index = _numpy(data.edge_index)
    weight = _edge_weight(data)
    if directed is None:
        directed = not bool(data.is_undirected()) if hasattr(data, "is_undirected") else True
    if not directed:
        once = index[0] <= index[1]  # PyG lists an undirected edge in both directions
        index = index[:, once]
        weight = None if weight is None else weight[once]
    return GraphTables(
        node_counts={node_type: int(data.num_nodes)},
        relations=[Relation(node_type, relation, node_type, index[0], index[1], weight)],
        directed=directed,
    )


def as_tables(
    graph: Any,
    *,
    directed: bool | None = None,
    node_type: str = "Node",
    relation: str = "Edge",
    weight: str = "weight",
) -> GraphTables:
    """Node and edge tables of ``graph``.

    Accepts `GraphTables` (returned as is), a square scipy.sparse matrix (node i is
    id i; a symmetric matrix is undirected and each edge kept once, i <= j), a networkx
    graph (ids are positions in ``graph.nodes``; the edge attribute ``weight``, default
    1), a PyG ``Data`` (undirected when ``is_undirected()``; ``edge_weight`` or a
    one-column ``edge_attr`` as weights) or ``HeteroData`` (one node table per node
    type, one edge table per edge type). ``directed`` overrides what is inferred.
    """
    check_identifier(node_type, "node type")
    check_identifier(relation, "relation")
    if isinstance(graph, GraphTables):
        return graph
    if sp.issparse(graph):
        return _sparse_tables(graph, directed, node_type, relation)
    if hasattr(graph, "is_directed") and hasattr(graph, "nodes") and hasattr(graph, "edges"):
        return _networkx_tables(graph, directed, node_type, relation, weight)
    if hasattr(graph, "edge_index") or hasattr(graph, "edge_types"):
        return _pyg_tables(graph, directed, node_type, relation)
    raise TypeError(
        f"cannot load a {type(graph).__name__}: pass GraphTables, a scipy.sparse adjacency "
        "matrix, a networkx graph, or a PyG Data/HeteroData"
    )
