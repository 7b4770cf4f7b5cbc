"""Building a written table's post-state (``TableState``) from its rows, streaming.

The runner reads every written table back after the statement and feeds the batches to a
``TableStateBuilder``; per partition it keeps a row count and the canonical multiset
checksum (``canonical.partition_checksums``), so two engines' post-states can be compared
partition by partition and a lost partition is named.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from simulator.canonical import partition_checksums
from simulator.results.execution import PartitionState, TableState

_LANE_HEX = 16
_MASK = 0xFFFFFFFFFFFFFFFF
EMPTY_MULTISET = "0" * (2 * _LANE_HEX)


def add_multisets(left: str, right: str) -> str:
    """The multiset checksum of the union of two row multisets.

    ``canonical`` documents a multiset as two independent 64-bit sums of row hashes (32 hex
    digits): adding lane by lane merges them, so batches can be checksummed one at a time.
    """
    lanes = []
    for k in range(2):
        a = int(left[k * _LANE_HEX : (k + 1) * _LANE_HEX], 16)
        b = int(right[k * _LANE_HEX : (k + 1) * _LANE_HEX], 16)
        lanes.append(f"{(a + b) & _MASK:016x}")
    return "".join(lanes)


class TableStateBuilder:
    """Streams the post-state rows of one table into a ``TableState``.

    ``partition_columns`` names the columns that split the table (hive partitions or the
    config's ``compare.partition_columns``). When the rows lack one of them (a candidate
    that dropped the column, say) the state is recorded unpartitioned rather than failing
    the run, and the comparison then compares whole tables.
    """

    def __init__(
        self, table: str, partition_columns: Sequence[str], rows_before: int | None = None
    ) -> None:
        self.table = table
        self.partition_columns = list(partition_columns)
        self.rows_before = rows_before
        self._rows: dict[str, int] = {}
        self._multisets: dict[str, str] = {}

    def update(self, batch: pa.RecordBatch | pa.Table) -> None:
        """Add one batch of the table's rows."""
        if batch.num_rows == 0:
            return
        if any(c not in batch.schema.names for c in self.partition_columns):
            self._fold_into_whole_table()
        for key, (count, multiset) in partition_checksums(batch, self.partition_columns).items():
            self._rows[key] = self._rows.get(key, 0) + count
            self._multisets[key] = add_multisets(self._multisets.get(key, EMPTY_MULTISET), multiset)

    def _fold_into_whole_table(self) -> None:
        """Fold what was seen so far into one unpartitioned entry and stop partitioning."""
        rows, multiset = 0, EMPTY_MULTISET
        for key, count in self._rows.items():
            rows += count
            multiset = add_multisets(multiset, self._multisets[key])
        self._rows, self._multisets = ({"": rows}, {"": multiset}) if rows else ({}, {})
        self.partition_columns = []

    def finish(self) -> TableState:
        """The table's post-state: total and per-partition row counts and checksums."""
        partitions = {
            key: PartitionState(row_count=self._rows[key], checksum=self._multisets[key])
            for key in self._rows
        }
        return table_state(self.table, self.partition_columns, partitions, self.rows_before)


def table_state(
    table: str,
    partition_columns: Sequence[str],
    partitions: dict[str, PartitionState],
    rows_before: int | None,
) -> TableState:
    """The post-state of an existing table made of ``partitions``: totals are their sums."""
    checksum = EMPTY_MULTISET
    for partition in partitions.values():
        checksum = add_multisets(checksum, partition.checksum)
    return TableState(
        table=table,
        row_count=sum(partition.row_count for partition in partitions.values()),
        checksum=checksum,
        partition_columns=list(partition_columns),
        partitions={key: partitions[key] for key in sorted(partitions)},
        rows_before=rows_before,
        exists=True,
    )
