"""Read a :class:`TableSpec`'s Parquet files as Arrow batches, hive partition columns included.

Adapters that copy a generation into their engine (SQLite, PostgreSQL, DataFusion's
writable tables) all need the same thing: every row of a table, in the table's declared
schema, with the partition values that live only in ``col=value`` folder names put back as
columns. This module runs inside engine runtimes: standard library and pyarrow only.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from pathlib import PurePath

import pyarrow as pa
import pyarrow.parquet as pq

from simulator.engines.contract import TableSpec

HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"


def partition_values(spec: TableSpec, file: str) -> dict[str, str | None]:
    """The raw (string) partition values encoded in ``file``'s folder names.

    Refuses (ValueError) a file whose path lacks one of the table's partition columns.
    """
    found: dict[str, str | None] = {}
    for part in PurePath(file).parent.parts:
        key, sep, value = part.partition("=")
        if sep and key in spec.partition_columns:
            value = urllib.parse.unquote(value)
            found[key] = None if value == HIVE_NULL else value
    missing = [col for col in spec.partition_columns if col not in found]
    if missing:
        raise ValueError(
            f"table {spec.name}: file {file} has no {missing[0]}=... folder in its path"
        )
    return found


def read_batches(spec: TableSpec, batch_rows: int = 65536) -> Iterator[pa.RecordBatch]:
    """Yield every row of ``spec`` as batches in exactly ``spec.schema`` (column order and
    types), partition columns filled from the folder names. Refuses (ValueError) a file
    whose columns cannot be cast to the declared schema."""
    data_fields = [f for f in spec.schema if f.name not in spec.partition_columns]
    for file in spec.files:
        partitions = partition_values(spec, file)
        parquet = pq.ParquetFile(file)
        names = [f.name for f in data_fields]
        for batch in parquet.iter_batches(batch_size=batch_rows, columns=names):
            columns = []
            for field in spec.schema:
                if field.name in spec.partition_columns:
                    raw = pa.array([partitions[field.name]] * batch.num_rows, pa.string())
                    columns.append(raw.cast(field.type))
                else:
                    columns.append(batch.column(field.name).cast(field.type))
            yield pa.RecordBatch.from_arrays(columns, schema=spec.schema)
