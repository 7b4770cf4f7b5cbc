"""CSV logs with a header row, UTF-8. Undecodable bytes survive as surrogates so the row is
quarantined by the ingest step instead of failing the whole file."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from simulator.errors import WorkloadError
from simulator.workload.readers import Record


def read_csv(path: Path, required: list[str], max_line_bytes: int) -> Iterator[Record]:
    """Yield one Record per data row. Raises WorkloadError if the file cannot be read or its
    header lacks a ``required`` column; short rows and CSV syntax errors become errors."""
    csv.field_size_limit(max(max_line_bytes, 131072))
    try:
        handle = path.open("r", encoding="utf-8", errors="surrogateescape", newline="")
    except OSError as err:
        raise WorkloadError(f"{path}: cannot read log ({err.strerror})") from None
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            raise WorkloadError(f"{path}: line 1: unreadable CSV header ({err})") from None
        missing = [name for name in required if name not in header]
        if missing:
            raise WorkloadError(
                f"{path}: CSV header has no column {missing[0]!r} "
                f"(columns: {', '.join(header)}); map it with --map or [workload.ingest]"
            )
        while True:
            line = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as err:
                yield Record(line, "", error=f"bad_csv: {err}")
                continue
            if not row:
                continue
            raw = ",".join(row)
            if len(row) != len(header):
                yield Record(
                    line, raw, error=f"short_row: {len(row)} fields, header has {len(header)}"
                )
                continue
            yield Record(line, raw, fields=dict(zip(header, row, strict=True)))
