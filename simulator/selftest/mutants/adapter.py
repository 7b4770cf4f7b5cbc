"""A mutant engine: a real DuckDB whose answers are changed in one known way.

Used only to measure qsim's detection power (``qsim selftest --mutants``); never to compare
real releases. It runs inside a DuckDB runtime like any plugin adapter
(``adapter = "simulator.selftest.mutants.adapter:MutantDuckDB"``), so it imports only the
standard library, pyarrow and the DuckDB adapter.

The qsim settings ``mutation`` (one name of :data:`MUTATIONS`) and ``mutation_seed`` choose
the change; every other setting goes to DuckDB. Each mutated statement reports what it did
in its result notes (``{"mutation": name, "changed": bool}``): ``changed`` is the ground
truth the mutation suite scores against, true only when the answer a client sees (rows,
reported count, table contents, error, time) really differs from the engine's own.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import re
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from simulator.engines.adapters.duckdb import DuckDBAdapter
from simulator.engines.contract import StatementResult, TableSpec
from simulator.selftest.mutants.classes import MUTATIONS

PARTITION_NAMES = ("day", "dt", "ds", "date")
FLOAT_DRIFT = 1e-6
SLOWDOWN = 3.0
ERROR_SHARE = 4  # new_error fails one statement in this many (chosen by the SQL's hash)
INTERMITTENT_RATE = 0.3
_TARGET = re.compile(
    r"^\s*(?:INSERT\s+INTO|DELETE\s+FROM|CREATE\s+(?:OR\s+REPLACE\s+)?TABLE"
    r"(?:\s+IF\s+NOT\s+EXISTS)?)\s+(\"(?:[^\"]|\"\")+\"|[\w.]+)",
    re.IGNORECASE,
)


class MutantError(Exception):
    """The error the error mutants raise in place of the engine's answer."""


def _target(sql: str) -> str | None:
    match = _TARGET.match(sql)
    if not match:
        return None
    name = match.group(1).split(".")[-1]
    return name[1:-1].replace('""', '"') if name.startswith('"') else name


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _columns(table: pa.Table, test: Callable[[pa.DataType], bool]) -> list[int]:
    return [i for i, field in enumerate(table.schema) if test(field.type)]


def _replace(table: pa.Table, index: int, column: pa.Array | pa.ChunkedArray) -> pa.Table:
    return table.set_column(index, table.schema.field(index), column)


def _map_columns(
    table: pa.Table, test: Callable[[pa.DataType], bool], change: Callable[[Any], Any]
) -> pa.Table:
    for index in _columns(table, test):
        table = _replace(table, index, change(table.column(index)))
    return table


def _swap_columns(table: pa.Table) -> pa.Table:
    for i in range(table.num_columns):
        for j in range(i + 1, table.num_columns):
            left, right = table.column(i), table.column(j)
            if left.type == right.type and not left.equals(right):
                swapped = _replace(table, i, right)
                return _replace(swapped, j, left)
    return table


def _decimal_round(column: pa.ChunkedArray) -> pa.Array:
    scale = column.type.scale
    if scale <= 0:
        return column
    quantum = Decimal(1).scaleb(-max(scale - 2, 0))
    values = [None if v is None else v.quantize(quantum) for v in column.to_pylist()]
    return pa.array(values, type=column.type)


def _timestamp_shift(column: pa.ChunkedArray) -> pa.ChunkedArray:
    shift = pa.scalar(dt.timedelta(hours=1), pa.duration(column.type.unit))
    return pc.add(column, shift).cast(column.type)


def _int_off_by_one(table: pa.Table) -> pa.Table:
    for index in _columns(table, pa.types.is_integer):
        values = table.column(index).to_pylist()
        for row, value in enumerate(values):
            if value is not None:
                values[row] = value + 1 if value < 2**31 else value - 1
                return _replace(table, index, pa.array(values, type=table.schema.field(index).type))
    return table


def _drop_null_rows(table: pa.Table) -> pa.Table:
    keep = None
    for column in table.columns:
        valid = pc.is_valid(column)
        keep = valid if keep is None else pc.and_(keep, valid)
    return table if keep is None else table.filter(keep)


def _same(original: pa.Table, mutated: pa.Table) -> bool:
    """True when a client could not tell the two results apart (NaN equals NaN here, which
    ``Table.equals`` denies)."""
    if original.schema != mutated.schema or original.num_rows != mutated.num_rows:
        return False
    for before, after in zip(original.columns, mutated.columns, strict=True):
        if before is after or before.equals(after):
            continue
        if not pa.types.is_floating(before.type):
            return False
        equal = pc.fill_null(pc.equal(before, after), False)
        both_nan = pc.and_(pc.is_nan(before), pc.is_nan(after))
        both_null = pc.and_(pc.is_null(before), pc.is_null(after))
        if not pc.all(pc.or_(pc.or_(equal, pc.fill_null(both_nan, False)), both_null)).as_py():
            return False
    return True


def _is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


RESULT_MUTATIONS: dict[str, Callable[[pa.Table], pa.Table]] = {
    "swap_columns": _swap_columns,
    "duplicate_row": lambda t: pa.concat_tables([t, t.slice(0, 1)]) if t.num_rows else t,
    "drop_row": lambda t: t.slice(0, t.num_rows - 1) if t.num_rows else t,
    "null_to_empty": lambda t: _map_columns(t, _is_text, lambda c: pc.fill_null(c, "")),
    "float_drift": lambda t: _map_columns(
        t, pa.types.is_floating, lambda c: pc.multiply(c, pa.scalar(1 + FLOAT_DRIFT, c.type))
    ),
    "timestamp_shift": lambda t: _map_columns(t, pa.types.is_timestamp, _timestamp_shift),
    "decimal_round": lambda t: _map_columns(t, pa.types.is_decimal, _decimal_round),
    "case_fold": lambda t: _map_columns(t, _is_text, pc.utf8_upper),
    "shuffle_rows": lambda t: t.take(pa.array(range(t.num_rows - 1, -1, -1))),
    "int_off_by_one": _int_off_by_one,
    "drop_null_rows": _drop_null_rows,
}


class MutantDuckDB(DuckDBAdapter):
    """DuckDB with one mutation of :data:`MUTATIONS` applied to what it answers."""

    def __init__(self) -> None:
        super().__init__()
        self.mutation = ""
        self.random = random.Random(0)
        self.partitions: dict[str, tuple[str, ...]] = {}

    def open(self, workspace: str, settings: dict[str, Any]) -> None:
        """Open DuckDB with ``settings`` less the mutant's own keys; refuses (ValueError) an
        unknown mutation."""
        settings = dict(settings)
        self.mutation = str(settings.pop("mutation", ""))
        self.random = random.Random(int(settings.pop("mutation_seed", 0)))
        if self.mutation not in MUTATIONS:
            raise ValueError(f"setting mutation: expected one of {', '.join(MUTATIONS)}")
        super().open(workspace, settings)

    def load_tables(self, tables: list[TableSpec]) -> None:
        """Load as DuckDB does, remembering each table's partition columns."""
        self.partitions = {t.name.lower(): t.partition_columns for t in tables}
        super().load_tables(tables)

    def execute(self, sql: str) -> StatementResult:
        """Run ``sql`` on DuckDB and change the answer as the mutation says."""
        family = MUTATIONS[self.mutation]
        if family == "error":
            return self._error(sql)
        if family == "write":
            return self._write(sql)
        began = time.process_time()
        result = super().execute(sql)
        if family == "performance":
            return self._slow(sql, result, began)
        if result.schema is None:
            return result
        original = pa.Table.from_batches(list(result.batches), schema=result.schema)
        try:
            mutated = RESULT_MUTATIONS[self.mutation](original)
        except (pa.ArrowException, ArithmeticError):
            # A type the change cannot apply to (a union for take(), a decimal whose
            # rounding overflows): the answer stays the engine's own, and says so.
            mutated = original
        changed = not _same(original, mutated)
        return StatementResult(
            schema=mutated.schema,
            batches=iter(mutated.to_batches()),
            rows_affected=result.rows_affected,
            notes={**result.notes, "mutation": self.mutation, "changed": changed},
        )

    # -- errors -------------------------------------------------------------------------------
    def _error(self, sql: str) -> StatementResult:
        if self.mutation == "new_error":
            fail = int(hashlib.sha256(sql.encode()).hexdigest(), 16) % ERROR_SHARE == 0
        else:
            fail = self.random.random() < INTERMITTENT_RATE
        if fail:
            raise MutantError(f"{self.mutation}: injected by the mutant engine")
        result = super().execute(sql)
        result.notes.update(mutation=self.mutation, changed=False)
        return result

    # -- performance --------------------------------------------------------------------------
    def _slow(self, sql: str, result: StatementResult, began: float) -> StatementResult:
        if " join " not in " ".join(sql.lower().split()):
            result.notes.update(mutation=self.mutation, changed=False)
            return result
        rows = list(result.batches)
        spent = time.process_time() - began
        until = time.process_time() + spent * (SLOWDOWN - 1)
        while time.process_time() < until:  # burn CPU: slower engine code, not a sleep
            pass
        return StatementResult(
            schema=result.schema,
            batches=iter(rows),
            rows_affected=result.rows_affected,
            notes={**result.notes, "mutation": self.mutation, "changed": True},
        )

    # -- writes -------------------------------------------------------------------------------
    def _scalar(self, sql: str) -> Any:
        rows = self._run(sql)
        return rows[0][0] if rows else None

    def _partition_column(self, table: str) -> str | None:
        declared = self.partitions.get(table.lower())
        if declared:
            return declared[0]
        names = [row[0] for row in self._run(f"DESCRIBE {_quote(table)}")]
        return next((n for n in names if n.lower() in PARTITION_NAMES), None)

    def _write(self, sql: str) -> StatementResult:
        kind = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
        target = _target(sql)
        tables = {name.lower() for name in self.list_tables()}
        existing = target is not None and target.lower() in tables
        if target is None or kind not in ("INSERT", "CREATE", "DELETE"):
            return self._unchanged(super().execute(sql))
        if self.mutation == "delete_leaves_rows" and kind == "DELETE":
            return self._delete_leaving(sql, target)
        if kind == "DELETE" or self.mutation == "delete_leaves_rows":
            return self._unchanged(super().execute(sql))
        appends = existing and kind == "INSERT"
        mark = self._scalar(f"SELECT max(rowid) FROM {_quote(target)}") if appends else None
        result = super().execute(sql)
        new_rows = f"rowid > {int(mark)}" if mark is not None else "true"
        table = _quote(target)
        changed = False
        if self.mutation == "wrong_reported_count" and result.rows_affected is not None:
            result.rows_affected += 1
            changed = True
        elif self.mutation == "extra_row_written":
            copied = self._run(
                f"INSERT INTO {table} SELECT * FROM {table} WHERE {new_rows} "
                f"AND rowid = (SELECT max(rowid) FROM {table} WHERE {new_rows})"
            )
            changed = bool(copied and copied[0][0])
        elif self.mutation == "lost_partition":
            column = self._partition_column(target)
            if column is not None:
                quoted = _quote(column)
                lost = self._run(
                    f"DELETE FROM {table} WHERE {new_rows} AND {quoted} IS NOT DISTINCT FROM "
                    f"(SELECT min({quoted}) FROM {table} WHERE {new_rows})"
                )
                changed = bool(lost and lost[0][0])
        result.notes.update(mutation=self.mutation, changed=changed)
        return result

    def _delete_leaving(self, sql: str, target: str) -> StatementResult:
        table = _quote(target)
        self._run(f"CREATE OR REPLACE TEMP TABLE __qsim_before AS SELECT * FROM {table}")
        result = super().execute(sql)
        kept = self._run(
            f"INSERT INTO {table} SELECT * FROM "
            f"(SELECT * FROM __qsim_before EXCEPT ALL SELECT * FROM {table}) LIMIT 1"
        )
        self._run("DROP TABLE __qsim_before")
        result.notes.update(mutation=self.mutation, changed=bool(kept and kept[0][0]))
        return result

    def _unchanged(self, result: StatementResult) -> StatementResult:
        result.notes.update(mutation=self.mutation, changed=False)
        return result
