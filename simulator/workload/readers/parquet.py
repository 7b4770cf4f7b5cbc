"""Parquet logs: any schema; the ingest mapping names the columns to use."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from simulator.errors import WorkloadError
from simulator.workload.readers import Record

_BATCH_ROWS = 10_000


def read_parquet(path: Path, required: list[str]) -> Iterator[Record]:
    """Yield one Record per row (``line`` = 1-based row number), reading row batches so
    memory stays flat. Raises WorkloadError if the file is not Parquet or lacks a
    ``required`` column."""
    try:
        parquet = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as err:
        raise WorkloadError(f"{path}: not a readable Parquet file ({err})") from None
    names = parquet.schema_arrow.names
    missing = [name for name in required if name not in names]
    if missing:
        raise WorkloadError(
            f"{path}: Parquet log has no column {missing[0]!r} (columns: {', '.join(names)})"
        )
    row = 0
    for batch in parquet.iter_batches(batch_size=_BATCH_ROWS):
        for fields in batch.to_pylist():
            row += 1
            yield Record(row, "", fields=fields)
