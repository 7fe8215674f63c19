"""The tutorial's operations on a graph held in a store, through `GraphStore.query` only.

Degrees, k-hop neighbourhoods and shortest paths are Cypher queries the database runs.
Centralities and communities are not in LadybugDB's core (its ``algo`` extension is
downloaded on first use, which an offline machine cannot do), so `centrality` and
`communities` read the edge table back as a CSR matrix (`to_csr`) and run our kernels.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp

from graph_algos.kernels.centrality import betweenness, closeness, pagerank
from graph_algos.kernels.communities import Communities, leiden, louvain, louvain_igraph
from graph_algos.store.base import GraphStore


def _relation(store: GraphStore, relation: str | None) -> tuple[str, str, str]:
    """(relation, source type, target type), the relation defaulting to the only one."""
    relations = store.schema.relations
    if relation is None:
        if len(relations) != 1:
            raise ValueError(
                f"the store holds {len(relations)} edge tables {sorted(relations)}: name one"
            )
        relation = next(iter(relations))
    if relation not in relations:
        raise ValueError(f"no edge table {relation!r} in the store; it holds {sorted(relations)}")
    source, target = relations[relation]
    return relation, source, target


def _same_type(store: GraphStore, relation: str | None) -> tuple[str, str]:
    name, source, target = _relation(store, relation)
    if source != target:
        raise ValueError(
            f"edge table {name!r} joins {source!r} to {target!r}: this operation needs edges "
            "between nodes of one type"
        )
    return name, source


def _arrow(store: GraphStore) -> str:
    return "->" if store.schema.directed else "-"


def to_csr(store: GraphStore, relation: str | None = None) -> sp.csr_matrix:
    """The adjacency matrix of one edge table (node ids as indices, weights as values;
    symmetric when the store's edges are undirected; duplicate edges summed)."""
    name, source, target = _relation(store, relation)
    fast = getattr(store, "edge_arrays", None)  # an engine's bulk export, where it has one
    if fast is not None:
        rows, cols, weights = fast(name)
    else:
        found = store.query(
            f"MATCH (a:{source})-[e:{name}]->(b:{target}) "
            "RETURN a.id AS source, b.id AS target, e.weight AS weight"
        )
        rows, cols, weights = found["source"], found["target"], found["weight"]
    shape = (store.schema.node_counts[source], store.schema.node_counts[target])
    matrix = sp.csr_matrix((weights, (rows, cols)), shape=shape)
    if not store.schema.directed:
        matrix = (matrix + matrix.T - sp.diags(matrix.diagonal())).tocsr()
    return matrix


def degrees(store: GraphStore, relation: str | None = None) -> np.ndarray:
    """Edges at each node, counted by the database (out-edges when directed)."""
    name, node_type = _same_type(store, relation)
    found = store.query(
        f"MATCH (a:{node_type})-[e:{name}]{_arrow(store)}(:{node_type}) "
        "RETURN a.id AS node, count(e) AS degree"
    )
    result = np.zeros(store.schema.node_counts[node_type], dtype=np.int64)
    result[found["node"]] = found["degree"]
    return result


def neighbourhood(
    store: GraphStore, node: int, hops: int = 2, relation: str | None = None
) -> np.ndarray:
    """Sorted ids of the nodes within ``hops`` edges of ``node`` (``node`` excluded)."""
    name, node_type = _same_type(store, relation)
    count = store.schema.node_counts[node_type]
    if not (isinstance(node, int | np.integer) and 0 <= node < count):
        raise ValueError(f"node {node!r} is not in {node_type!r}: ids are 0..{count - 1}")
    if not (isinstance(hops, int) and hops >= 1):
        raise ValueError(f"hops must be an integer >= 1, got {hops!r}")
    found = store.query(
        f"MATCH (a:{node_type} {{id: $node}})-[:{name}* SHORTEST 1..{hops}]{_arrow(store)}"
        f"(b:{node_type}) WHERE b.id <> $node RETURN DISTINCT b.id AS node",
        {"node": int(node)},
    )
    return np.sort(found["node"])


def shortest_path_lengths(
    store: GraphStore, source: int, relation: str | None = None, weighted: bool = True
) -> np.ndarray:
    """Distance from ``source`` to every node by the database's shortest-path search
    (``WSHORTEST`` on the ``weight`` property, or hop counts); inf when unreachable."""
    name, node_type = _same_type(store, relation)
    count = store.schema.node_counts[node_type]
    if not (isinstance(source, int | np.integer) and 0 <= source < count):
        raise ValueError(f"source {source!r} is not in {node_type!r}: ids are 0..{count - 1}")
    pattern = "WSHORTEST(weight)" if weighted else "SHORTEST"
    length = "cost(e)" if weighted else "length(e)"
    found = store.query(
        f"MATCH (a:{node_type} {{id: $source}})-[e:{name}* {pattern}]{_arrow(store)}"
        f"(b:{node_type}) WHERE b.id <> $source RETURN b.id AS node, {length} AS distance",
        {"source": int(source)},
    )
    result = np.full(count, np.inf)
    result[found["node"]] = found["distance"]
    result[source] = 0.0
    return result


CENTRALITIES: dict[str, Callable[..., np.ndarray]] = {
    "closeness": closeness,
    "betweenness": betweenness,
    "pagerank": pagerank,
}
"""Centralities computed by our kernels on the store's adjacency (`degrees` is a query)."""


def centrality(
    store: GraphStore, name: str, relation: str | None = None, **options: Any
) -> np.ndarray:
    """Centrality ``name`` (``degree`` or one of `CENTRALITIES`) of every node of the
    graph in the store; ``options`` go to the kernel."""
    if name == "degree":
        return degrees(store, relation).astype(np.float64)
    if name not in CENTRALITIES:
        raise ValueError(f"unknown centrality {name!r}; accepted: {['degree', *CENTRALITIES]}")
    _same_type(store, relation)
    return CENTRALITIES[name](to_csr(store, relation), **options)


COMMUNITY_METHODS: dict[str, Callable[..., Communities]] = {
    "louvain": louvain,
    "louvain-igraph": louvain_igraph,
    "leiden": leiden,
}
"""Community detection on the store's adjacency: ours, and igraph/leidenalg's (extra)."""


def communities(
    store: GraphStore, method: str = "louvain", relation: str | None = None, **options: Any
) -> Communities:
    """Communities of the (undirected) graph in the store by ``method``."""
    if method not in COMMUNITY_METHODS:
        raise ValueError(
            f"unknown community method {method!r}; accepted: {list(COMMUNITY_METHODS)}"
        )
    _same_type(store, relation)
    return COMMUNITY_METHODS[method](to_csr(store, relation), **options)
