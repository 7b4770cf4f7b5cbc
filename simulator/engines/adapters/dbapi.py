"""What the DB-API adapters (SQLite, PostgreSQL) share: the classic Arrow types they load a
generation's columns as, which statements return rows, and turning a cursor's row tuples
into a stream of Arrow record batches.

Each adapter decides the Arrow type of every result column (from declared types, type
OIDs or the first batch of values) and how one column of Python values becomes an Arrow
array; this module only does the batching. Imported inside engine runtimes: standard
library and pyarrow only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from simulator.engines.contract import StatementResult, TableSpec
from simulator.engines.table_files import read_batches

# Comments a client may put before the first keyword of a statement.
LEADING_COMMENTS = r"^\s*(?:--[^\n]*\n\s*|/\*.*?\*/\s*)*"
# Statements that return rows. ``TABLE name`` is PostgreSQL's (and the standard's) short
# ``SELECT * FROM name``; SQLite has no such statement and refuses it as a syntax error.
ROW_STATEMENT = re.compile(LEADING_COMMENTS + r"[(\s]*(select|with|values|table)\b", re.I | re.S)

Rows = list[tuple[Any, ...]]
Converter = Callable[[list[Any]], pa.Array]


def _field(field: pa.Field) -> pa.Field:
    return field.with_type(loadable_type(field.type))


# Arrow types a generation can hold (current Parquet writers produce them) -> the classic
# type with the same values that the adapters' type maps know. Canonical hashing treats
# each pair alike, so loading through them changes no checksum.
LOADABLE_FORMS: tuple[tuple[Callable[[Any], bool], Callable[[Any], pa.DataType]], ...] = (
    (pa.types.is_dictionary, lambda t: loadable_type(t.value_type)),
    (lambda t: isinstance(t, pa.BaseExtensionType), lambda t: loadable_type(t.storage_type)),
    (lambda t: pa.types.is_string_view(t) or pa.types.is_large_string(t), lambda t: pa.string()),
    (lambda t: pa.types.is_binary_view(t) or pa.types.is_large_binary(t), lambda t: pa.binary()),
    (
        lambda t: (
            pa.types.is_list(t)
            or pa.types.is_large_list(t)
            or pa.types.is_list_view(t)
            or pa.types.is_large_list_view(t)
        ),
        lambda t: pa.list_(_field(t.value_field)),
    ),
    (pa.types.is_fixed_size_list, lambda t: pa.list_(_field(t.value_field), t.list_size)),
    (
        pa.types.is_map,
        lambda t: pa.map_(_field(t.key_field), _field(t.item_field), t.keys_sorted),
    ),
    (pa.types.is_struct, lambda t: pa.struct([_field(t.field(i)) for i in range(t.num_fields)])),
)


def loadable_type(t: pa.DataType) -> pa.DataType:
    """The classic Arrow type a column of type ``t`` is loaded as (see ``LOADABLE_FORMS``):
    string/binary views and large forms become string/binary, list views and large lists
    become lists, dictionaries their value type, extension types (uuid) their storage, at
    any depth. Any other type is returned unchanged."""
    for is_form, classic in LOADABLE_FORMS:
        if is_form(t):
            return classic(t)
    return t


def loadable_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` with every column in its :func:`loadable_type`."""
    return pa.schema([_field(field) for field in schema])


def loadable_batches(spec: TableSpec, batch_rows: int) -> Iterator[pa.RecordBatch]:
    """Every row of ``spec`` (as :func:`read_batches` yields them) cast to
    :func:`loadable_schema` of its schema."""
    schema = loadable_schema(spec.schema)
    for batch in read_batches(spec, batch_rows):
        if batch.schema == schema:
            yield batch
            continue
        columns = [
            _loadable(column, f.type) for column, f in zip(batch.columns, schema, strict=True)
        ]
        yield pa.RecordBatch.from_arrays(columns, schema=schema)


def _loadable(column: pa.Array, t: pa.DataType) -> pa.Array:
    """``column`` cast to ``t``; list views are rebuilt by hand, since pyarrow's cast from a
    list view to a list makes an invalid array (offsets one short)."""
    if pa.types.is_list_view(column.type) or pa.types.is_large_list_view(column.type):
        lengths = pc.fill_null(pc.list_value_length(column), 0)
        ends = pc.cumulative_sum(lengths).cast(pa.int32())
        offsets = pa.concat_arrays([pa.array([0], pa.int32()), ends])
        values = _loadable(pc.list_flatten(column), t.value_type)
        return pa.ListArray.from_arrays(offsets, values, type=t, mask=column.is_null())
    return column if column.type == t else column.cast(t)


def nested_array(values: list[Any], t: pa.DataType) -> pa.Array:
    """An Arrow array of nested type ``t`` from JSON text or already decoded JSON values, as
    the adapters store nested columns (a map as a list of ``[key, value]`` pairs)."""
    return pa.array([_from_json(json.loads(v) if isinstance(v, str) else v, t) for v in values], t)


def _from_json(value: Any, t: pa.DataType) -> Any:
    if value is None:
        return None
    if pa.types.is_map(t):
        return [(_from_json(k, t.key_type), _from_json(v, t.item_type)) for k, v in value]
    if pa.types.is_struct(t):
        return {f.name: _from_json(value.get(f.name), f.type) for f in t}
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return [_from_json(item, t.value_type) for item in value]
    return value


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
