"""How a table lives on disk inside a generation, and how it is read back.

A table is ``tables/<tenant>/<table>/[col=value/...]part-0.parquet``: one file per
partition, hive-style folders for partition columns, partition columns absent from the
files and appended (as strings) at the end of the table's schema. Files are written with
fixed writer options and no varying metadata, so the same rows give the same bytes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import xxhash

from simulator.canonical import checksum_table, partition_checksums
from simulator.datasets.manifest import describe_columns, encode_schema
from simulator.errors import DatasetError

PART_FILE = "part-0.parquet"
ROW_GROUP_ROWS = 256 * 1024
HASH_CHUNK_BYTES = 4 * 1024 * 1024
# Fixed so that equal rows give equal bytes across runs; store_schema keeps time zones
# and decimal types exact when the file is read back.
WRITER_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 1,
    "version": "2.6",
    "data_page_version": "1.0",
    "use_dictionary": True,
    "write_statistics": True,
    "store_schema": True,
    "row_group_size": ROW_GROUP_ROWS,
}

OpenOutput = Callable[[Path], BinaryIO]


def open_output(path: Path) -> BinaryIO:
    """Open ``path`` for writing a generation file (the default of the store's seam)."""
    return open(path, "wb")


def write_bytes(output: OpenOutput, path: Path, payload: bytes | memoryview) -> None:
    """Write ``payload`` to ``path`` through ``output`` and fsync it, so a committed
    generation survives a crash; an OSError always names the path (a failed write or
    flush, such as a full disk, does not by itself)."""
    try:
        with output(path) as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as err:
        if err.filename is None:
            raise OSError(err.errno, err.strerror or str(err), str(path)) from err
        raise


def file_hash(path: Path) -> tuple[str, int]:
    """Return (xxh3_128 hex, byte count) of the file at ``path``, read in chunks."""
    with open(path, "rb") as handle:
        return stream_hash(handle)


def stream_hash(handle: BinaryIO) -> tuple[str, int]:
    """Return (xxh3_128 hex, byte count) of what is left to read from ``handle``."""
    hasher = xxhash.xxh3_128()
    size = 0
    while chunk := handle.read(HASH_CHUNK_BYTES):
        hasher.update(chunk)
        size += len(chunk)
    return hasher.hexdigest(), size


def file_stamp(path: Path) -> list[int]:
    """The file's stamp: [inode, size, mtime_ns, ctime_ns]. Any change to the file through
    the file system moves its ctime (which no user process can set back), and a file
    replaced by a rename has another inode, so an equal stamp means unchanged content."""
    info = os.stat(path)
    return [info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns]


def partition_key(columns: list[str], values: list[str]) -> str:
    """The canonical partition key ``col=value/col2=value2`` (``""`` when unpartitioned)."""
    return "/".join(f"{c}={v}" for c, v in zip(columns, values, strict=True))


def parse_partition_key(key: str) -> list[tuple[str, str]]:
    """Split ``col=value/col2=value2`` into (column, value) pairs."""
    pairs = []
    for part in key.split("/") if key else []:
        column, _, value = part.partition("=")
        pairs.append((column, value))
    return pairs


def _split_partitions(
    table: pa.Table, partition_columns: list[str]
) -> Iterator[tuple[list[str], pa.Table]]:
    """Yield (partition values, rows without partition columns) in sorted key order,
    keeping the original row order inside each partition."""
    data = table.drop_columns(partition_columns)
    if not partition_columns:
        yield [], data
        return
    keys = [pc.cast(table.column(c), pa.string()) for c in partition_columns]
    joined = keys[0] if len(keys) == 1 else pc.binary_join_element_wise(*keys, "\x00")
    encoded = pc.dictionary_encode(joined).combine_chunks()
    names = encoded.dictionary.to_pylist()
    # Rank dictionary entries by value so partitions come out in sorted key order.
    rank = np.empty(len(names), dtype=np.int64)
    rank[np.argsort(np.array(names, dtype=object), kind="stable")] = np.arange(len(names))
    codes = rank[encoded.indices.to_numpy()]
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(names) + 1))
    for position, name in enumerate(sorted(names)):
        rows = order[bounds[position] : bounds[position + 1]]
        yield name.split("\x00"), data.take(pa.array(rows))


def write_table(
    table: pa.Table,
    partition_columns: list[str],
    folder: Path,
    relative_to: Path,
    output: OpenOutput = open_output,
) -> dict[str, Any]:
    """Write ``table`` (partition columns as its trailing string columns) under ``folder``
    and return its manifest entry: schema, files with rows/bytes/xxhash, row count and the
    canonical table and partition checksums. Refuses null or unsafe partition values."""
    for column in partition_columns:
        if table.column(column).null_count:
            raise DatasetError(f"{folder}: partition column {column!r} has NULL values")
    files = []
    for values, rows in _split_partitions(table, partition_columns):
        key = partition_key(partition_columns, values)
        if any(v in ("", ".", "..") or "/" in v for v in values):
            raise DatasetError(f"{folder}: partition value in {key!r} cannot be a folder name")
        target = folder / key / PART_FILE if key else folder / PART_FILE
        target.parent.mkdir(parents=True, exist_ok=True)
        sink = pa.BufferOutputStream()
        pq.write_table(rows, sink, **WRITER_OPTIONS)
        payload = sink.getvalue()
        write_bytes(output, target, memoryview(payload))
        files.append(
            {
                "path": target.relative_to(relative_to).as_posix(),
                "partition": key,
                "rows": rows.num_rows,
                "bytes": payload.size,
                "xxhash": xxhash.xxh3_128_hexdigest(memoryview(payload)),
            }
        )
    return table_entry(table, partition_columns, files)


def table_entry(
    table: pa.Table, partition_columns: list[str], files: list[dict[str, Any]]
) -> dict[str, Any]:
    """The manifest entry of a table whose ``files`` are already written."""
    checksum = checksum_table(table)
    partitions = {}
    if partition_columns:
        partitions = {
            key: {"rows": rows, "checksum": hexsum}
            for key, (rows, hexsum) in sorted(partition_checksums(table, partition_columns).items())
        }
    return {
        "schema": encode_schema(table.schema),
        "columns": describe_columns(table.schema),
        "partition_columns": list(partition_columns),
        "files": files,
        "row_count": table.num_rows,
        "bytes": sum(f["bytes"] for f in files),
        "checksum": checksum.multiset,
        "column_checksums": dict(zip(checksum.column_names, checksum.columns, strict=True)),
        "partitions": partitions,
    }


def read_file_batches(
    source: Path | BinaryIO, partition: str, schema: pa.Schema
) -> Iterator[pa.RecordBatch]:
    """Stream the rows of one table file (a path or an open file) as batches of the full
    table ``schema``: the file's columns plus the partition columns filled from
    ``partition``."""
    constants = dict(parse_partition_key(partition))
    parquet = pq.ParquetFile(source)
    for batch in parquet.iter_batches(batch_size=64 * 1024):
        arrays = []
        for field in schema:
            if field.name in constants:
                value = pa.scalar(constants[field.name], pa.string()).cast(field.type)
                arrays.append(pa.repeat(value, batch.num_rows))
            else:
                arrays.append(batch.column(field.name))
        yield pa.RecordBatch.from_arrays(arrays, schema=schema)
