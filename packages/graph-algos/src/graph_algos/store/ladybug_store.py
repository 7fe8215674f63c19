"""`GraphStore` on LadybugDB (``ladybug``, the maintained continuation of Kuzu): an
embedded, columnar graph database that speaks Cypher. Extra ``graph-algos[db]``.

Tables are bulk-loaded with ``COPY ... FROM`` a CSV file written to a temporary folder
(LadybugDB's fast path; its DataFrame path would need pandas or pyarrow).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import numpy as np

from graph_algos.store.base import Columns, StoreSchema
from graph_algos.store.tables import Relation, as_tables

_DTYPES = {
    "INT64": np.int64,
    "INT32": np.int32,
    "INT16": np.int16,
    "INT8": np.int8,
    "UINT64": np.uint64,
    "UINT32": np.uint32,
    "SERIAL": np.int64,
    "DOUBLE": np.float64,
    "FLOAT": np.float32,
    "BOOL": np.bool_,
}


def _ladybug() -> Any:
    try:
        import ladybug
    except ImportError as error:
        raise ImportError(
            "the graph store needs LadybugDB: pip install 'graph-algos[db]' "
            "(uv sync --extra db in this repository)"
        ) from error
    return ladybug


def _column(values: list[Any], kind: str) -> np.ndarray:
    """One result column as an array: numeric and boolean types typed, others objects."""
    dtype = _DTYPES.get(kind)
    if dtype is not None and not any(value is None for value in values):
        return np.asarray(values, dtype=dtype)
    if kind in ("DOUBLE", "FLOAT"):
        return np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)
    column = np.empty(len(values), dtype=object)
    column[:] = values
    return column


class LadybugStore:
    """A LadybugDB database (in memory when ``path`` is None) behind `GraphStore`."""

    def __init__(self, path: str | Path | None = None, *, threads: int = 0) -> None:
        ladybug = _ladybug()
        if threads < 0:
            raise ValueError(f"threads must be >= 0 (0: all cores), got {threads}")
        self.path = None if path is None else Path(path)
        self._database = ladybug.Database(
            ":memory:" if path is None else str(path), max_num_threads=threads
        )
        self._connection = ladybug.Connection(self._database, num_threads=threads)
        self.schema = self._read_schema()

    def _read_schema(self) -> StoreSchema:
        """The tables a database on disk already holds (none for a new one); each edge
        table's comment says whether its edges are directed."""
        schema = StoreSchema()
        for _, name, kind, _, comment in self._rows("CALL show_tables() RETURN *"):
            if kind == "NODE":
                schema.node_counts[name] = int(
                    self._rows(f"MATCH (n:{name}) RETURN count(n)")[0][0]
                )
            elif kind == "REL":
                source, target = self._rows(f"CALL show_connection('{name}') RETURN *")[0][:2]
                schema.relations[name] = (source, target)
                schema.directed = comment != "undirected"
        return schema

    def _rows(self, cypher: str) -> list[Any]:
        result = self._connection.execute(cypher)
        rows: list[Any] = result.get_all()
        result.close()
        return rows

    def load(self, graph: Any, *, directed: bool | None = None) -> StoreSchema:
        tables = as_tables(graph, directed=directed)
        clash = [t for t in tables.node_counts if t in self.schema.node_counts] + [
            r.name for r in tables.relations if r.name in self.schema.relations
        ]
        if clash:
            raise ValueError(f"the store already holds tables named {clash}")
        if self.schema.relations and tables.directed != self.schema.directed:
            raise ValueError(
                f"the store holds {'directed' if self.schema.directed else 'undirected'} "
                "edges; load the other kind into a store of its own"
            )
        with tempfile.TemporaryDirectory(prefix="graph-store-") as folder:
            for node_type, count in tables.node_counts.items():
                self._load_nodes(Path(folder), node_type, count)
            for relation in tables.relations:
                self._load_relation(Path(folder), relation, tables.directed)
        self.schema.node_counts.update(tables.node_counts)
        self.schema.relations.update(
            {r.name: (r.source_type, r.target_type) for r in tables.relations}
        )
        self.schema.directed = tables.directed
        return self.schema

    def _load_nodes(self, folder: Path, node_type: str, count: int) -> None:
        self._connection.execute(f"CREATE NODE TABLE {node_type}(id INT64, PRIMARY KEY(id))")
        if count:
            csv = folder / f"{node_type}.csv"
            np.savetxt(csv, np.arange(count), fmt="%d")
            self._connection.execute(f"COPY {node_type} FROM '{csv}' (header=false)")

    def _load_relation(self, folder: Path, relation: Relation, directed: bool) -> None:
        self._connection.execute(
            f"CREATE REL TABLE {relation.name}"
            f"(FROM {relation.source_type} TO {relation.target_type}, weight DOUBLE)"
        )
        if len(relation):
            csv = folder / f"{relation.name}.csv"
            weight = np.ones(len(relation)) if relation.weight is None else relation.weight
            columns = np.column_stack([relation.source, relation.target, weight])
            np.savetxt(csv, columns, fmt=["%d", "%d", "%.17g"], delimiter=",")
            self._connection.execute(f"COPY {relation.name} FROM '{csv}' (header=false)")
        kind = "directed" if directed else "undirected"
        self._connection.execute(f"COMMENT ON TABLE {relation.name} IS '{kind}'")

    def query(self, cypher: str, parameters: dict[str, Any] | None = None) -> Columns:
        try:
            result = self._connection.execute(cypher, parameters or {})
        except RuntimeError as error:
            raise ValueError(f"the query failed: {error}\nquery: {cypher}") from error
        if isinstance(result, list):
            raise ValueError(f"query() runs one statement, got {len(result)}: {cypher!r}")
        names = result.get_column_names()
        kinds = result.get_column_data_types()
        rows = result.get_all()
        result.close()
        if not rows:
            return {
                n: np.empty(0, dtype=_DTYPES.get(k, object))
                for n, k in zip(names, kinds, strict=True)
            }
        by_column = list(zip(*rows, strict=True))
        return {
            name: _column(list(values), kind)
            for name, kind, values in zip(names, kinds, by_column, strict=True)
        }

    def edge_arrays(self, relation: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Source ids, target ids and weights of every edge of ``relation``.

        ``query`` builds a Python row per edge (seconds per million edges). When every
        weight is the same, the ids are exported with ``COPY ... TO`` a CSV file and
        parsed in numpy instead, several times faster; LadybugDB's CSV writer prints a
        DOUBLE with 6 decimals, so other weights still come through ``query``.
        """
        if relation not in self.schema.relations:
            raise ValueError(
                f"no edge table {relation!r}; the store holds {sorted(self.schema.relations)}"
            )
        source, target = self.schema.relations[relation]
        match = f"MATCH (a:{source})-[e:{relation}]->(b:{target})"
        low, high = self._rows(f"{match} RETURN min(e.weight), max(e.weight)")[0]
        if low is None:
            return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
        if low != high:
            found = self.query(f"{match} RETURN a.id AS s, b.id AS t, e.weight AS w")
            return found["s"], found["t"], found["w"]
        with tempfile.TemporaryDirectory(prefix="graph-store-") as folder:
            csv = Path(folder) / "edges.csv"
            self._connection.execute(f"COPY ({match} RETURN a.id, b.id) TO '{csv}' (header=false)")
            ids = np.loadtxt(csv, delimiter=",", dtype=np.int64, ndmin=2)
        return ids[:, 0], ids[:, 1], np.full(ids.shape[0], float(low))

    def close(self) -> None:
        self._connection.close()
        self._database.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


__all__ = ["LadybugStore"]
