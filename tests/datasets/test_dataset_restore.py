"""simulator/datasets/restore.py: a table or partition comes back out, hash-checked."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from simulator.canonical import checksum_table
from simulator.datasets.restore import restore_table
from simulator.datasets.store import Generation, GenerationStore
from simulator.errors import DatasetError


def test_restore_table_reads_back_to_the_manifest_checksum(
    tmp_path: Path, world: Generation
) -> None:
    written = restore_table(world, "t01", "events", tmp_path / "out")
    entry = world.entry("t01", "events")
    assert len(written) == len(entry["files"])
    assert all(os.access(p, os.W_OK) for p in written)
    schema = world.schema("t01", "events")
    dataset = ds.dataset(
        tmp_path / "out" / "events", format="parquet", partitioning="hive", schema=schema
    )
    assert checksum_table(dataset.to_table()).multiset == entry["checksum"]


def test_restore_one_partition(tmp_path: Path, world: Generation) -> None:
    file = world.entry("t02", "events")["files"][0]
    written = restore_table(world, "t02", "events", tmp_path, file["partition"])
    assert written == [tmp_path / "events" / file["partition"] / "part-0.parquet"]


def test_corrupt_source_is_refused_and_leaves_no_copy(
    tmp_path: Path, store_copy: GenerationStore, world: Generation
) -> None:
    generation = store_copy.get(world.id)
    source = generation.files("t01", "customers")[0]
    with open(source, "r+b") as handle:
        handle.seek(100)
        handle.write(b"\x00\x01\x02")
    with pytest.raises(DatasetError) as info:
        restore_table(generation, "t01", "customers", tmp_path / "out")
    assert str(info.value) == (
        f"{source}: content hash differs from the manifest; not restored "
        f"(run 'qsim dataset verify {world.id[:12]}')"
    )
    assert not list((tmp_path / "out").rglob("*.parquet"))


def test_refuses_unknown_partition_table_and_non_empty_target(
    tmp_path: Path, world: Generation
) -> None:
    with pytest.raises(DatasetError, match=r"has no partition 'day=1999-01-01' \(partitions: day="):
        restore_table(world, "t01", "events", tmp_path, "day=1999-01-01")
    with pytest.raises(DatasetError) as info:
        restore_table(world, "t01", "nope", tmp_path)
    assert str(info.value) == (
        f"generation {world.id[:12]}: tenant t01 has no table 'nope' "
        "(tables: customers, events, orders, products)"
    )
    (tmp_path / "orders").mkdir()
    (tmp_path / "orders" / "keep.txt").write_text("mine")
    with pytest.raises(DatasetError) as info:
        restore_table(world, "t01", "orders", tmp_path)
    assert (
        str(info.value)
        == f"{tmp_path}/orders: already exists and is not empty; refusing to overwrite"
    )
    assert (tmp_path / "orders" / "keep.txt").read_text() == "mine"
