"""PostgreSQL adapter: a real server reached with psycopg (3.x) over the DSN in ``settings``.

The DSN comes from the engine declaration (``dsn``) or from the throwaway cluster qsim
starts (:mod:`simulator.engines.postgres_server`). The adapter loads the tables into its own
schema (``settings["schema"]``, default ``qsim_`` + a hash of the workspace path) and sets
``search_path`` to it, so replayed SQL names tables unqualified. A worker restarted over the
same workspace finds its tables (and earlier writes) there and does not reload them. The
schema is left in place at ``close`` (a throwaway cluster goes away whole; on a server
given by DSN, drop the ``qsim_*`` schemas when the run's results are in).

Each table is loaded with ``COPY ... FROM STDIN`` and then ``ANALYZE``d, as a deployment
loads data, so the planner has statistics. Columns are loaded as their classic form
(``dbapi.loadable_type``: views, large forms, dictionaries, extension storage).

Type mapping, Arrow -> PostgreSQL -> Arrow:

================  ======================  ============================================
Arrow             PostgreSQL              read back as
================  ======================  ============================================
int8 / int16      smallint                int16 (the loaded table: its declared type)
int32 / int64     integer / bigint        int32 / int64
uint8/16/32/64    smallint/int/bigint/    the declared type for loaded columns
                  numeric(20,0)
float16/32/64     real / double           float32 / float64
bool              boolean                 bool
string            text                    string
binary            bytea                   binary
decimal128(p,s)   numeric(p,s)            decimal128(p,s); numeric without a type
                                          modifier (sum, avg): decimal128(38, s) with s
                                          the largest scale in the first batch
date32/64         date                    date32
timestamp[tz]     timestamptz             timestamp[us, tz=UTC] (session TimeZone UTC)
timestamp         timestamp               timestamp[us] (nanoseconds are truncated)
time              time                    time64[us]
duration          interval                duration[us]
list<T>           T[]                     list<T>
struct / map      jsonb                   string (JSON text)
json / jsonb      -                       string; uuid and unknown types: string
================  ======================  ============================================

Result columns that are plain references to a loaded table's column (found through the
protocol's table OID/column number) read back in exactly the declared Arrow type.

Sandbox: the role must not be superuser nor a member of ``pg_read_server_files``,
``pg_write_server_files`` or ``pg_execute_server_program``; ``open`` refuses it otherwise.
Server-file functions (``pg_read_file``, ``pg_read_binary_file``, ``lo_import``,
``COPY ... FROM/TO 'file'``, ``COPY ... PROGRAM``) then fail with the server's own
permission errors. Rows stream through a server-side cursor in batches of ``batch_rows``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from decimal import Context, Decimal
from typing import Any

import psycopg
import pyarrow as pa
from psycopg import sql as pgsql

from simulator.engines import plan_tree
from simulator.engines.adapters.dbapi import (
    ROW_STATEMENT,
    arrow_result,
    columns_of,
    loadable_batches,
    loadable_schema,
    nested_array,
)
from simulator.engines.contract import EngineAdapter, StatementResult, TableSpec
from simulator.engines.plan_tree import PlanTree
from simulator.engines.postgres_server import redact_dsn
from simulator.engines.sql_names import check_table
from simulator.errors import EngineError

FILE_ROLES = ("pg_read_server_files", "pg_write_server_files", "pg_execute_server_program")
COPY_REFUSED = "COPY FROM STDIN / TO STDOUT is not supported in a replay (no client stream)"
# PostgreSQL type OIDs -> Arrow (arrays map to lists of the element's type).
OID_TYPES: dict[int, pa.DataType] = {
    16: pa.bool_(),
    20: pa.int64(),
    21: pa.int16(),
    23: pa.int32(),
    26: pa.int64(),
    700: pa.float32(),
    701: pa.float64(),
    25: pa.string(),
    1043: pa.string(),
    1042: pa.string(),
    19: pa.string(),
    18: pa.string(),
    17: pa.binary(),
    1082: pa.date32(),
    1114: pa.timestamp("us"),
    1184: pa.timestamp("us", "UTC"),
    1083: pa.time64("us"),
    1186: pa.duration("us"),
}
ARRAY_OIDS: dict[int, int] = {
    1000: 16,
    1016: 20,
    1005: 21,
    1007: 23,
    1021: 700,
    1022: 701,
    1009: 25,
    1015: 1043,
    1001: 17,
    1182: 1082,
    1115: 1114,
    1185: 1184,
    1231: 1700,
}
NUMERIC_OID = 1700
# 38-digit decimals exceed the default context's 28 digits of precision.
WIDE_DECIMALS = Context(prec=80)


# PostgreSQL column types qsim loads Arrow types into (see the module's table): plain types...
PG_TYPES: dict[pa.DataType, str] = {
    pa.bool_(): "boolean",
    **{pa.int8(): "smallint", pa.int16(): "smallint", pa.int32(): "integer", pa.int64(): "bigint"},
    pa.uint8(): "smallint",
    pa.uint16(): "integer",
    pa.uint32(): "bigint",
    pa.uint64(): "numeric(20,0)",
    **{pa.float16(): "real", pa.float32(): "real", pa.float64(): "double precision"},
    **{pa.string(): "text", pa.large_string(): "text"},
    **{pa.binary(): "bytea", pa.large_binary(): "bytea"},
    **{pa.date32(): "date", pa.date64(): "date"},
}
# ... and parametrized families, the type built from the Arrow type's parameters.
PG_FAMILIES: tuple[tuple[Callable[[Any], bool], Callable[[Any], str]], ...] = (
    (pa.types.is_fixed_size_binary, lambda t: "bytea"),
    (pa.types.is_decimal, lambda t: f"numeric({t.precision},{t.scale})"),
    (pa.types.is_timestamp, lambda t: "timestamptz" if t.tz else "timestamp"),
    (pa.types.is_time, lambda t: "time"),
    (pa.types.is_duration, lambda t: "interval"),
    (
        lambda t: pa.types.is_list(t) or pa.types.is_large_list(t),
        lambda t: "jsonb" if pa.types.is_nested(t.value_type) else pg_type(t.value_type) + "[]",
    ),
    (pa.types.is_nested, lambda t: "jsonb"),
)


def pg_type(t: pa.DataType) -> str:
    """The PostgreSQL column type qsim loads Arrow type ``t`` into (see module table)."""
    if pa.types.is_dictionary(t):
        return pg_type(t.value_type)
    if t in PG_TYPES:
        return PG_TYPES[t]
    for is_family, name in PG_FAMILIES:
        if is_family(t):
            return name(t)
    raise ValueError(f"postgres adapter: Arrow type {t} has no PostgreSQL mapping")


def _copy_values(column: pa.Array | pa.ChunkedArray, declared: str) -> list[Any]:
    """Python values psycopg's COPY dumps for one Arrow column."""
    t = column.type
    if pa.types.is_dictionary(t):
        return _copy_values(column.cast(t.value_type), declared)
    values = column.to_pylist()
    if declared == "jsonb":
        return [None if v is None else psycopg.types.json.Jsonb(v) for v in values]
    if pa.types.is_float16(t):
        return [None if v is None else float(v) for v in values]
    return values


def _decimal_scale(values: list[Any]) -> int:
    scales = [-v.as_tuple().exponent for v in values if isinstance(v, Decimal) and v.is_finite()]
    return min(max([0, *scales]), 37)


def _arrow_type(
    oid: int, precision: int | None, scale: int | None, first: list[Any]
) -> pa.DataType:
    """The Arrow type of a result column of type ``oid`` (``first``: its first batch)."""
    if oid == NUMERIC_OID:
        if precision is not None and scale is not None:
            if precision <= 38:
                return pa.decimal128(precision, scale)
            return pa.decimal256(precision, scale)
        return pa.decimal128(38, _decimal_scale(first))
    if oid in ARRAY_OIDS:
        element = ARRAY_OIDS[oid]
        flat = [item for value in first if value for item in value]
        return pa.list_(_arrow_type(element, None, None, flat))
    return OID_TYPES.get(oid, pa.string())


def _converter(t: pa.DataType) -> Callable[[list[Any]], pa.Array]:
    """How one batch of psycopg values becomes an Arrow array of type ``t``."""
    if pa.types.is_decimal(t):
        step = Decimal(1).scaleb(-t.scale)

        def decimals(values: list[Any]) -> pa.Array:
            return pa.array(
                [
                    None if v is None else Decimal(v).quantize(step, context=WIDE_DECIMALS)
                    for v in values
                ],
                t,
            )

        return decimals
    if pa.types.is_string(t):

        def strings(values: list[Any]) -> pa.Array:
            return pa.array(
                [
                    None
                    if v is None
                    else v
                    if isinstance(v, str)
                    else json.dumps(v, ensure_ascii=False)
                    if isinstance(v, dict | list)
                    else str(v)
                    for v in values
                ],
                t,
            )

        return strings
    if pa.types.is_nested(t):
        return lambda values: nested_array(values, t)
    return lambda values: pa.array(values, t)


def _primary(err: psycopg.Error) -> psycopg.Error:
    """The same error class with only the server's one-line primary message (no LINE/HINT
    lines quoting qsim's own cursor declaration)."""
    primary = err.diag.message_primary if err.diag else None
    return type(err)(primary or " ".join(str(err).split()))


class CopyRefused(Exception):
    """Replayed SQL ran ``COPY`` through the client (STDIN/STDOUT), which a replay cannot
    feed or read; the adapter ended it and refuses the statement."""


class PostgresAdapter(EngineAdapter):
    """PostgreSQL through psycopg. Settings: ``dsn`` (required), ``schema``,
    ``batch_rows`` (default 10000); any other key is a session parameter set with
    ``set_config`` before sealing (e.g. ``statement_timeout``, ``work_mem``)."""

    def __init__(self) -> None:
        self._conn: psycopg.Connection[Any] | None = None
        self._schema = ""
        self._dsn = ""
        self._batch_rows = 10000
        self._declared: dict[tuple[int, int], pa.DataType] = {}
        self._cursor: psycopg.ServerCursor[Any] | None = None

    @property
    def conn(self) -> psycopg.Connection[Any]:
        if self._conn is None:
            raise RuntimeError("postgres adapter: not open")
        return self._conn

    def open(self, workspace: str, settings: dict[str, Any]) -> None:
        """Connect, refuse a privileged role, create the private schema.

        Raises EngineError (one line naming the DSN) when no DSN is set, the server is not
        reachable, or the role may read or write server files.
        """
        settings = dict(settings)
        self._dsn = str(settings.pop("dsn", "") or "")
        if not self._dsn:
            raise EngineError("engine postgres: no dsn in the engine's settings")
        default_schema = "qsim_" + hashlib.sha256(workspace.encode()).hexdigest()[:16]
        self._schema = str(settings.pop("schema", "") or default_schema)
        self._batch_rows = int(settings.pop("batch_rows", self._batch_rows))
        try:
            # application_name marks this workspace's sessions (see _end_earlier_sessions).
            self._conn = psycopg.connect(
                self._dsn, connect_timeout=10, autocommit=True, application_name=self._schema
            )
        except psycopg.Error as err:
            reason = " ".join(str(err).split())
            raise EngineError(
                f"engine postgres: cannot connect to {redact_dsn(self._dsn)!r}: {reason}"
            ) from None
        self._check_role()
        self._end_earlier_sessions()
        conn = self.conn
        conn.execute("SELECT set_config('TimeZone', 'UTC', false)")
        for key, value in settings.items():
            conn.execute("SELECT set_config(%s, %s, false)", (key, str(value)))
        schema = pgsql.Identifier(self._schema)
        conn.execute(pgsql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(schema))
        conn.execute("SELECT set_config('search_path', %s, false)", (self._schema,))

    def _end_earlier_sessions(self) -> None:
        """Terminate sessions of an earlier worker over this workspace. A worker killed on a
        timeout leaves its statement running on the server, holding its locks, until the
        server notices the closed connection; the replacement must not queue behind it. A
        role may terminate its own sessions; other workspaces use other names."""
        self.conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = %s AND usename = current_user "
            "AND pid <> pg_backend_pid()",
            (self._schema,),
        )

    def _check_role(self) -> None:
        row = self.conn.execute(
            "SELECT current_user, rolsuper, rolcreaterole, "
            + ", ".join(f"pg_has_role(current_user, '{role}', 'MEMBER')" for role in FILE_ROLES)
            + " FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        user, *flags = row
        powers = [
            name
            for name, held in zip(("superuser", "createrole", *FILE_ROLES), flags, strict=True)
            if held
        ]
        if powers:
            self.conn.close()
            self._conn = None
            raise EngineError(
                f"engine postgres: role {user!r} at {redact_dsn(self._dsn)!r} has "
                f"{', '.join(powers)}; "
                "qsim replays untrusted SQL only as an unprivileged role"
            )

    def load_tables(self, tables: list[TableSpec]) -> None:
        """Create each table in the private schema, COPY its rows in from Arrow and ANALYZE
        it, as a deployment does after a bulk load (the planner needs the statistics)."""
        conn = self.conn
        present = set(self.list_tables())
        for spec in tables:
            schema = loadable_schema(spec.schema)
            declared = [pg_type(field.type) for field in schema]
            name = pgsql.Identifier(self._schema, spec.name)
            # CREATE and COPY share one transaction: a worker killed mid-load leaves no table.
            with conn.transaction():
                if spec.name not in present:
                    self._copy_in(spec, name, declared)
                attributes = conn.execute(
                    "SELECT attrelid::int, attnum, attname FROM pg_attribute "
                    "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
                    (name.as_string(conn),),
                ).fetchall()
            if spec.name not in present:
                conn.execute(pgsql.SQL("ANALYZE {}").format(name))
            for relid, attnum, attname in attributes:
                if attname in schema.names:
                    self._declared[(relid, attnum)] = schema.field(attname).type

    def _copy_in(self, spec: TableSpec, name: pgsql.Identifier, declared: list[str]) -> None:
        conn = self.conn
        columns = pgsql.SQL(", ").join(
            pgsql.SQL("{} {}").format(pgsql.Identifier(field.name), pgsql.SQL(kind))
            for field, kind in zip(spec.schema, declared, strict=True)
        )
        conn.execute(pgsql.SQL("CREATE TABLE {} ({})").format(name, columns))
        with (
            conn.cursor() as cursor,
            cursor.copy(pgsql.SQL("COPY {} FROM STDIN").format(name)) as copy,
        ):
            for batch in loadable_batches(spec, self._batch_rows):
                columns_values = [
                    _copy_values(column, kind)
                    for column, kind in zip(batch.columns, declared, strict=True)
                ]
                for row in zip(*columns_values, strict=True):
                    copy.write_row(row)

    def seal(self) -> None:
        """Check again that the session's role is unprivileged (the sandbox is the role)."""
        self._check_role()

    def version(self) -> str:
        """The server's ``version()`` string, e.g. ``PostgreSQL 15.14 (Debian ...) on ...``."""
        return str(self.conn.execute("SELECT version()").fetchone()[0])

    def _finish_previous(self) -> None:
        if self._cursor is not None:
            cursor, self._cursor = self._cursor, None
            if not cursor.closed:
                cursor.close()
            self.conn.commit()
            self.conn.autocommit = True

    def _end_copy(self) -> None:
        """End a ``COPY ... FROM STDIN / TO STDOUT`` that replayed SQL started (the server
        then waits for, or sends, rows that a replay has no client for), so the session
        serves the tenant's next statement. COPY IN is aborted with an error message, COPY
        OUT cancelled and its rows dropped; either way nothing was written."""
        pgconn = self.conn.pgconn
        try:
            pgconn.put_copy_end(COPY_REFUSED.encode())
        except psycopg.OperationalError:  # libpq: "no COPY in progress", i.e. COPY OUT
            self.conn.cancel_safe()
            while pgconn.get_copy_data(0)[0] >= 0:
                pass
        while pgconn.flush():
            pass
        while pgconn.get_result() is not None:
            pass

    def execute(self, sql: str) -> StatementResult:
        """Run one statement as the server would from a client in autocommit mode (so
        VACUUM, ALTER SYSTEM and the like meet the server's own checks). Row statements
        stream through a server-side cursor inside a transaction of their own."""
        self._finish_previous()
        conn = self.conn
        if ROW_STATEMENT.match(sql):
            conn.autocommit = False
            cursor = conn.cursor(name="qsim_rows")
            try:
                cursor.execute(sql)
            except psycopg.Error as err:
                conn.rollback()
                conn.autocommit = True
                # DECLARE refuses data-modifying WITH clauses: run those as plain statements.
                if not isinstance(err, psycopg.errors.FeatureNotSupported):
                    raise _primary(err) from None
            else:
                self._cursor = cursor
                return self._rows(cursor, cursor.fetchmany)
        try:
            plain = conn.execute(sql)
        except psycopg.Error as err:
            if conn.info.transaction_status == psycopg.pq.TransactionStatus.ACTIVE:
                self._end_copy()
                raise CopyRefused(COPY_REFUSED) from None
            raise _primary(err) from None
        if plain.description is not None:
            # The rows are already in the client (INSERT ... RETURNING and the like).
            return self._rows(plain, plain.fetchmany)
        count = plain.rowcount
        return StatementResult(None, iter(()), rows_affected=count if count >= 0 else None)

    def _rows(self, cursor: Any, fetch: Callable[[int], list[tuple[Any, ...]]]) -> StatementResult:
        first = fetch(self._batch_rows)
        description = cursor.description or []
        result = cursor.pgresult
        columns = columns_of(first, len(description))
        fields = []
        for i, (column, values) in enumerate(zip(description, columns, strict=True)):
            source = (result.ftable(i), result.ftablecol(i)) if result is not None else (0, 0)
            declared = self._declared.get(source)
            arrow_type = declared or _arrow_type(
                column.type_code, column.precision, column.scale, list(values)
            )
            fields.append(pa.field(column.name, arrow_type))
        schema = pa.schema(fields)
        converters = [_converter(field.type) for field in schema]
        return arrow_result(
            schema, converters, first, fetch, self._batch_rows, on_end=self._finish_previous
        )

    def read_table(self, name: str) -> StatementResult:
        """Stream all rows of table ``name``; refuses (ValueError) an unknown table."""
        check_table("postgres", name, self.list_tables(), f" in schema {self._schema!r}")
        query = pgsql.SQL("SELECT * FROM {}").format(pgsql.Identifier(self._schema, name))
        return self.execute(query.as_string(self.conn))

    def table_row_count(self, name: str) -> int:
        """``count(*)`` of table ``name``."""
        check_table("postgres", name, self.list_tables(), f" in schema {self._schema!r}")
        query = pgsql.SQL("SELECT count(*) FROM {}").format(pgsql.Identifier(self._schema, name))
        return int(self.conn.execute(query).fetchone()[0])

    def explain(self, sql: str) -> PlanTree:
        """``EXPLAIN (FORMAT JSON)`` of ``sql`` (planned, never run: no ANALYZE, and inside
        a transaction that is rolled back) as a tree of ``Node Type``s."""
        self._finish_previous()
        conn = self.conn
        conn.autocommit = False
        try:
            row = conn.execute(f"EXPLAIN (FORMAT JSON) {sql}").fetchone()
        except psycopg.Error as err:
            raise _primary(err) from None
        finally:
            conn.rollback()
            conn.autocommit = True
        document = row[0] if row else None
        if isinstance(document, str):
            document = json.loads(document)
        if not document:
            raise ValueError("EXPLAIN returned no plan")
        return plan_tree.from_nested(document[0]["Plan"], "Node Type", "Plans")

    def list_tables(self) -> list[str]:
        """Tables and views of the private schema."""
        self._finish_previous()
        rows = self.conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
            "ORDER BY table_name",
            (self._schema,),
        ).fetchall()
        return [row[0] for row in rows]

    def close(self) -> None:
        """Disconnect (the schema stays, see the module docstring); safe to call twice."""
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()
