"""``verify``: recompute everything a generation's manifest claims and name what differs.

Checked: the manifest's id against its content and its folder; for every file, that it
exists, its size and xxh3_128 content hash, that it parses as Parquet and its row count;
for every table, its row count, canonical multiset checksum (and which columns differ),
and each partition's row count and checksum; and that no unlisted file sits among the
tables. Every problem is one line naming the file, table or partition.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from simulator.canonical import ChecksumAccumulator, partition_checksums
from simulator.datasets.layout import read_file_batches, stream_hash
from simulator.datasets.manifest import MANIFEST_FILE, decode_schema, manifest_id
from simulator.datasets.store import Generation
from simulator.errors import DatasetError
from simulator.progress import progress


@dataclass
class VerifyReport:
    """What ``verify_generation`` found: ``problems`` is empty when the generation is intact."""

    generation_id: str
    problems: list[str] = field(default_factory=list)
    files_checked: int = 0
    bytes_checked: int = 0
    tables_checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def _short(hexdigest: str) -> str:
    return hexdigest[:12]


def unreadable_reason(err: Exception) -> str:
    """The first line of a Parquet reading error, for a one-line message."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def verify_generation(generation: Generation) -> VerifyReport:
    """Recompute every hash, row count and checksum of ``generation`` and return a report
    listing one line per file, table or partition that differs (never raises for damage
    to the data; a manifest it cannot read was refused when the generation was loaded)."""
    manifest = generation.manifest
    report = VerifyReport(generation.id)
    recomputed = manifest_id(manifest)
    if recomputed != manifest["id"] or manifest["id"] != generation.id:
        report.problems.append(
            f"{MANIFEST_FILE}: content does not match generation id {generation.id} "
            f"(recomputed {recomputed}, recorded {manifest['id']}): edited or damaged"
        )
    listed: set[str] = set()
    entries = [
        (tenant, table, entry)
        for tenant, tables in sorted(manifest["tenants"].items())
        for table, entry in sorted(tables.items())
    ]
    total_bytes = sum(entry["bytes"] for _, _, entry in entries)
    with progress(total_bytes, f"verify {generation.id[:12]}", unit="B", unit_scale=True) as bar:
        for tenant, table, entry in entries:
            listed.update(f["path"] for f in entry["files"])
            _verify_table(generation, tenant, table, entry, report, bar.update)
            report.tables_checked += 1
    try:
        stored = generation.stored_table_files()
    except OSError as err:
        report.problems.append(f"tables: cannot list the stored files ({unreadable_reason(err)})")
        stored = []
    for relative in stored:
        if relative not in listed:
            report.problems.append(f"{relative}: file is not listed in the manifest")
    return report


def _verify_table(
    generation: Generation,
    tenant: str,
    table: str,
    entry: dict[str, Any],
    report: VerifyReport,
    advance: Callable[[int], object],
) -> None:
    where = f"{tenant}/{table}"
    try:
        schema = decode_schema(entry["schema"], f"{MANIFEST_FILE}: tenants.{tenant}.{table}")
    except DatasetError as err:
        report.problems.append(str(err))
        return
    readable = []
    for file in entry["files"]:
        problem = _verify_file(generation, file)
        report.files_checked += 1
        report.bytes_checked += file["bytes"]
        advance(file["bytes"])
        if problem:
            report.problems.append(f"{file['path']}: {problem}")
        if problem is None or not problem.startswith(("missing", "corrupt")):
            readable.append(file)
    unreadable = len(entry["files"]) - len(readable)
    if unreadable:
        report.problems.append(
            f"{where}: table checksum not recomputed ({unreadable} missing or unreadable file"
            f"{'s' if unreadable > 1 else ''})"
        )
        return
    accumulator = ChecksumAccumulator(schema)

    def batches() -> Iterator[pa.RecordBatch]:
        for file in readable:
            with generation.open_stored(file["path"]) as source:
                for batch in read_file_batches(source, file["partition"], schema):
                    accumulator.update(batch)
                    yield batch

    partition_columns = entry["partition_columns"]
    try:
        if partition_columns:
            partitions = partition_checksums(batches(), partition_columns)
        else:
            for _ in batches():
                pass
            partitions = {}
    except (pa.ArrowException, OSError, KeyError, ValueError, TypeError) as err:
        report.problems.append(
            f"{where}: table checksum not recomputed (cannot read data: {unreadable_reason(err)})"
        )
        return
    checksum = accumulator.finish()
    if checksum.row_count != entry["row_count"]:
        report.problems.append(
            f"{where}: {checksum.row_count} rows, the manifest says {entry['row_count']}"
        )
    if checksum.multiset != entry["checksum"]:
        recorded = entry["column_checksums"]
        columns = [
            name
            for name, value in zip(checksum.column_names, checksum.columns, strict=True)
            if recorded.get(name) != value
        ]
        report.problems.append(
            f"{where}: table checksum differs (manifest {_short(entry['checksum'])}, "
            f"data {_short(checksum.multiset)}; columns differing: {', '.join(columns) or 'none'})"
        )
    for key in sorted(set(partitions) | set(entry["partitions"])):
        expected = entry["partitions"].get(key)
        found = partitions.get(key)
        if expected is None:
            report.problems.append(f"{where}/{key}: partition not in the manifest")
        elif found is None:
            report.problems.append(f"{where}/{key}: partition missing from the data")
        elif (found[0], found[1]) != (expected["rows"], expected["checksum"]):
            report.problems.append(
                f"{where}/{key}: partition differs ({found[0]} rows, manifest {expected['rows']}; "
                f"checksum {_short(found[1])}, manifest {_short(expected['checksum'])})"
            )


def _verify_file(generation: Generation, file: dict[str, Any]) -> str | None:
    """One line describing what is wrong with one file, or None when it is intact."""
    try:
        with generation.open_stored(file["path"]) as handle:
            digest, size = stream_hash(handle)
    except FileNotFoundError:
        return "missing"
    except OSError as err:
        return f"missing or unreadable ({err.strerror or unreadable_reason(err)})"
    hash_note = ""
    if digest != file["xxhash"] or size != file["bytes"]:
        hash_note = (
            f"content hash differs (manifest {_short(file['xxhash'])} {file['bytes']} bytes, "
            f"file {_short(digest)} {size} bytes)"
        )
    try:
        with generation.open_stored(file["path"]) as handle:
            rows = pq.ParquetFile(handle).metadata.num_rows
    except (pa.ArrowException, OSError) as err:
        prefix = f"{hash_note}; " if hash_note else ""
        return f"corrupt Parquet: {prefix}cannot read ({unreadable_reason(err)})"
    if rows != file["rows"]:
        prefix = f"{hash_note}; " if hash_note else ""
        return f"{prefix}{rows} rows, the manifest says {file['rows']}"
    return hash_note or None
