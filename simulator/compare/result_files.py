"""Reading the full result files the runner keeps beside small float/decimal results.

The runner writes an Arrow IPC file (``Execution.result_path``); the IPC stream format is
read too, so a result saved either way can be compared.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from simulator.errors import RunError


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
