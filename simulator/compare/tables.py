"""Building a written table's post-state (``TableState``) from its rows, streaming.

The runner reads every written table back after the statement and feeds the batches to a
``TableStateBuilder``; per partition it keeps a row count and the canonical multiset
checksum (``canonical.partition_checksums``), so two engines' post-states can be compared
partition by partition and a lost partition is named.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from simulator.compare.canonical import partition_checksums
from simulator.engines.execution import PartitionState, TableState

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
        self._partitions: dict[str, list[int | str]] = {}

    def update(self, batch: pa.RecordBatch | pa.Table) -> None:
        """Add one batch of the table's rows."""
        if batch.num_rows == 0:
            return
        missing = [c for c in self.partition_columns if c not in batch.schema.names]
        if missing and self.partition_columns:
            self._repartition_whole()
        for key, (count, multiset) in partition_checksums(batch, self.partition_columns).items():
            entry = self._partitions.setdefault(key, [0, EMPTY_MULTISET])
            entry[0] = int(entry[0]) + count
            entry[1] = add_multisets(str(entry[1]), multiset)

    def _repartition_whole(self) -> None:
        """Fold what was seen so far into one unpartitioned entry and stop partitioning."""
        count, multiset = 0, EMPTY_MULTISET
        for rows, checksum in self._partitions.values():
            count += int(rows)
            multiset = add_multisets(multiset, str(checksum))
        self._partitions = {"": [count, multiset]} if count else {}
        self.partition_columns = []

    def finish(self) -> TableState:
        """The table's post-state: total and per-partition row counts and checksums."""
        total, checksum = 0, EMPTY_MULTISET
        partitions: dict[str, PartitionState] = {}
        for key in sorted(self._partitions):
            rows, multiset = self._partitions[key]
            partitions[key] = PartitionState(row_count=int(rows), checksum=str(multiset))
            total += int(rows)
            checksum = add_multisets(checksum, str(multiset))
        return TableState(
            table=self.table,
            row_count=total,
            checksum=checksum,
            partition_columns=list(self.partition_columns),
            partitions=partitions,
            rows_before=self.rows_before,
            exists=True,
        )
