"""The one small interface every graph database engine implements, and how to open one."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self, runtime_checkable

import numpy as np

Columns = dict[str, np.ndarray]
"""A query's answer: one array per returned column, in the order of the RETURN clause."""


@dataclass
class StoreSchema:
    """What a store holds: node tables (with their node counts), edge tables (name ->
    (source type, target type)) and whether its edges are directed."""

    node_counts: dict[str, int] = field(default_factory=dict)
    relations: dict[str, tuple[str, str]] = field(default_factory=dict)
    directed: bool = True


@runtime_checkable
class GraphStore(Protocol):
    """A graph database holding typed node and edge tables, queried in Cypher.

    Every node table has an INT64 primary key ``id`` (0..count-1, the node's index in
    the graph it came from); every edge table a DOUBLE ``weight``.
    """

    schema: StoreSchema

    def load(self, graph: Any, *, directed: bool | None = None) -> StoreSchema:
        """Add ``graph`` (anything `as_tables` accepts) as new tables; the schema after."""
        ...

    def query(self, cypher: str, parameters: dict[str, Any] | None = None) -> Columns:
        """Run one Cypher statement; its result columns as numpy arrays."""
        ...

    def close(self) -> None:
        """Release the database (a store on disk keeps its files)."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None: ...


ENGINES: dict[str, str] = {
    "ladybug": "graph_algos.store.ladybug_store:LadybugStore",
}
"""Engine name -> ``module:class`` of its `GraphStore` (imported only when opened)."""


def open_store(
    engine: str = "ladybug", path: str | Path | None = None, **options: Any
) -> GraphStore:
    """Open (or create) a graph store; ``path=None`` keeps it in memory.

    ``engine`` is one of `ENGINES` (``ladybug``: LadybugDB, embedded, extra
    ``graph-algos[db]``); ``options`` go to the engine (ladybug: ``threads``).
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown graph store engine {engine!r}; accepted: {sorted(ENGINES)}")
    module_name, class_name = ENGINES[engine].split(":")
    store_class = getattr(importlib.import_module(module_name), class_name)
    store: GraphStore = store_class(path, **options)
    return store


def load_graph(graph: Any, engine: str = "ladybug", **options: Any) -> GraphStore:
    """An in-memory store of ``engine`` holding ``graph`` (`as_tables` says what loads)."""
    directed = options.pop("directed", None)
    store = open_store(engine, None, **options)
    store.load(graph, directed=directed)
    return store
