"""simulator/datasets/layout.py: partitioned writes read back to the same rows and checksums."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.canonical import checksum_table
from simulator.datasets.layout import (
    WRITER_OPTIONS,
    parse_partition_key,
    read_file_batches,
    write_table,
)
from simulator.datasets.manifest import decode_schema

VALUES = st.sampled_from(["2024-03-01", "2024-03-02", "eu", "z%20z", "日本", "a=b"])


@settings(max_examples=25, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.integers(-(2**63), 2**63 - 1) | st.none(),
            st.text(max_size=8) | st.none(),
            VALUES,
            VALUES,
        ),
        min_size=1,
        max_size=60,
    ),
    partitioned=st.booleans(),
)
def test_written_table_reads_back_to_its_manifest_entry(rows: list, partitioned: bool) -> None:
    table = pa.table(
        {
            "n": pa.array([r[0] for r in rows], pa.int64()),
            "s": pa.array([r[1] for r in rows], pa.string()),
            "region": pa.array([r[2] for r in rows], pa.string()),
            "day": pa.array([r[3] for r in rows], pa.string()),
        }
    )
    partition_columns = ["region", "day"] if partitioned else []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        entry = write_table(table, partition_columns, root / "t", root)
        schema = decode_schema(entry["schema"], "entry")
        assert schema.equals(table.schema)
        batches = [
            batch
            for file in entry["files"]
            for batch in read_file_batches(root / file["path"], file["partition"], schema)
        ]
        assert sum(f["rows"] for f in entry["files"]) == entry["row_count"] == len(rows)
        assert checksum_table(pa.Table.from_batches(batches, schema)).multiset == entry["checksum"]
        for file in entry["files"]:
            pairs = dict(parse_partition_key(file["partition"]))
            assert list(pairs) == partition_columns
        if partitioned:
            assert len(entry["files"]) == len({(r[2], r[3]) for r in rows})
            assert sum(p["rows"] for p in entry["partitions"].values()) == len(rows)
        else:
            assert [f["path"] for f in entry["files"]] == ["t/part-0.parquet"]


def test_writer_options_leave_no_varying_metadata(tmp_path: Path) -> None:
    table = pa.table({"x": [1, 2, 3]})
    first = write_table(table, [], tmp_path / "a", tmp_path)["files"][0]
    second = write_table(table, [], tmp_path / "b", tmp_path)["files"][0]
    assert first["xxhash"] == second["xxhash"]
    assert WRITER_OPTIONS["compression"] == "zstd"
