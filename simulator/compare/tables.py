"""Building a written table's post-state (``TableState``) from its rows, streaming.

Per partition a state keeps a row count and the canonical multiset checksum
(``canonical.partition_checksums``), so two engines' post-states can be compared partition
by partition and a lost partition is named. The runner has them computed inside the engine's
worker (``EngineWorker.table_state``) and builds the state with :func:`state_from_checksums`;
``TableStateBuilder`` does the same from rows at hand.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from simulator.canonical import PartitionAccumulator
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
        self.rows_before = rows_before
        self._accumulator = PartitionAccumulator(partition_columns)

    @property
    def partition_columns(self) -> list[str]:
        """The columns the state is split by (empty once folded into a whole table)."""
        return self._accumulator.partition_columns

    def update(self, batch: pa.RecordBatch | pa.Table) -> None:
        """Add one batch of the table's rows."""
        self._accumulator.update(batch)

    def finish(self) -> TableState:
        """The table's post-state: total and per-partition row counts and checksums."""
        return state_from_checksums(
            self.table, self.partition_columns, self._accumulator.finish(), self.rows_before
        )


def state_from_checksums(
    table: str,
    partition_columns: Sequence[str],
    checksums: dict[str, tuple[int, str]],
    rows_before: int | None,
) -> TableState:
    """The post-state of an existing table from its ``partition_checksums`` (as computed by
    a ``PartitionAccumulator``, here or inside the engine's worker)."""
    partitions = {
        key: PartitionState(row_count=count, checksum=multiset)
        for key, (count, multiset) in checksums.items()
    }
    return table_state(table, partition_columns, partitions, rows_before)


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
