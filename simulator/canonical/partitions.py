"""Partition keys and per-partition checksums: canonical ``col=value`` text for each
partition and the multiset of its rows, in the format of ``ResultChecksum.multiset``."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from simulator.canonical.checksum import _hex64
from simulator.canonical.kernels import _k_group_lanes
from simulator.canonical.rows import _rows_per_step, row_hashes
from simulator.canonical.spec import ChecksumInputError
from simulator.canonical.values import int64s

NULL_PARTITION = "__NULL__"


def _escape_key_text(text: str) -> str:
    # '/' and '=' separate key parts; escape them (and '%') so keys parse back unambiguously.
    return text.replace("%", "%25").replace("/", "%2F").replace("=", "%3D")


def _canonical_text(value: Any) -> str:
    """Canonical text of one partition value, as ``to_pylist`` returns it."""
    if value is None:
        return NULL_PARTITION
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value != value:
            return "NaN"
        return repr(value + 0.0)
    if isinstance(value, decimal.Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dt.date):
        # Timestamps and times arrive here already as Arrow's text; dates do not.
        return value.isoformat()
    if value == NULL_PARTITION:
        # A string that spells the NULL marker must not land in the NULL partition.
        return "%5F" + value[1:]
    return _escape_key_text(str(value))


def _partition_texts(column: pa.Array) -> tuple[np.ndarray, list[str]]:
    """Per-row codes into a list of canonical texts for one partition column of a batch."""
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    if pa.types.is_timestamp(column.type) or pa.types.is_time(column.type):
        # to_pylist would drop nanoseconds; Arrow's own cast keeps them.
        if pa.types.is_timestamp(column.type) and column.type.tz is not None:
            column = column.cast(pa.timestamp(column.type.unit))
        column = pc.cast(column, pa.string())
        temporal = True
    else:
        temporal = False
    encoded = pc.dictionary_encode(column, null_encoding="encode")
    texts = [_canonical_text(v) for v in encoded.dictionary.to_pylist()]
    if temporal:
        # The cast prints as many fraction digits as the unit has; trim them so that
        # equal instants in different units give the same text.
        texts = [t.rstrip("0").rstrip(".") if "." in t else t for t in texts]
    codes = int64s(encoded.indices)
    return codes, texts


def partition_checksums(
    data: pa.Table | pa.RecordBatch | Iterable[pa.RecordBatch], partition_columns: Sequence[str]
) -> dict[str, tuple[int, str]]:
    """Per-partition ``(row_count, multiset hex)`` keyed ``"col=value/col2=value2"``.

    Values are canonical text, the same for every physical type of one value: integers and
    decimals in plain notation without trailing zeros (``1.5``), floats by ``repr`` (``0.0``
    for -0.0, ``NaN``), ``true``/``false``, dates ``YYYY-MM-DD``, timestamps in UTC as
    ``YYYY-MM-DD HH:MM:SS[.fraction]`` with trailing zeros trimmed, binary in hex, strings
    as themselves with ``%``, ``/`` and ``=`` %-escaped (and a string spelling ``__NULL__``
    escaped to ``%5F_NULL__``); NULL is ``__NULL__``. The key is ``""`` when there are no
    partition columns. Partitions without rows are absent: an empty table gives ``{}``.

    Row hashes are those of ``row_hashes`` over all columns, so each multiset has the format
    of ``ResultChecksum.multiset`` (two lanes that add up across partitions) and, with no
    partition columns, equals it. Streaming. Refuses (``ChecksumInputError``) a partition
    column the data does not have.
    """
    if isinstance(data, pa.Table):
        batches: Iterable[pa.RecordBatch] = data.to_batches()
    elif isinstance(data, pa.RecordBatch):
        batches = [data]
    else:
        batches = data
    totals: dict[str, list[int]] = {}
    for whole in batches:
        step = _rows_per_step(whole.num_columns)
        for start in range(0, whole.num_rows, step):
            _partition_batch(whole.slice(start, step), partition_columns, totals)
    return {key: (count, _hex64(a) + _hex64(b)) for key, (count, a, b) in sorted(totals.items())}


def _dense_groups(combined: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct values of `combined`, each row's index among them); values < size."""
    if size <= 1 << 22:
        # A presence table is linear; np.unique would sort every row of the batch.
        present = np.zeros(size, dtype=bool)
        present[combined] = True
        return np.flatnonzero(present), (np.cumsum(present) - 1)[combined]
    uniques, inverse = np.unique(combined, return_inverse=True)
    return uniques, inverse.astype(np.int64, copy=False)


def partition_keys(batch: pa.RecordBatch, partition_columns: Sequence[str]) -> list[str]:
    """The partition key of each row of ``batch``, as ``partition_checksums`` spells it.

    Refuses (``ChecksumInputError``) a partition column the batch does not have.
    """
    groups, labels = _group_labels(batch, partition_columns)
    return [labels[g] for g in groups.tolist()]


def _group_labels(
    batch: pa.RecordBatch, partition_columns: Sequence[str]
) -> tuple[np.ndarray, list[str]]:
    """Each row's index into the list of partition keys the batch holds, and that list."""
    groups = np.zeros(batch.num_rows, np.int64)
    labels: list[str] = [""]
    for name in partition_columns:
        matches = batch.schema.get_all_field_indices(name)
        if len(matches) != 1:
            problem = "is not among" if not matches else "appears more than once in"
            raise ChecksumInputError(
                f"partition column {name!r} {problem} the columns {batch.schema.names}"
            )
        codes, texts = _partition_texts(batch.column(matches[0]))
        uniques, groups = _dense_groups(groups * len(texts) + codes, len(labels) * len(texts))
        part = f"{_escape_key_text(name)}="
        labels = [
            (labels[u // len(texts)] + "/" if labels[u // len(texts)] else "")
            + part
            + texts[u % len(texts)]
            for u in uniques.tolist()
        ]
    return groups, labels


def _partition_batch(
    batch: pa.RecordBatch, partition_columns: Sequence[str], totals: dict[str, list[int]]
) -> None:
    rows = row_hashes(batch)
    groups, labels = _group_labels(batch, partition_columns)
    counts = np.zeros(len(labels), np.int64)
    lane_a = np.zeros(len(labels), np.uint64)
    lane_b = np.zeros(len(labels), np.uint64)
    _k_group_lanes(groups, rows, counts, lane_a, lane_b)
    for g, key in enumerate(labels):
        total = totals.setdefault(key, [0, 0, 0])
        total[0] += int(counts[g])
        total[1] = (total[1] + int(lane_a[g])) & 0xFFFFFFFFFFFFFFFF
        total[2] = (total[2] + int(lane_b[g])) & 0xFFFFFFFFFFFFFFFF


class PartitionAccumulator:
    """Streams a table's rows into ``partition_checksums`` form, batch by batch.

    When a batch lacks one of ``partition_columns`` (a candidate that dropped the column,
    say) what was seen so far is folded into one unpartitioned entry and partitioning stops:
    ``partition_columns`` is then empty, and the states compare as whole tables.
    """

    def __init__(self, partition_columns: Sequence[str]) -> None:
        self.partition_columns = list(partition_columns)
        self._totals: dict[str, list[int]] = {}

    def update(self, batch: pa.RecordBatch | pa.Table) -> None:
        """Add one batch of the table's rows; refuses (``ChecksumInputError``) data qsim
        cannot checksum."""
        if batch.num_rows == 0:
            return
        if any(c not in batch.schema.names for c in self.partition_columns):
            self._fold_into_whole_table()
        batches = batch.to_batches() if isinstance(batch, pa.Table) else [batch]
        for whole in batches:
            step = _rows_per_step(whole.num_columns)
            for start in range(0, whole.num_rows, step):
                _partition_batch(whole.slice(start, step), self.partition_columns, self._totals)

    def _fold_into_whole_table(self) -> None:
        rows, lane_a, lane_b = 0, 0, 0
        for count, a, b in self._totals.values():
            rows += count
            lane_a = (lane_a + a) & 0xFFFFFFFFFFFFFFFF
            lane_b = (lane_b + b) & 0xFFFFFFFFFFFFFFFF
        self._totals = {"": [rows, lane_a, lane_b]} if rows else {}
        self.partition_columns = []

    def finish(self) -> dict[str, tuple[int, str]]:
        """Per-partition ``(row_count, multiset hex)`` of every row added so far."""
        return {
            key: (count, _hex64(a) + _hex64(b))
            for key, (count, a, b) in sorted(self._totals.items())
        }
