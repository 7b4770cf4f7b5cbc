"""Reading the full result files the runner keeps beside small float/decimal results.

The runner writes an Arrow IPC file (``Execution.result_path``); the IPC stream format is
read too, so a result saved either way can be compared. A *row-hash file* (the baseline's
unlimited result of a LIMIT query) holds only the canonical row hash of each row, one
uint64 column named :data:`ROW_HASH_COLUMN`: 8 bytes a row instead of the rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from simulator.errors import RunError

ROW_HASH_COLUMN = "__qsim_row_hash"


def row_hash_file(hashes: list[pa.Array], columns: list[int] | None = None) -> bytes:
    """Arrow IPC bytes of a row-hash file holding ``hashes`` (uint64 arrays, in order),
    each a hash over the result's ``columns`` (positions; None: every column)."""
    meta = {} if columns is None else {b"columns": ",".join(map(str, columns)).encode()}
    schema = pa.schema([pa.field(ROW_HASH_COLUMN, pa.uint64())], metadata=meta)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, schema) as writer:
        for chunk in hashes:
            writer.write_batch(pa.record_batch([chunk], schema=schema))
    return sink.getvalue().to_pybytes()


def is_row_hash_schema(schema: pa.Schema) -> bool:
    """Whether a result file of ``schema`` is a row-hash file."""
    return schema.names == [ROW_HASH_COLUMN] and pa.types.is_uint64(schema.field(0).type)


def hashed_columns(schema: pa.Schema) -> list[int] | None:
    """The column positions the hashes of a row-hash file cover (None: every column)."""
    text = (schema.metadata or {}).get(b"columns")
    if text is None:
        return None
    return [int(part) for part in text.decode().split(",") if part]


def _open(path: str | Path) -> pa.RecordBatchReader | pa.ipc.RecordBatchFileReader:
    source = pa.memory_map(str(path))
    try:
        return pa.ipc.open_file(source)
    except pa.ArrowInvalid:
        source.seek(0)
        return pa.ipc.open_stream(source)


def iter_result_batches(path: str | Path) -> Iterator[pa.RecordBatch]:
    """The record batches of a result file, one at a time (memory-mapped, not loaded whole).

    Raises RunError naming the file when it is missing or not Arrow IPC.
    """
    try:
        reader = _open(path)
        if isinstance(reader, pa.ipc.RecordBatchFileReader):
            for i in range(reader.num_record_batches):
                yield reader.get_batch(i)
        else:
            yield from reader
    except FileNotFoundError:
        raise RunError(f"{path}: result file is missing") from None
    except pa.ArrowInvalid as err:
        raise RunError(f"{path}: not an Arrow IPC result file ({err})") from None


def result_schema(path: str | Path) -> pa.Schema:
    """The schema of a result file. Raises RunError when it is missing or not Arrow IPC."""
    try:
        return _open(path).schema
    except FileNotFoundError:
        raise RunError(f"{path}: result file is missing") from None
    except pa.ArrowInvalid as err:
        raise RunError(f"{path}: not an Arrow IPC result file ({err})") from None


def read_result(path: str | Path) -> pa.Table:
    """A whole result file as a table (only for the small results the runner keeps)."""
    schema = result_schema(path)
    return pa.Table.from_batches(list(iter_result_batches(path)), schema=schema)
