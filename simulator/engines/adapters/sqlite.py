"""SQLite adapter (stdlib ``sqlite3``): the generation copied into one database file in the
workspace, replayed SQL confined by an authorizer.

Type mapping (Arrow -> SQLite storage -> Arrow). SQLite has five storage classes and a
per-column declared type; qsim declares a type name per Arrow type and remembers which
Arrow type each declared name stands for, so a table (and any query column that is a plain
column reference) reads back in its original Arrow type:

==================  =====================  ==============================================
Arrow               declared (affinity)    stored as
==================  =====================  ==============================================
int8..int64/uint*   INT8..INT64 (INTEGER)  INTEGER
float16/32/64       FLOAT16/FLOAT/DOUBLE   REAL (NaN becomes NULL: SQLite has no NaN)
bool                BOOLEAN (NUMERIC)      INTEGER 0/1
string              TEXT                   TEXT
binary              BLOB                   BLOB
decimal128(p,s)     DECIMAL_BLOB(p,s)      REAL when the value has <= 15 significant
                    (none)                 digits (exact after rounding to scale s, and
                                           compares as a number), else TEXT (exact)
date32/date64       DATE (NUMERIC)         TEXT ``YYYY-MM-DD``
timestamp[tz]       TIMESTAMP_US_UTC ...   TEXT ``YYYY-MM-DD HH:MM:SS.ffffff+00:00``, UTC,
                                           fixed width so text order is time order
timestamp (naive)   TIMESTAMP_US ...       TEXT ``YYYY-MM-DD HH:MM:SS.ffffff``
time32/time64       TIME_US ...            TEXT ``HH:MM:SS.ffffff``
list/struct/map     JSON_TEXT (TEXT)       TEXT, JSON of the Python values
==================  =====================  ==============================================

Columns computed by a query (``count(*)``, ``a + 1``) or created by CTAS have no such
declared type: their Arrow type is inferred from the values of the first batch (INTEGER ->
int64, REAL or mixed numbers -> float64, TEXT -> string, BLOB -> binary, mixed text ->
string). A later batch that breaks that inference is an engine error naming the column.

Driver: the stdlib ``sqlite3`` (the SQLite the Python build links), or ``apsw`` when the
engine's requirements name it (``requirements = ["apsw==3.54.1.0"]`` pins SQLite 3.54.1:
apsw wheels bundle their own SQLite). Both run the same code below; apsw also reports
declared types of result columns itself.

Sandbox (applied by ``seal``): an authorizer denies ATTACH, DETACH (so also ``VACUUM
INTO``), virtual tables, every PRAGMA except schema introspection, and the functions
``load_extension``, ``readfile``, ``writefile``, ``edit``; ``SQLITE_LIMIT_ATTACHED`` is 0;
extension loading is switched off when the build has it. The file functions ``readfile``
and ``writefile`` belong to the sqlite3 command-line shell, not the library.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from datetime import time
from decimal import Context, Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from simulator.engines import plan_tree
from simulator.engines.adapters.dbapi import (
    LEADING_COMMENTS,
    ROW_STATEMENT,
    arrow_result,
    columns_of,
    loadable_batches,
    loadable_schema,
    nested_array,
)
from simulator.engines.contract import EngineAdapter, StatementResult, TableSpec
from simulator.engines.plan_tree import PlanTree
from simulator.engines.sql_names import check_table, quote_identifier

try:
    # apsw is in the runtime only when the engine's requirements name it (a pinned SQLite).
    import apsw
except ImportError:
    apsw = None

DATABASE_FILE = "sqlite.db"
PROBE_VIEW = "qsim_probe_columns"
# PRAGMAs that only describe the schema; every other PRAGMA can change files or settings.
READ_PRAGMAS = frozenset(
    {
        "table_info",
        "table_xinfo",
        "table_list",
        "index_list",
        "index_info",
        "index_xinfo",
        "foreign_key_list",
        "collation_list",
        "data_version",
    }
)
DENIED_FUNCTIONS = frozenset({"load_extension", "readfile", "writefile", "edit", "fts3_tokenizer"})
DENIED_ACTIONS = frozenset(
    {
        sqlite3.SQLITE_ATTACH,
        sqlite3.SQLITE_DETACH,
        sqlite3.SQLITE_CREATE_VTABLE,
        sqlite3.SQLITE_DROP_VTABLE,
    }
)
# Statements whose change count SQLite reports (as the stdlib's cursor.rowcount does).
DML_STATEMENT = re.compile(LEADING_COMMENTS + r"(insert|update|delete|replace)\b", re.I | re.S)
ENGINE_ERRORS: tuple[type[Exception], ...] = (sqlite3.Error,) + ((apsw.Error,) if apsw else ())
EXACT_REAL_DIGITS = 15
WIDE_DECIMALS = Context(prec=80)


# Declared type names, Arrow -> SQLite (see the module's mapping table): plain types...
DECLARED_NAMES: dict[pa.DataType, str] = {
    pa.bool_(): "BOOLEAN",
    **{pa.int8(): "INT8", pa.int16(): "INT16", pa.int32(): "INT32", pa.int64(): "INT64"},
    **{pa.uint8(): "UINT8", pa.uint16(): "UINT16", pa.uint32(): "UINT32", pa.uint64(): "UINT64"},
    **{pa.float16(): "FLOAT16", pa.float32(): "FLOAT", pa.float64(): "DOUBLE"},
    **{pa.string(): "TEXT", pa.large_string(): "TEXT"},
    **{pa.binary(): "BLOB", pa.large_binary(): "BLOB"},
    **{pa.date32(): "DATE", pa.date64(): "DATE"},
}
# ... and parametrized families, the name built from the type's parameters.
DECLARED_FAMILIES: tuple[tuple[Callable[[Any], bool], Callable[[Any], str]], ...] = (
    (pa.types.is_fixed_size_binary, lambda t: "BLOB"),
    (pa.types.is_decimal, lambda t: f"DECIMAL_BLOB({t.precision},{t.scale})"),
    (pa.types.is_timestamp, lambda t: f"TIMESTAMP_{t.unit.upper()}" + ("_UTC" if t.tz else "")),
    (pa.types.is_time, lambda t: f"TIME_{t.unit.upper()}"),
    (pa.types.is_duration, lambda t: f"INT64_DURATION_{t.unit.upper()}"),
    (pa.types.is_nested, lambda t: "JSON_TEXT"),
)
# SQLite's affinity rules on a declared type name: the first word found decides.
AFFINITY_TYPES: tuple[tuple[tuple[str, ...], pa.DataType], ...] = (
    (("INT",), pa.int64()),
    (("CHAR", "CLOB", "TEXT"), pa.string()),
    (("REAL", "FLOA", "DOUB"), pa.float64()),
)


def _declared_name(arrow_type: pa.DataType) -> str:
    """The base declared type name qsim uses for ``arrow_type`` (affinity chosen on purpose)."""
    if pa.types.is_dictionary(arrow_type):
        return _declared_name(arrow_type.value_type)
    if arrow_type in DECLARED_NAMES:
        return DECLARED_NAMES[arrow_type]
    for is_family, name in DECLARED_FAMILIES:
        if is_family(arrow_type):
            return name(arrow_type)
    raise ValueError(f"sqlite adapter: Arrow type {arrow_type} has no SQLite mapping")


def _to_sqlite(column: pa.Array | pa.ChunkedArray) -> list[Any]:
    """Python values SQLite stores for one Arrow column (see the module's mapping table)."""
    t = column.type
    if pa.types.is_dictionary(t):
        return _to_sqlite(column.cast(t.value_type))
    if pa.types.is_timestamp(t):
        if t.tz:
            utc = column.cast(pa.timestamp(t.unit, "UTC"))
            return pc.strftime(utc, format="%Y-%m-%d %H:%M:%S+00:00").to_pylist()
        return pc.strftime(column, format="%Y-%m-%d %H:%M:%S").to_pylist()
    if pa.types.is_date(t) or pa.types.is_time(t):
        return column.cast(pa.string()).to_pylist()
    if pa.types.is_duration(t):
        return column.cast(pa.int64()).to_pylist()
    if pa.types.is_decimal(t):
        return [
            None
            if value is None
            else float(value)
            if len(value.as_tuple().digits) <= EXACT_REAL_DIGITS
            else str(value)
            for value in column.to_pylist()
        ]
    if pa.types.is_nested(t):
        return [
            None
            if value is None
            else json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))
            for value in column.to_pylist()
        ]
    if pa.types.is_float16(t):
        return column.cast(pa.float32()).to_pylist()
    return column.to_pylist()


def _decimal(value: Any, scale: int) -> Decimal | None:
    if value is None:
        return None
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    # 38-digit decimals exceed the default context's 28 digits of precision.
    return number.quantize(Decimal(1).scaleb(-scale), context=WIDE_DECIMALS)


def _from_sqlite(values: list[Any], t: pa.DataType) -> pa.Array:
    """The Arrow array of ``values`` read back from a column declared for Arrow type ``t``."""
    if pa.types.is_dictionary(t):
        return _from_sqlite(values, t.value_type).cast(t)
    if pa.types.is_boolean(t):
        return pa.array([None if v is None else bool(v) for v in values], t)
    if pa.types.is_decimal(t):
        return pa.array([_decimal(v, t.scale) for v in values], t)
    if pa.types.is_timestamp(t):
        if t.tz:
            return pa.array(values, pa.string()).cast(pa.timestamp(t.unit, "UTC")).cast(t)
        return pa.array(values, pa.string()).cast(t)
    if pa.types.is_date(t):
        return pa.array(values, pa.string()).cast(pa.date32()).cast(t)
    if pa.types.is_time(t):
        return pa.array([None if v is None else time.fromisoformat(v) for v in values], t)
    if pa.types.is_nested(t):
        return nested_array(values, t)
    if pa.types.is_float16(t):
        return pa.array(values, pa.float32()).cast(t)
    return pa.array(values, t)


def _affinity_type(declared: str) -> pa.DataType:
    """Arrow type for an all-NULL column, from SQLite's affinity rules on its declared type."""
    upper = declared.upper()
    for words, arrow_type in AFFINITY_TYPES:
        if any(word in upper for word in words):
            return arrow_type
    return pa.null()


def _infer_type(values: list[Any], declared: str) -> pa.DataType:
    """Arrow type of an undeclared result column from its first batch of values."""
    kinds = {type(v) for v in values if v is not None}
    if not kinds:
        return _affinity_type(declared)
    if kinds == {int}:
        return pa.int64()
    if kinds <= {int, float}:
        return pa.float64()
    if kinds == {bytes}:
        return pa.binary()
    return pa.string()


def _inferred_array(values: list[Any], t: pa.DataType, column: str) -> pa.Array:
    if pa.types.is_string(t):
        return pa.array([None if v is None else _text(v) for v in values], t)
    try:
        return pa.array(values, t)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as err:
        raise ValueError(
            f"column {column!r} changed storage class within one result "
            f"(its type {t} was inferred from the first batch)"
        ) from err


def _text(value: Any) -> str:
    return value.hex() if isinstance(value, bytes) else str(value)


class _ApswCursor:
    """The part of ``sqlite3.Cursor`` the adapter uses, over an apsw cursor, plus
    ``decltypes``: apsw reports each result column's declared type itself."""

    def __init__(self, conn: Any, sql: str, rows: Iterable[Any] | None = None) -> None:
        self._cursor = conn.cursor()
        described: list[tuple[tuple[str, str | None], ...]] = []

        def trace(cursor: Any, statement: str, bindings: Any) -> bool:
            # Prepared but not yet stepped: the only moment a result without rows still
            # has a description.
            described[:] = [cursor.get_description()]
            return True

        self._cursor.exec_trace = trace
        if rows is None:
            self._cursor.execute(sql)
        else:
            self._cursor.executemany(sql, rows)
        columns = described[0] if described else ()
        self.description = tuple((name, None) for name, _ in columns) or None
        self.decltypes = [decl or "" for _, decl in columns]
        self.rowcount = conn.changes() if DML_STATEMENT.match(sql) else -1

    def fetchmany(self, size: int) -> list[tuple[Any, ...]]:
        return list(itertools.islice(self._cursor, size))

    def fetchone(self) -> tuple[Any, ...] | None:
        return next(self._cursor, None)

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self._cursor)


class _ApswConnection:
    """The part of ``sqlite3.Connection`` the adapter uses, over ``apsw.Connection``."""

    def __init__(self, path: Path) -> None:
        self._conn = apsw.Connection(str(path))

    def execute(self, sql: str) -> _ApswCursor:
        return _ApswCursor(self._conn, sql)

    def executemany(self, sql: str, rows: Iterable[Any]) -> _ApswCursor:
        return _ApswCursor(self._conn, sql, rows)

    def setlimit(self, category: int, limit: int) -> None:
        self._conn.limit(category, limit)

    def set_authorizer(self, authorizer: Any) -> None:
        self._conn.authorizer = authorizer

    def enable_load_extension(self, enabled: bool) -> None:
        self._conn.enable_load_extension(enabled)

    def close(self) -> None:
        self._conn.close()


class SQLiteAdapter(EngineAdapter):
    """SQLite over one database file ``<workspace>/sqlite.db``.

    Settings: ``batch_rows`` (rows per result batch, default 65536); every other key is
    applied as ``PRAGMA key = value`` before the sandbox is sealed (e.g. ``cache_size``).
    """

    def __init__(self) -> None:
        self._conn: sqlite3.Connection | _ApswConnection | None = None
        self._declared: dict[str, pa.DataType] = {}
        self._batch_rows = 65536

    def open(self, workspace: str, settings: dict[str, Any]) -> None:
        """Open (or create) the database file in ``workspace``; refuses a setting that is
        not a plain pragma. A file left by an earlier worker over the same workspace is kept,
        so writes survive a worker restart."""
        path = Path(workspace) / DATABASE_FILE
        # Autocommit: every replayed statement is its own transaction, as in the other engines.
        if apsw is not None:
            self._conn = _ApswConnection(path)
        else:
            self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        for key, value in settings.items():
            if key == "batch_rows":
                self._batch_rows = int(value)
                continue
            if not re.fullmatch(r"[a-z_]+", key) or not re.fullmatch(r"[\w.-]+", str(value)):
                raise ValueError(f"sqlite adapter: setting {key}={value!r} is not a pragma")
            self._conn.execute(f"PRAGMA {key} = {value}")

    @property
    def conn(self) -> sqlite3.Connection | _ApswConnection:
        if self._conn is None:
            raise RuntimeError("sqlite adapter: not open")
        return self._conn

    def _declare(self, arrow_type: pa.DataType) -> str:
        base = _declared_name(arrow_type)
        name, n = base, 0
        while name in self._declared and self._declared[name] != arrow_type:
            n += 1
            name = f"{base}_{n}" if "(" not in base else base.replace("(", f"_{n}(", 1)
        self._declared[name] = arrow_type
        return name

    def load_tables(self, tables: list[TableSpec]) -> None:
        """Copy every table's rows into the database file (writable or not: SQLite cannot
        read Parquet, so the generation's files are only ever read here). A table already in
        the file (loaded by an earlier worker, then maybe written) is kept as it is."""
        conn = self.conn
        present = set(self.list_tables())
        for spec in tables:
            columns = ", ".join(
                f"{quote_identifier(f.name)} {self._declare(f.type)}"
                for f in loadable_schema(spec.schema)
            )
            if spec.name in present:
                continue
            marks = ", ".join("?" for _ in spec.schema)
            insert = f"INSERT INTO {quote_identifier(spec.name)} VALUES ({marks})"
            # One transaction per table: a worker killed mid-load leaves no half table.
            conn.execute("BEGIN")
            conn.execute(f"CREATE TABLE {quote_identifier(spec.name)} ({columns})")
            for batch in loadable_batches(spec, self._batch_rows):
                conn.executemany(insert, zip(*(_to_sqlite(c) for c in batch.columns), strict=True))
            conn.execute("COMMIT")

    def seal(self) -> None:
        """Install the authorizer and limits described in the module docstring."""
        conn = self.conn
        if hasattr(conn, "enable_load_extension"):
            conn.enable_load_extension(False)
        conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        conn.set_authorizer(self._authorize)

    def _authorize(
        self, action: int, arg1: str | None, arg2: str | None, db: str | None, source: str | None
    ) -> int:
        if action in DENIED_ACTIONS:
            return sqlite3.SQLITE_DENY
        if action == sqlite3.SQLITE_PRAGMA:
            allowed = (arg1 or "").lower() in READ_PRAGMAS
            return sqlite3.SQLITE_OK if allowed else sqlite3.SQLITE_DENY
        if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in DENIED_FUNCTIONS:
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK

    def version(self) -> str:
        """``sqlite_version()`` as the library reports it, e.g. ``3.40.1``."""
        return str(self.conn.execute("SELECT sqlite_version()").fetchone()[0])

    def _declared_types(self, sql: str) -> list[str]:
        """Declared type of each result column of a row-returning ``sql`` ('' where the
        column is computed), found through a temporary view; [] when that fails."""
        if not ROW_STATEMENT.match(sql):
            return []
        conn = self.conn
        try:
            conn.execute(f"CREATE TEMP VIEW {PROBE_VIEW} AS {sql}")
        except ENGINE_ERRORS:
            return []
        try:
            return [row[2] for row in conn.execute(f"PRAGMA temp.table_info({PROBE_VIEW})")]
        finally:
            conn.execute(f"DROP VIEW temp.{PROBE_VIEW}")

    def execute(self, sql: str) -> StatementResult:
        """Run one statement; rows stream in batches of ``batch_rows``."""
        probed = [] if apsw is not None else self._declared_types(sql)
        cursor = self.conn.execute(sql)
        declared = cursor.decltypes if isinstance(cursor, _ApswCursor) else probed
        if cursor.description is None:
            count = cursor.rowcount
            return StatementResult(None, iter(()), rows_affected=count if count >= 0 else None)
        names = [d[0] for d in cursor.description]
        if len(declared) != len(names):
            declared = [""] * len(names)
        first = cursor.fetchmany(self._batch_rows)
        fields = []
        converters = []
        for name, decl, values in zip(names, declared, columns_of(first, len(names)), strict=True):
            arrow_type = self._declared.get(decl)
            if arrow_type is not None:
                field = pa.field(name, arrow_type)
                converters.append(functools.partial(_from_sqlite, t=field.type))
            else:
                field = pa.field(name, _infer_type(list(values), decl))
                converters.append(functools.partial(_inferred_array, t=field.type, column=name))
            fields.append(field)
        return arrow_result(
            pa.schema(fields), converters, first, cursor.fetchmany, self._batch_rows
        )

    def read_table(self, name: str) -> StatementResult:
        """Stream all rows of table ``name``; refuses (ValueError) an unknown table."""
        check_table("sqlite", name, self.list_tables())
        return self.execute(f"SELECT * FROM {quote_identifier(name)}")

    def table_row_count(self, name: str) -> int:
        """``count(*)`` of table ``name``."""
        check_table("sqlite", name, self.list_tables())
        query = f"SELECT count(*) FROM {quote_identifier(name)}"
        return int(self.conn.execute(query).fetchone()[0])

    def explain(self, sql: str) -> PlanTree:
        """``EXPLAIN QUERY PLAN`` of ``sql`` (compiled under the authorizer, not run) as an
        operator tree of each step's leading words (``SCAN``, ``SEARCH``, ``USE TEMP
        B-TREE FOR ORDER BY``)."""
        rows = self.conn.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall()
        return plan_tree.from_parent_rows((int(r[0]), int(r[1]), str(r[-1])) for r in rows)

    def list_tables(self) -> list[str]:
        """Tables and views of the main database, SQLite's own tables excluded."""
        rows = self.conn.execute(
            "SELECT name FROM sqlite_schema WHERE type IN ('table', 'view') "
            "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
        )
        return [row[0] for row in rows]

    def close(self) -> None:
        """Close the connection (the database file stays in the workspace)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
