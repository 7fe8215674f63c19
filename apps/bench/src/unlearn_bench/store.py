"""The embedded results store: one SQLite file holding every run report."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

from unlearn_schema import RunReport

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    benchmark TEXT NOT NULL,
    package TEXT NOT NULL,
    size TEXT NOT NULL,
    seed INTEGER NOT NULL,
    started_at TEXT NOT NULL,
    wall_time_s REAL NOT NULL,
    report_json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS metrics (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    name TEXT NOT NULL,
    value REAL NOT NULL,
    direction TEXT NOT NULL,
    reference REAL,
    labels_json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_benchmark ON runs(benchmark, started_at);
CREATE INDEX IF NOT EXISTS metrics_by_run ON metrics(run_id);
"""


class StoreError(Exception):
    """The results store cannot be opened, read or written; the message names the file."""


class ResultsStore:
    """Append-only store of `RunReport` objects in a SQLite file.

    The file (and its folder) is created on first use. Each report is stored whole as
    JSON, and its metrics once more as rows, so that SQL can compare runs.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def _connect(self) -> sqlite3.Connection:
        if self.path.is_dir():
            raise StoreError(f"the results store {self.path} is a folder, not a SQLite file")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path)
        except (OSError, sqlite3.Error) as error:
            raise StoreError(f"cannot open the results store {self.path}: {error}") from None
        try:
            connection.executescript(_SCHEMA)
        except sqlite3.Error as error:
            connection.close()
            raise StoreError(
                f"the results store {self.path} is not a usable SQLite store ({error}); "
                "move it aside or give another with --store"
            ) from None
        return connection

    def check(self) -> None:
        """Verify that the store can take a report; `StoreError` if not.

        An existing store is opened and checked; for a new one only its folder is
        checked, so that a run which fails leaves no empty store behind.
        """
        if not self.path.exists():
            import tempfile

            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with tempfile.TemporaryFile(dir=self.path.parent):
                    pass
            except OSError as error:
                raise StoreError(
                    f"cannot create the results store {self.path}: {error.strerror}"
                ) from None
            return
        with closing(self._connect()) as connection:
            try:
                connection.execute("SELECT COUNT(*) FROM runs").fetchone()
                connection.execute("BEGIN IMMEDIATE")  # proves the file is writable
                connection.rollback()
            except sqlite3.Error as error:
                raise StoreError(
                    f"the results store {self.path} is not writable: {error}"
                ) from None

    def append(self, report: RunReport) -> None:
        """Store one report; all of it or nothing (one transaction)."""
        try:
            self._append(report)
        except sqlite3.Error as error:
            raise StoreError(f"cannot write to the results store {self.path}: {error}") from None

    def _append(self, report: RunReport) -> None:
        with closing(self._connect()) as connection, connection:
            known = connection.execute(
                "SELECT 1 FROM runs WHERE run_id = ?", (report.run_id,)
            ).fetchone()
            if known is not None:
                return  # already stored (adopted by a reconciliation): appending is idempotent
            connection.execute(
                "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    report.run_id,
                    report.benchmark,
                    report.package,
                    report.spec.size,
                    report.seed,
                    report.started_at.isoformat(),
                    report.wall_time_s,
                    report.model_dump_json(),
                ),
            )
            connection.executemany(
                "INSERT INTO metrics VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        report.run_id,
                        metric.name,
                        metric.value,
                        metric.direction,
                        metric.reference,
                        json.dumps(metric.labels, sort_keys=True),
                    )
                    for metric in report.result.metrics
                ],
            )

    def run_ids(self) -> set[str]:
        """Every stored run id (empty for a store that does not exist yet)."""
        if not self.path.exists():
            return set()
        try:
            with closing(self._connect()) as connection:
                return {row[0] for row in connection.execute("SELECT run_id FROM runs")}
        except sqlite3.Error as error:
            raise StoreError(f"cannot read the results store {self.path}: {error}") from None

    def reports(self, benchmark: str | None = None) -> list[RunReport]:
        """Stored reports, oldest first, optionally of one benchmark only."""
        if not self.path.exists():
            return []
        query = "SELECT report_json FROM runs"
        args: tuple[str, ...] = ()
        if benchmark is not None:
            query += " WHERE benchmark = ?"
            args = (benchmark,)
        query += " ORDER BY started_at, run_id"
        try:
            with closing(self._connect()) as connection:
                rows = connection.execute(query, args).fetchall()
        except sqlite3.Error as error:
            raise StoreError(f"cannot read the results store {self.path}: {error}") from None
        reports = []
        for (text,) in rows:
            try:
                reports.append(RunReport.model_validate_json(text))
            except ValueError as error:
                first = str(error).splitlines()[0]
                raise StoreError(
                    f"the results store {self.path} holds a report that does not parse: {first}"
                ) from None
        return reports

    def latest(self) -> dict[str, RunReport]:
        """The most recent report of each benchmark."""
        latest: dict[str, RunReport] = {}
        for report in self.reports():
            latest[report.benchmark] = report
        return latest
