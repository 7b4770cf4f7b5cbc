"""DuckDB adapter, for any release from 0.10 to 2.x (runs inside the engine's runtime).

Tables: writable ones are materialized (CREATE TABLE AS) in the workspace database file
``engine.duckdb``, so writes survive a worker restart. Read-only ones follow the setting
``read_only_tables`` (a qsim setting, not passed to DuckDB):

- ``"cache"`` (default): views over the tables of a database file that qsim built once for
  this tenant, generation and runtime (``simulator.engines.read_only_cache``) and names in
  the setting ``read_only_database``; it is attached ``READ_ONLY`` before the sandbox is
  sealed, so no statement can write, detach or re-attach it. Its tables were loaded by the
  ``"copy"`` code below, by the same release, so queries read the same native tables as a
  copy. Without ``read_only_database`` (a worker started outside a run) this is ``"copy"``.
- ``"copy"``: materialized like writable ones, on every release. Two releases compared in
  one run then read the same native tables: a view over Parquet costs about twice a native
  table per small query, and releases before 1.3 cannot sandbox views, so mixing the two
  would report the I/O path as a performance regression.
- ``"views"``: views over ``read_parquet`` of the generation's files where the release can
  allow exactly those files after external access is off (``allowed_paths``, DuckDB >= 1.3),
  else materialized. Cheaper to set up on large generations.

Sandbox: from ``open`` on, DuckDB's home, temp, extension and secret directories are in the
workspace (so catalog functions such as ``duckdb_extensions()`` create nothing under the
user's home); ``seal`` turns external access and extension autoinstall/autoload off, locks
the configuration and arms the statement guard of ``duckdb_sandbox`` (an allow-list of
statement kinds and table functions, checked on DuckDB's own tokens before a statement
reaches the engine). Releases the guard cannot protect are refused at ``open``.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from simulator.engines import plan_tree
from simulator.engines.adapters.duckdb_sandbox import (
    SandboxViolation,
    StatementGuard,
    check_release,
)
from simulator.engines.contract import (
    DIGEST_COLUMNS,
    EngineAdapter,
    StatementResult,
    TableSpec,
)
from simulator.engines.plan_tree import PlanTree
from simulator.engines.sql_names import quote_identifier

DATABASE_FILE = "engine.duckdb"
READ_ONLY_MODES = ("cache", "copy", "views")
# The schema name of the attached read-only database (``read_only_tables = "cache"``).
READ_ONLY_ALIAS = "qsim_read_only"
BATCH_ROWS = 122880
# DuckDB's own folders, inside the workspace (set at connect, before anything can use them).
WORKSPACE_DIRECTORIES = (
    ("extension_directory", "duckdb-extensions"),
    ("secret_directory", "duckdb-secrets"),
    ("temp_directory", "duckdb-temp"),
)
COUNTED_STATEMENTS = ("INSERT", "UPDATE", "DELETE", "CREATE", "MERGE_INTO")
# Applied at seal, in this order (the lock last). DuckDB needs its LocalFileSystem for the
# database file, so only the network file systems are disabled (one-way: cannot be undone).
SANDBOX_SETTINGS = (
    ("enable_external_access", "false"),
    ("autoinstall_known_extensions", "false"),
    ("autoload_known_extensions", "false"),
    ("allow_community_extensions", "false"),
    ("allow_persistent_secrets", "false"),
    ("disabled_filesystems", "'HTTPFileSystem,S3FileSystem,HuggingFaceFileSystem'"),
    ("lock_configuration", "true"),
)
# Arrow -> DuckDB types for hive partition columns, which DuckDB reads as VARCHAR here.
PARTITION_TYPES = {
    "int8": "TINYINT",
    "int16": "SMALLINT",
    "int32": "INTEGER",
    "int64": "BIGINT",
    "date32[day]": "DATE",
    "bool": "BOOLEAN",
    "double": "DOUBLE",
}


__all__ = ["DuckDBAdapter", "SandboxViolation"]


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class DuckDBAdapter(EngineAdapter):
    """One DuckDB database file in the workspace, sandboxed after loading."""

    def __init__(self) -> None:
        self.con: Any = None
        self.relation: Any = None
        self.settings: set[str] = set()
        self.guard: StatementGuard | None = None
        self.own_files: list[str] = []
        self.read_only_mode = "cache"
        self.read_only_database = ""
        # (table, partition columns) -> {partition id: its values}, from the last digests.
        self.partition_values: dict[tuple[str, tuple[str, ...]], dict[int, tuple[Any, ...]]] = {}

    def open(self, workspace: str, settings: dict[str, Any]) -> None:
        """Open ``workspace/engine.duckdb`` and apply ``settings`` as SET statements
        (except ``read_only_tables`` and ``read_only_database``, which say how read-only
        tables are loaded).

        Refuses (``SandboxViolation``) a release the sandbox cannot protect."""
        check_release(duckdb.__version__)
        settings = dict(settings)
        self.read_only_mode = str(settings.pop("read_only_tables", "cache"))
        self.read_only_database = str(settings.pop("read_only_database", ""))
        if self.read_only_mode not in READ_ONLY_MODES:
            raise ValueError(
                f"setting read_only_tables: expected one of {', '.join(READ_ONLY_MODES)}, "
                f"got {self.read_only_mode!r}"
            )
        config = {}
        for key, folder in WORKSPACE_DIRECTORIES:
            config[key] = str(Path(workspace) / folder)
            Path(config[key]).mkdir(parents=True, exist_ok=True)
        self.con = duckdb.connect(str(Path(workspace) / DATABASE_FILE), config=config)
        # Not accepted as a connect option before 2.x; nothing has read it yet.
        home = Path(workspace) / "duckdb-home"
        home.mkdir(exist_ok=True)
        self._run(f"SET home_directory = {_literal(str(home))}")
        rows = self.con.execute("SELECT name FROM duckdb_settings()").fetchall()
        self.settings = {row[0] for row in rows}
        for key, value in settings.items():
            text = _literal(value) if isinstance(value, str) else str(value).lower()
            self._run(f"SET {key} = {text}")

    def _run(self, sql: str) -> list[Any]:
        # Fetch everything: DuckDB 2.x refuses new work while a result is unfetched.
        return self.con.execute(sql).fetchall()

    def _select_list(self, table: TableSpec) -> str:
        columns = []
        for field in table.schema:
            name = quote_identifier(field.name)
            if field.name in table.partition_columns and not pa.types.is_string(field.type):
                target = PARTITION_TYPES.get(str(field.type), "VARCHAR")
                columns.append(f"CAST({name} AS {target}) AS {name}")
            else:
                columns.append(name)
        return ", ".join(columns)

    def _source(self, table: TableSpec) -> str:
        files = ", ".join(_literal(path) for path in table.files)
        hive = "true" if table.partition_columns else "false"
        options = f"hive_partitioning={hive}"
        if table.partition_columns:
            options += ", hive_types_autocast=false"
        return f"SELECT {self._select_list(table)} FROM read_parquet([{files}], {options})"

    def load_tables(self, tables: list[TableSpec]) -> None:
        """Copies for writable tables; read-only ones as ``read_only_tables`` says.

        Existing tables in the database file are kept: they hold writes made before a restart.
        """
        existing = set(self.list_tables())
        views_allowed = self.read_only_mode == "views" and "allowed_paths" in self.settings
        cached = self._attach_read_only_database()
        if cached is not None:
            missing = sorted(t.name for t in tables if not t.writable and t.name not in cached)
            if missing:
                raise ValueError(
                    f"read-only database {self.read_only_database} has no table {missing[0]!r}"
                )
        allowed: list[str] = []
        for table in tables:
            self.own_files.extend(table.files)
            name = quote_identifier(table.name)
            if not table.writable and cached is not None:
                source = f"{READ_ONLY_ALIAS}.main.{name}"
                self._run(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM {source}")
            elif not table.files:
                self.con.register("__qsim_empty", table.schema.empty_table())
                self._run(f"CREATE TABLE IF NOT EXISTS {name} AS SELECT * FROM __qsim_empty")
                self.con.unregister("__qsim_empty")
            elif not table.writable and views_allowed:
                self._run(f"CREATE OR REPLACE VIEW {name} AS {self._source(table)}")
                allowed.extend(table.files)
            elif table.name not in existing:
                self._run(f"CREATE TABLE {name} AS {self._source(table)}")
        if allowed:
            paths = ", ".join(_literal(path) for path in allowed)
            self._run(f"SET allowed_paths = [{paths}]")
        self._run("CHECKPOINT")

    def _attach_read_only_database(self) -> set[str] | None:
        """Attach ``read_only_database`` read-only (mode ``cache``) and return the tables it
        holds; None when read-only tables are not read from it."""
        if self.read_only_mode != "cache" or not self.read_only_database:
            return None
        path = _literal(self.read_only_database)
        self._run(f"ATTACH {path} AS {READ_ONLY_ALIAS} (READ_ONLY)")
        rows = self._run(
            "SELECT table_name FROM duckdb_tables() "
            f"WHERE database_name = {_literal(READ_ONLY_ALIAS)} AND schema_name = 'main'"
        )
        return {row[0] for row in rows}

    def seal(self) -> None:
        """Turn off external access and extensions, lock the configuration, and check every
        later statement with the guard (which may read only the loaded tables' files)."""
        for key, value in SANDBOX_SETTINGS:
            if key in self.settings:
                self._run(f"SET {key} = {value}")
        self.guard = StatementGuard(self.con, self.own_files)

    def version(self) -> str:
        """``version()`` as DuckDB reports it, e.g. ``v1.1.3``."""
        return str(self.con.execute("SELECT version()").fetchall()[0][0])

    def _reader(self, cursor: Any) -> pa.RecordBatchReader:
        # 0.10 .. 1.x: fetch_record_batch; 2.x: to_arrow_reader, which warns about a copy
        # that only PRAGMA/EXPLAIN/CALL results (small) still pay.
        fetch = getattr(cursor, "fetch_record_batch", None)
        if fetch is not None:
            return fetch(BATCH_ROWS)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return cursor.to_arrow_reader(BATCH_ROWS)

    def _rows(self, cursor: Any) -> StatementResult:
        reader = self._reader(cursor)
        return StatementResult(schema=reader.schema, batches=iter(reader))

    def _count(self, cursor: Any) -> int | None:
        rowcount = getattr(cursor, "rowcount", -1)
        if isinstance(rowcount, int) and rowcount >= 0:
            return rowcount
        description = cursor.description or []
        if len(description) == 1 and description[0][0] == "Count":
            rows = cursor.fetchall()
            return int(rows[0][0]) if rows else None
        return None

    def execute(self, sql: str) -> StatementResult:
        """Run ``sql`` (one or more statements); the last one's rows or count is the result."""
        self.relation = None  # let go of the previous result before new work
        statements = self.con.extract_statements(sql)
        if not statements:
            raise ValueError("no statement to execute")
        kinds = [statement.type.name for statement in statements]
        if self.guard is not None:
            for kind, statement in zip(kinds, statements, strict=True):
                self.guard.check(kind, statement.query)
        for statement in statements[:-1]:
            self._run(statement.query)
        last = statements[-1].query
        if kinds[-1] == "SELECT" and not hasattr(self.con, "fetch_record_batch"):
            # 2.x: a relation streams Arrow without the extra copy of a DB-API result.
            # The relation must outlive its reader, or the reader ends early.
            self.relation = self.con.sql(last)
            reader = self.relation.to_arrow_reader(BATCH_ROWS)
            return StatementResult(schema=reader.schema, batches=iter(reader))
        cursor = self.con.execute(last)
        if kinds[-1] in COUNTED_STATEMENTS:
            return StatementResult(schema=None, batches=iter(()), rows_affected=self._count(cursor))
        if not cursor.description:
            return StatementResult(schema=None, batches=iter(()))
        return self._rows(cursor)

    def read_table(self, name: str) -> StatementResult:
        """Every row of ``name``."""
        return self._rows(self.con.execute(f"SELECT * FROM {quote_identifier(name)}"))

    def table_row_count(self, name: str) -> int:
        """``count(*)`` of ``name``."""
        query = f"SELECT count(*) FROM {quote_identifier(name)}"
        return int(self.con.execute(query).fetchall()[0][0])

    def partition_digests(self, name: str, partition_columns: list[str]) -> StatementResult:
        """One aggregate over ``name``: per partition, ``hash`` of its values, ``count(*)``,
        and the sums mod 2**64 of ``hash`` of each whole row and of ``hash`` of that hash."""
        table = quote_identifier(name)
        parts = [quote_identifier(column) for column in partition_columns]
        pid, rows, hash_a, hash_b = (quote_identifier(column) for column in DIGEST_COLUMNS)
        # Sums, not bit_xor: two equal rows must not cancel each other out. The second sum
        # rehashes the first's row hash: hashing each row once is the cost (2x on 1.1).
        sums = [
            f"(sum({term}::HUGEINT) % {1 << 64})::VARCHAR AS {alias}"
            for term, alias in (("__qsim_h", hash_a), ("hash(__qsim_h)", hash_b))
        ]
        select = [*parts, f"{_partition_id(parts)} AS {pid}", f"count(*) AS {rows}", *sums]
        group = f" GROUP BY {', '.join(parts)}" if parts else ""
        rows_hashed = f"SELECT {''.join(p + ', ' for p in parts)}hash(__qsim_row) AS __qsim_h"
        query = f"SELECT {', '.join(select)} FROM ({rows_hashed} FROM {table} AS __qsim_row){group}"
        return self._digests(name, partition_columns, query)

    def partition_row_digests(self, name: str, partition_columns: list[str]) -> StatementResult:
        """One aggregate over ``name``'s partition columns and ``rowid``: per partition,
        ``hash`` of its values, ``count(*)``, ``sum(rowid)`` and ``bit_xor(hash(rowid))``.

        DuckDB appends inserted rows with new rowids and a DELETE only marks rows, so the
        set of a partition's rowids changes exactly when rows are added to or removed from
        it (a compaction that renumbers rows moves the sums too: a wasted read, never a
        missed change). Rowids are unique, so XOR cannot cancel two of them. An UPDATE
        keeps rowids: statements that may rewrite rows in place use ``partition_digests``.
        """
        table = quote_identifier(name)
        parts = [quote_identifier(column) for column in partition_columns]
        pid, rows, hash_a, hash_b = (quote_identifier(column) for column in DIGEST_COLUMNS)
        select = [
            *parts,
            f"{_partition_id(parts)} AS {pid}",
            f"count(*) AS {rows}",
            f"coalesce(sum(rowid), 0)::VARCHAR AS {hash_a}",
            f"coalesce(bit_xor(hash(rowid)), 0)::VARCHAR AS {hash_b}",
        ]
        group = f" GROUP BY {', '.join(parts)}" if parts else ""
        return self._digests(
            name, partition_columns, f"SELECT {', '.join(select)} FROM {table}{group}"
        )

    def _digests(self, name: str, partition_columns: list[str], query: str) -> StatementResult:
        """Run a digest ``query`` (one row per partition) and remember each partition's
        values under its id, so that ``read_partitions`` can select by value."""
        table = self._reader(self.con.execute(query)).read_all()
        ids = table.column(DIGEST_COLUMNS[0]).to_pylist()
        columns = [table.column(i).to_pylist() for i in range(len(partition_columns))]
        known = self.partition_values.setdefault((name, tuple(partition_columns)), {})
        values = list(zip(*columns, strict=True)) if columns else [()] * len(ids)
        known.update(zip(ids, values, strict=True))
        return StatementResult(schema=table.schema, batches=iter(table.to_batches()))

    def read_partitions(
        self, name: str, partition_columns: list[str], partition_ids: list[int]
    ) -> StatementResult:
        """The rows of ``name`` whose ``hash`` of partition values is among ``partition_ids``.

        Selected by the partitions' values when a digest gave them (comparisons the scan
        can prune by, instead of hashing every row of the table), else by the hash."""
        parts = [quote_identifier(column) for column in partition_columns]
        table = quote_identifier(name)
        known = self.partition_values.get((name, tuple(partition_columns)), {})
        if parts and partition_ids and all(i in known for i in partition_ids):
            where, params = _values_filter(parts, [known[i] for i in partition_ids])
            try:
                return self._rows(self.con.execute(f"SELECT * FROM {table} WHERE {where}", params))
            except duckdb.Error:
                pass  # a value that does not bind back: the hash filter below is exact
        ids = ", ".join(str(int(i)) for i in partition_ids) or "NULL"
        query = f"SELECT * FROM {table} WHERE {_partition_id(parts)} IN ({ids})"
        return self._rows(self.con.execute(query))

    def explain(self, sql: str) -> PlanTree:
        """The physical plan of one statement (not run; checked by the sandbox guard like
        ``execute``) as an operator tree from ``EXPLAIN (FORMAT JSON)``."""
        statements = self.con.extract_statements(sql)
        if len(statements) != 1:
            raise ValueError(f"explain takes one statement, got {len(statements)}")
        statement = statements[0]
        if self.guard is not None:
            self.guard.check(statement.type.name, statement.query)
        rows = self.con.execute(f"EXPLAIN (FORMAT JSON) {statement.query}").fetchall()
        physical = next((row[1] for row in rows if row[0] == "physical_plan"), None)
        if physical is None:
            raise ValueError("EXPLAIN returned no physical plan")
        return plan_tree.from_nested(json.loads(physical), "name", "children")

    def list_tables(self) -> list[str]:
        """Tables and views of the workspace database's main schema (not the attached
        read-only database's)."""
        rows = self.con.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'main' AND table_catalog = current_database() "
            "ORDER BY table_name"
        ).fetchall()
        return [row[0] for row in rows]

    def close(self) -> None:
        """Close the connection (idempotent)."""
        if self.con is not None:
            self.con.close()
            self.con = None


def _values_filter(
    quoted_columns: list[str], partitions: list[tuple[Any, ...]]
) -> tuple[str, list]:
    """A WHERE clause (and its parameters) selecting the rows of the given partitions."""
    terms, params = [], []
    for values in partitions:
        conditions = []
        for column, value in zip(quoted_columns, values, strict=True):
            if value is None:
                conditions.append(f"{column} IS NULL")
            else:
                conditions.append(f"{column} = ?")
                params.append(value)
        terms.append(f"({' AND '.join(conditions)})")
    return " OR ".join(terms), params


def _partition_id(quoted_columns: list[str]) -> str:
    """The SQL of a partition's id: ``hash`` of its values (0 for an unpartitioned table)."""
    return f"hash({', '.join(quoted_columns)})" if quoted_columns else "0::UBIGINT"
