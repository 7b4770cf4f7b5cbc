"""The normalized query log: one Parquet file every reader's output is converted into.

Layout of an ingested log ``<workloads>/logs/<name>/``::

    log.parquet       one row per kept query, columns LOG_SCHEMA, in source order
    quarantine.jsonl  one JSON object per unusable source row: line, reason, raw (truncated)
    ingest.json       source path and hash, format, counts kept and quarantined by reason

``text_hash`` is the xxh3-64 of the whitespace-normalized SQL, so later stages dedup exact
texts without reading the SQL column twice.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import xxhash

LOG_SCHEMA = pa.schema(
    [
        ("query_id", pa.string()),
        ("tenant", pa.string()),
        ("submitted_at", pa.float64()),
        ("sql", pa.large_string()),
        ("dialect", pa.string()),
        ("duration_ms", pa.float64()),
        ("user", pa.string()),
        ("source", pa.string()),
        ("status", pa.string()),
        ("pipeline", pa.string()),
        ("text_hash", pa.uint64()),
    ]
)
LOG_FILE = "log.parquet"
QUARANTINE_FILE = "quarantine.jsonl"
INGEST_FILE = "ingest.json"
RAW_EXCERPT_CHARS = 2000
_BATCH_ROWS = 50_000


def normalize_text(sql: str) -> str:
    """Return ``sql`` with runs of whitespace collapsed to one space and the ends trimmed."""
    return " ".join(sql.split())


def text_hash(sql: str) -> int:
    """Return the xxh3-64 of the whitespace-normalized text: the exact-text dedup key."""
    return xxhash.xxh3_64_intdigest(normalize_text(sql).encode("utf-8", "surrogatepass"))


# The columns a reader supplies, in order; ``text_hash`` is computed by the writer.
ROW_COLUMNS = tuple(LOG_SCHEMA.names[:-1])


class LogWriter:
    """Streams rows into ``log.parquet`` in fixed-size row groups (memory stays flat)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer = pq.ParquetWriter(path, LOG_SCHEMA, compression="zstd")
        self._rows: list[tuple[Any, ...]] = []
        self._hashes: list[int] = []
        self.rows = 0

    def write(self, row: tuple[Any, ...]) -> None:
        """Buffer one row (values in ROW_COLUMNS order); flushes every 50k rows."""
        self._rows.append(row)
        self._hashes.append(text_hash(row[3]))
        self.rows += 1
        if len(self._rows) >= _BATCH_ROWS:
            self._flush()

    def _flush(self) -> None:
        if not self._rows:
            return
        columns = dict(zip(ROW_COLUMNS, map(list, zip(*self._rows, strict=True)), strict=True))
        columns["text_hash"] = self._hashes
        self._writer.write_table(pa.table(columns, schema=LOG_SCHEMA))
        self._rows, self._hashes = [], []

    def close(self) -> None:
        """Write the last row group and close the file (an empty log is a valid file)."""
        self._flush()
        self._writer.close()


@dataclass
class QuarantineWriter:
    """Appends unusable source rows with their reason; counts them by reason."""

    path: Path
    counts: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._file = self.path.open("w", encoding="utf-8")

    def write(self, line: int, reason: str, raw: str | bytes) -> None:
        """Record source ``line`` (1-based) with ``reason``; raw text is kept truncated."""
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", "backslashreplace")
        record = {
            "line": line,
            "reason": reason,
            "raw_chars": len(raw),
            "raw": raw[:RAW_EXCERPT_CHARS],
        }
        self._file.write(json.dumps(record, ensure_ascii=True) + "\n")
        self.counts[_reason_class(reason)] += 1

    @property
    def total(self) -> int:
        """Number of rows quarantined so far."""
        return sum(self.counts.values())

    def close(self) -> None:
        """Close the quarantine file."""
        self._file.close()


def _reason_class(reason: str) -> str:
    """The reason's stable prefix (before any ':'), used as the count key."""
    return reason.split(":", 1)[0]
