"""TableStateBuilder: streamed per-partition post-states equal the canonical checksums of
the whole table, however the rows are batched."""

from __future__ import annotations

import pyarrow as pa

from simulator.canonical import checksum_table, partition_checksums
from simulator.compare.tables import EMPTY_MULTISET, TableStateBuilder, add_multisets


def events() -> pa.Table:
    days = ["2024-01-01", "2024-01-02", "2024-01-03"]
    return pa.table(
        {
            "id": list(range(30)),
            "day": [days[i % 3] for i in range(30)],
            "amount": [i * 1.5 for i in range(30)],
        }
    )


def build(table: pa.Table, columns, chunk: int, rows_before=None):
    builder = TableStateBuilder("events", columns, rows_before=rows_before)
    for batch in table.to_batches(max_chunksize=chunk):
        builder.update(batch)
    return builder.finish()


def test_streamed_partitions_equal_partition_checksums_of_the_whole_table():
    table = events()
    expected = partition_checksums(table, ["day"])
    for chunk in (1, 4, 7, 100):
        state = build(table, ["day"], chunk, rows_before=12)
        assert {k: (p.row_count, p.checksum) for k, p in state.partitions.items()} == expected
        assert state.row_count == 30 and state.rows_before == 12
        assert state.checksum == checksum_table(table).multiset
        assert state.partition_columns == ["day"]


def test_unpartitioned_table_has_one_empty_key():
    state = build(events(), [], 8)
    assert list(state.partitions) == [""]
    assert state.partitions[""].row_count == 30


def test_missing_partition_column_falls_back_to_whole_table():
    table = events().drop_columns(["day"])
    state = build(table, ["day"], 8)
    assert state.partition_columns == []
    assert list(state.partitions) == [""]
    assert state.checksum == checksum_table(table).multiset


def test_empty_table_has_no_partitions_and_the_empty_checksum():
    state = TableStateBuilder("t", ["day"]).finish()
    assert state.row_count == 0 and state.partitions == {}
    assert state.checksum == EMPTY_MULTISET == checksum_table(events().slice(0, 0)).multiset


def test_multisets_add_lane_by_lane():
    table = events()
    first, second = table.slice(0, 10), table.slice(10)
    merged = add_multisets(checksum_table(first).multiset, checksum_table(second).multiset)
    assert merged == checksum_table(table).multiset
