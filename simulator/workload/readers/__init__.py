"""Log readers, one per source format. Each yields :class:`Record` values in source order:
a row's fields (keyed by the source's own names; nested JSON keys as dotted paths are looked
up by the ingest mapping) or, for a row that cannot even be decoded, the reason why.

Readers never raise for a bad row; they raise WorkloadError only when the whole file is
unusable (missing, not of its format, a CSV header without a mapped column).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Record:
    """One source row: ``fields`` when decodable, else ``error`` (``reason: detail``)."""

    line: int
    raw: str | bytes
    fields: dict[str, Any] | None = None
    error: str = ""


FORMATS = ("jsonl", "csv", "parquet", "trino")
