"""Import existing data: ``<source>/<tenant>/<table>/`` holding Parquet or CSV files,
directly or under hive ``col=value`` folders, becomes a stream of tables for the store.

Partition columns are kept: their values come from the folder names and are appended as
string columns at the end of the table. Files whose names start with ``.`` or ``_`` (such
as ``_SUCCESS``) are ignored. Anything else out of place is refused with the path named.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from simulator.config import NAME_RE
from simulator.errors import DatasetError

SUFFIXES = (".parquet", ".csv")


def import_tables(source: Path) -> Iterator[tuple[str, str, pa.Table, list[str]]]:
    """Yield (tenant, table, rows, partition columns) for every table under ``source``,
    in sorted order; refuses a missing folder, a bad layout, an unreadable file, or
    files of one table whose schemas or partition columns disagree."""
    if not source.is_dir():
        raise DatasetError(f"{source}: import source is not a folder")
    tenants = _children(source, "tenant")
    if not tenants:
        raise DatasetError(f"{source}: no tenant folders to import (expected <tenant>/<table>/)")
    for tenant in tenants:
        tables = _children(tenant, "table")
        if not tables:
            raise DatasetError(f"{tenant}: tenant folder holds no table folders")
        for table in tables:
            rows, partition_columns = _read_table(table)
            yield tenant.name, table.name, rows, partition_columns


def _children(folder: Path, what: str) -> list[Path]:
    """Sub-folders of ``folder`` named like safe names; refuses stray files and bad names."""
    found = []
    for child in sorted(folder.iterdir()):
        if child.name.startswith((".", "_")):
            continue
        if not child.is_dir():
            raise DatasetError(f"{child}: expected a {what} folder, found a file")
        if not NAME_RE.match(child.name) or ".." in child.name:
            raise DatasetError(f"{child}: {child.name!r} is not a valid {what} name")
        found.append(child)
    return found


def _data_files(table: Path) -> list[tuple[Path, list[tuple[str, str]]]]:
    """Every data file under ``table`` with the hive (column, value) pairs above it."""
    files = []

    def walk(folder: Path, partitions: list[tuple[str, str]]) -> None:
        for child in sorted(folder.iterdir()):
            if child.name.startswith((".", "_")):
                continue
            if child.is_dir():
                column, sep, value = child.name.partition("=")
                if not sep or not column or not value:
                    raise DatasetError(
                        f"{child}: folder inside a table must be a hive partition 'column=value'"
                    )
                walk(child, [*partitions, (column, value)])
            elif child.suffix.lower() in SUFFIXES:
                files.append((child, partitions))
            else:
                raise DatasetError(f"{child}: not a Parquet or CSV file")

    walk(table, [])
    if not files:
        raise DatasetError(f"{table}: table folder holds no Parquet or CSV files")
    return files


def _read_file(path: Path) -> pa.Table:
    try:
        if path.suffix.lower() == ".csv":
            return pacsv.read_csv(path)
        return pq.read_table(path)
    except (pa.ArrowException, OSError) as err:
        first_line = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise DatasetError(f"{path}: cannot read ({first_line})") from None


def _read_table(table: Path) -> tuple[pa.Table, list[str]]:
    files = _data_files(table)
    partition_columns = [column for column, _ in files[0][1]]
    parts: list[pa.Table] = []
    for path, partitions in files:
        columns = [column for column, _ in partitions]
        if columns != partition_columns:
            raise DatasetError(
                f"{path}: partition columns {columns} differ from {partition_columns} "
                f"of {files[0][0]}"
            )
        rows = _read_file(path)
        clash = set(columns) & set(rows.column_names)
        if clash:
            raise DatasetError(f"{path}: column {sorted(clash)[0]!r} is also a partition folder")
        for column, value in partitions:
            constant = pa.repeat(pa.scalar(value, pa.string()), rows.num_rows)
            rows = rows.append_column(pa.field(column, pa.string(), nullable=False), constant)
        parts.append(rows)
    try:
        unified = pa.unify_schemas([rows.schema for rows in parts], promote_options="permissive")
        # Partition columns go last, as the layout requires; a file lacking a column gets NULLs.
        schema = pa.schema(
            [f for f in unified if f.name not in partition_columns]
            + [unified.field(c) for c in partition_columns]
        )
        combined = pa.concat_tables([_conform(rows, schema) for rows in parts])
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as err:
        first_line = str(err).splitlines()[0]
        raise DatasetError(f"{table}: files have incompatible schemas ({first_line})") from None
    return combined, partition_columns


def _conform(rows: pa.Table, schema: pa.Schema) -> pa.Table:
    """``rows`` with ``schema``'s columns in its order, missing ones as NULLs."""
    columns = [
        rows.column(f.name) if f.name in rows.column_names else pa.nulls(rows.num_rows, f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(columns, names=schema.names).cast(schema)
