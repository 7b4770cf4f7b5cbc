"""What the DB-API adapters (SQLite, PostgreSQL) share: which statements return rows, and
turning a cursor's row tuples into a stream of Arrow record batches.

Each adapter decides the Arrow type of every result column (from declared types, type
OIDs or the first batch of values) and how one column of Python values becomes an Arrow
array; this module only does the batching. Imported inside engine runtimes: standard
library and pyarrow only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pyarrow as pa

from simulator.engines.contract import StatementResult

# Comments a client may put before the first keyword of a statement.
LEADING_COMMENTS = r"^\s*(?:--[^\n]*\n\s*|/\*.*?\*/\s*)*"
# Statements that return rows. ``TABLE name`` is PostgreSQL's (and the standard's) short
# ``SELECT * FROM name``; SQLite has no such statement and refuses it as a syntax error.
ROW_STATEMENT = re.compile(LEADING_COMMENTS + r"[(\s]*(select|with|values|table)\b", re.I | re.S)

Rows = list[tuple[Any, ...]]
Converter = Callable[[list[Any]], pa.Array]


def columns_of(rows: Sequence[tuple[Any, ...]], width: int) -> list[tuple[Any, ...]]:
    """``rows`` turned into ``width`` columns (``width`` empty columns when no rows)."""
    return list(zip(*rows, strict=True)) if rows else [()] * width


def arrow_result(
    schema: pa.Schema,
    converters: Sequence[Converter],
    first: Rows,
    fetch: Callable[[int], Rows],
    batch_rows: int,
    on_end: Callable[[], None] | None = None,
) -> StatementResult:
    """A result streaming ``first`` then ``fetch(batch_rows)`` until it returns no rows, one
    record batch per fetch; ``converters[i]`` makes column ``i``'s array. ``on_end`` runs
    when the stream ends, is closed or fails."""

    def batch(rows: Rows) -> pa.RecordBatch:
        columns = columns_of(rows, len(schema))
        arrays = [
            convert(list(values)) for convert, values in zip(converters, columns, strict=True)
        ]
        return pa.RecordBatch.from_arrays(arrays, schema=schema)

    def batches() -> Iterator[pa.RecordBatch]:
        rows = first
        try:
            while rows:
                yield batch(rows)
                rows = fetch(batch_rows)
        finally:
            if on_end is not None:
                on_end()

    return StatementResult(schema, batches())
