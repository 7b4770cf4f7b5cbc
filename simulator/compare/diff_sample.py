"""A bounded sample of differing rows between two result files, found by row hashes.

Off by default (``report.diff_sample_rows = 0``): a sample shows customer values, so only
an operator asks for it, and the report says so. Neither result is loaded whole: each file
is streamed once to count its canonical row hashes (8 bytes a row), the hashes whose counts
differ are the differing rows, and a second streamed pass fetches at most ``limit`` of them
per side. Data-diff style key-range bisection would miss duplicate rows equal on both sides
in different numbers; counting hashes does not.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from simulator.canonical import row_hashes
from simulator.compare.result_files import (
    hashed_columns,
    is_row_hash_schema,
    iter_result_batches,
    result_schema,
)


@dataclass(frozen=True)
class DiffSample:
    """Up to ``limit`` rows present more often on one side than on the other.

    ``only_in_baseline_total`` / ``only_in_candidate_total`` count every surplus row (the
    sample lists at most ``limit`` each); rows are dicts of column name to a JSON-safe value
    (see ``json_safe``).
    """

    limit: int
    only_in_baseline: list[dict[str, Any]] = field(default_factory=list)
    only_in_candidate: list[dict[str, Any]] = field(default_factory=list)
    only_in_baseline_total: int = 0
    only_in_candidate_total: int = 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict for the verdict evidence."""
        return {
            "limit": self.limit,
            "only_in_baseline": self.only_in_baseline,
            "only_in_candidate": self.only_in_candidate,
            "only_in_baseline_total": self.only_in_baseline_total,
            "only_in_candidate_total": self.only_in_candidate_total,
        }


def json_safe(value: Any) -> Any:
    """A value as plain JSON: non-finite floats, bytes, decimals and times become text."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.date | dt.time | dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def row_hash_counts(
    path: str | Path, columns: list[int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique canonical row hashes of a result file (or row-hash file) and how often
    each occurs; ``columns`` hashes only those positions of a result file."""
    if is_row_hash_schema(result_schema(path)):
        parts = [b.column(0).to_numpy() for b in iter_result_batches(path) if b.num_rows]
    else:
        batches = [b for b in iter_result_batches(path) if b.num_rows]
        if columns is not None:
            batches = [b.select(columns) for b in batches]
        parts = [row_hashes(batch) for batch in batches]
    hashes = np.concatenate(parts) if parts else np.empty(0, np.uint64)
    return np.unique(hashes, return_counts=True)


def _surplus(
    mine: tuple[np.ndarray, np.ndarray], theirs: tuple[np.ndarray, np.ndarray]
) -> dict[int, int]:
    """Hash -> how many more times it occurs in ``mine`` than in ``theirs``."""
    hashes, counts = mine
    other_hashes, other_counts = theirs
    other = np.zeros(hashes.size, dtype=counts.dtype)
    if other_hashes.size:
        pos = np.minimum(np.searchsorted(other_hashes, hashes), other_hashes.size - 1)
        found = other_hashes[pos] == hashes
        other[found] = other_counts[pos[found]]
    extra = counts - other
    keep = extra > 0
    return dict(zip(hashes[keep].tolist(), extra[keep].tolist(), strict=True))


def _fetch(path: str | Path, wanted: dict[int, int], limit: int) -> list[dict[str, Any]]:
    """The first ``limit`` rows of ``path`` whose hash is still wanted, one per surplus."""
    remaining = dict(wanted)
    rows: list[dict[str, Any]] = []
    for batch in iter_result_batches(path):
        if len(rows) >= limit or not remaining:
            break
        hashes = row_hashes(batch)
        candidates = np.flatnonzero(np.isin(hashes, np.fromiter(remaining, np.uint64)))
        for i in candidates.tolist():
            h = int(hashes[i])
            if remaining.get(h, 0) <= 0:
                continue
            remaining[h] -= 1
            rows.append(json_safe(batch.slice(i, 1).to_pylist()[0]))
            if len(rows) >= limit:
                break
    return rows


def diff_sample(baseline_path: str | Path, candidate_path: str | Path, limit: int) -> DiffSample:
    """Up to ``limit`` rows per side that the other side lacks (duplicates counted).

    Refuses (ValueError) a negative limit; a limit of 0 returns only the totals. Raises
    RunError when a file is missing or not Arrow IPC.
    """
    if limit < 0:
        raise ValueError(f"diff sample limit must not be negative, got {limit}")
    base_counts = row_hash_counts(baseline_path)
    cand_counts = row_hash_counts(candidate_path)
    base_surplus = _surplus(base_counts, cand_counts)
    cand_surplus = _surplus(cand_counts, base_counts)
    return DiffSample(
        limit=limit,
        only_in_baseline=_fetch(baseline_path, base_surplus, limit) if limit else [],
        only_in_candidate=_fetch(candidate_path, cand_surplus, limit) if limit else [],
        only_in_baseline_total=sum(base_surplus.values()),
        only_in_candidate_total=sum(cand_surplus.values()),
    )


def is_sub_multiset(part_path: str | Path, whole_path: str | Path) -> bool:
    """True when every row of ``part_path`` occurs in ``whole_path`` at least as often.

    Used for a LIMIT without a total ORDER BY: the limited rows of a correct engine are a
    sub-multiset of the unlimited result. ``whole_path`` may be a row-hash file; the rows
    of ``part_path`` are then hashed over the columns it covers.
    """
    columns = hashed_columns(result_schema(whole_path))
    return not _surplus(row_hash_counts(part_path, columns), row_hash_counts(whole_path))
