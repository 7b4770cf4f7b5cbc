"""``ExampleAdapter``: stdlib sqlite3 behind qsim's EngineAdapter contract.

The worker imports this module inside the engine's runtime, calls ``ExampleAdapter()`` (the
factory) and then ``open`` -> ``load_tables`` -> ``seal`` -> ``version``, then any number of
``execute`` / ``read_table`` / ``table_row_count`` / ``list_tables``, then ``close``.
Exceptions raised by ``execute`` are recorded as the statement's engine error.

Deliberately small: every table is copied into one database file in the workspace (so
writes survive a worker restart), values travel as Python objects, and result columns are
typed from their values.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from simulator.engines.contract import EngineAdapter, StatementResult, TableSpec

BATCH_ROWS = 10_000


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class ExampleAdapter(EngineAdapter):
    """One sqlite3 database file per workspace."""

    def open(self, workspace: str, settings: dict[str, Any]) -> None:
        self.con = sqlite3.connect(Path(workspace) / "example.sqlite", isolation_level=None)

    def load_tables(self, tables: list[TableSpec]) -> None:
        existing = set(self.list_tables())
        for table in tables:
            if table.name in existing:
                continue  # written before a restart: keep it
            columns = ", ".join(_quote(field.name) for field in table.schema)
            self.con.execute(f"CREATE TABLE {_quote(table.name)} ({columns})")
            marks = ", ".join("?" for _ in table.schema)
            for file in table.files:
                data = pq.read_table(file)
                values = dict(part.split("=", 1) for part in Path(file).parent.parts if "=" in part)
                for column in table.partition_columns:
                    data = data.append_column(column, pa.array([values[column]] * data.num_rows))
                rows = data.select([field.name for field in table.schema]).to_pylist()
                self.con.executemany(
                    f"INSERT INTO {_quote(table.name)} VALUES ({marks})",
                    [tuple(row.values()) for row in rows],
                )

    def seal(self) -> None:
        def deny_attach(action: int, *args: Any) -> int:
            return sqlite3.SQLITE_DENY if action == sqlite3.SQLITE_ATTACH else sqlite3.SQLITE_OK

        self.con.set_authorizer(deny_attach)

    def version(self) -> str:
        return f"example-sqlite-{sqlite3.sqlite_version}"

    def _result(self, cursor: sqlite3.Cursor) -> StatementResult:
        if cursor.description is None:
            affected = cursor.rowcount if cursor.rowcount >= 0 else None
            return StatementResult(schema=None, batches=iter(()), rows_affected=affected)
        names = [column[0] for column in cursor.description]
        first = cursor.fetchmany(BATCH_ROWS)
        columns = list(zip(*first, strict=True)) if first else [() for _ in names]
        schema = pa.table(
            {name: list(col) for name, col in zip(names, columns, strict=True)}
        ).schema

        def batches() -> Any:
            rows = first
            while rows:
                yield pa.RecordBatch.from_pylist(
                    [dict(zip(names, r, strict=True)) for r in rows], schema
                )
                rows = cursor.fetchmany(BATCH_ROWS)

        return StatementResult(schema=schema, batches=batches())

    def execute(self, sql: str) -> StatementResult:
        return self._result(self.con.execute(sql))

    def read_table(self, name: str) -> StatementResult:
        return self._result(self.con.execute(f"SELECT * FROM {_quote(name)}"))

    def table_row_count(self, name: str) -> int:
        return int(self.con.execute(f"SELECT count(*) FROM {_quote(name)}").fetchone()[0])

    def list_tables(self) -> list[str]:
        rows = self.con.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")
        return sorted(row[0] for row in rows)

    def close(self) -> None:
        if getattr(self, "con", None) is not None:
            self.con.close()
            self.con = None
