"""Where each sweep and each of its cells stand, in the results store's SQLite file.

Two tables beside the store's ``runs``: ``sweeps`` (the sweep as last run, so that the
report can draw it) and ``sweep_cells`` (one row per sweep and cell: pending, ok with
its run id, or failed with its error). Only the sweep's driver writes them.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from unlearn_schema import SweepSpec

from unlearn_bench.store import StoreError

CellStatus = Literal["pending", "ok", "failed"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sweeps (
    sweep TEXT PRIMARY KEY,
    benchmark TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    sweep_json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sweep_cells (
    sweep TEXT NOT NULL,
    cell_key TEXT NOT NULL,
    position INTEGER NOT NULL,
    values_json TEXT NOT NULL,
    run_id TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (sweep, cell_key)
);
"""


@dataclass(frozen=True)
class CellRecord:
    """One cell of a stored sweep."""

    position: int
    values: dict[str, str]
    run_id: str
    status: CellStatus
    error: str | None


class SweepCellStore:
    """The sweep tables of the SQLite results store at ``path``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with closing(sqlite3.connect(self.path)) as connection, connection:
                connection.executescript(_SCHEMA)
                yield connection
        except sqlite3.Error as error:
            raise StoreError(f"cannot use the sweep tables of {self.path}: {error}") from None

    def begin(
        self, sweep: SweepSpec, benchmark: str, cells: list[tuple[str, int, str, str]]
    ) -> None:
        """Record ``sweep`` and its cells ``(key, position, values_json, run_id)``.

        Cells already recorded keep their status; new ones are pending. Cells of an
        earlier version of the sweep that the grid no longer has are dropped.
        """
        now = datetime.now(UTC).isoformat()
        with self._connection() as connection:
            connection.execute(
                "INSERT OR REPLACE INTO sweeps VALUES (?, ?, ?, ?)",
                (sweep.sweep, benchmark, now, sweep.model_dump_json()),
            )
            keys = [cell[0] for cell in cells]
            known = {
                row[0]
                for row in connection.execute(
                    "SELECT cell_key FROM sweep_cells WHERE sweep = ?", (sweep.sweep,)
                )
            }
            for stale in known - set(keys):
                connection.execute(
                    "DELETE FROM sweep_cells WHERE sweep = ? AND cell_key = ?", (sweep.sweep, stale)
                )
            for key, position, values_json, run_id in cells:
                if key in known:
                    connection.execute(
                        "UPDATE sweep_cells SET position = ? WHERE sweep = ? AND cell_key = ?",
                        (position, sweep.sweep, key),
                    )
                else:
                    connection.execute(
                        "INSERT INTO sweep_cells VALUES (?, ?, ?, ?, ?, 'pending', NULL, ?)",
                        (sweep.sweep, key, position, values_json, run_id, now),
                    )

    def record(self, sweep: str, key: str, status: CellStatus, error: str | None = None) -> None:
        """Set one cell's status (and error, for a failed cell)."""
        with self._connection() as connection:
            connection.execute(
                "UPDATE sweep_cells SET status = ?, error = ?, updated_at = ? "
                "WHERE sweep = ? AND cell_key = ?",
                (status, error, datetime.now(UTC).isoformat(), sweep, key),
            )

    def sweeps(self) -> list[tuple[SweepSpec, str]]:
        """Every recorded sweep with its benchmark, by name."""
        if not self.path.exists():
            return []
        with self._connection() as connection:
            rows = connection.execute(
                "SELECT sweep_json, benchmark FROM sweeps ORDER BY sweep"
            ).fetchall()
        return [(SweepSpec.model_validate_json(text), benchmark) for text, benchmark in rows]

    def cells(self, sweep: str) -> list[CellRecord]:
        """The cells of ``sweep`` in grid order."""
        if not self.path.exists():
            return []
        with self._connection() as connection:
            rows = connection.execute(
                "SELECT position, values_json, run_id, status, error FROM sweep_cells "
                "WHERE sweep = ? ORDER BY position",
                (sweep,),
            ).fetchall()
        return [
            CellRecord(position, json.loads(values), run_id, status, error)
            for position, values, run_id, status, error in rows
        ]

    def run_ids(self) -> set[str]:
        """The run ids of every recorded cell of every sweep."""
        if not self.path.exists():
            return set()
        with self._connection() as connection:
            return {row[0] for row in connection.execute("SELECT run_id FROM sweep_cells")}
