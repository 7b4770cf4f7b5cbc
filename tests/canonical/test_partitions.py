"""Partition keys and per-partition checksums (``simulator.canonical.partitions``)."""

from __future__ import annotations

import datetime as dt
import decimal

import numpy as np
import pyarrow as pa
import pytest

from simulator.canonical import (
    ChecksumInputError,
    checksum_table,
    partition_checksums,
    partition_keys,
)

# --- partitions -------------------------------------------------------------------------


def test_partition_checksums_sum_to_the_table_and_name_each_partition():
    table = pa.table(
        {
            "day": pa.array(["2024-03-10", "2024-03-10", None, "2024-03-11"]),
            "tenant": pa.array([1, 2, 1, 1], pa.int8()),
            "v": [1.5, 2.5, 3.5, 4.5],
        }
    )
    parts = partition_checksums(table, ["day", "tenant"])
    assert list(parts) == [
        "day=2024-03-10/tenant=1",
        "day=2024-03-10/tenant=2",
        "day=2024-03-11/tenant=1",
        "day=__NULL__/tenant=1",
    ]
    assert all(count == 1 for count, _ in parts.values())
    whole = partition_checksums(table, [])
    assert whole == {"": (4, checksum_table(table).multiset)}
    total = sum(int(m[:16], 16) for _, m in parts.values()) % 2**64
    assert f"{total:016x}" == checksum_table(table).multiset[:16]
    assert partition_checksums(table.to_batches(max_chunksize=1), ["day", "tenant"]) == parts


def test_partition_key_text_is_canonical():
    table = pa.table(
        {
            "d": pa.array([dt.date(2024, 1, 2)], pa.date32()),
            "ts": pa.array([1_700_000_000_123_456_789], pa.timestamp("ns", tz="UTC")),
            "dec": pa.array([decimal.Decimal("1.50")], pa.decimal128(5, 2)),
            "f": [-0.0],
            "b": [True],
            "s": ["a/b=c%"],
        }
    )
    (key,) = partition_checksums(table, ["d", "ts", "dec", "f", "b", "s"])
    assert (
        key == "d=2024-01-02/ts=2023-11-14 22:13:20.123456789/dec=1.5/f=0.0/b=true/s=a%2Fb%3Dc%25"
    )
    spelled_null = pa.table({"s": ["__NULL__", None]})
    assert list(partition_checksums(spelled_null, ["s"])) == ["s=%5F_NULL__", "s=__NULL__"]
    dictionary = table.set_column(5, "s", table["s"].dictionary_encode())
    assert partition_checksums(dictionary, ["s"]) == partition_checksums(table, ["s"])


def test_partition_key_text_of_equal_instants_is_unit_independent():
    seconds = pa.table({"ts": pa.array([1_700_000_000], pa.timestamp("s")), "v": [1]})
    nanos = pa.table({"ts": pa.array([1_700_000_000 * 10**9], pa.timestamp("ns")), "v": [1]})
    assert partition_checksums(seconds, ["ts"]) == partition_checksums(nanos, ["ts"])
    assert list(partition_checksums(seconds, ["ts"])) == ["ts=2023-11-14 22:13:20"]


def test_partition_checksums_refuse_a_missing_column():
    with pytest.raises(ChecksumInputError, match="'nope' is not among"):
        partition_checksums(pa.table({"a": [1]}), ["nope"])
    twice = pa.table([pa.array([1]), pa.array([2])], names=["a", "a"])
    with pytest.raises(ChecksumInputError, match="'a' appears more than once"):
        partition_checksums(twice, ["a"])


def test_many_partitions_across_several_columns():
    rng = np.random.default_rng(11)
    n = 5000
    table = pa.table(
        {
            "a": pa.array(rng.integers(0, 3000, n)),
            "b": pa.array(rng.integers(0, 3000, n).astype(str)),
            "v": pa.array(rng.normal(size=n)),
        }
    )
    parts = partition_checksums(table, ["a", "b"])
    pairs = {(a, b) for a, b in zip(table["a"].to_pylist(), table["b"].to_pylist(), strict=True)}
    assert len(parts) == len(pairs)
    assert sum(count for count, _ in parts.values()) == n
    assert partition_checksums(table.to_batches(max_chunksize=777), ["a", "b"]) == parts


def test_partition_keys_spell_each_row_as_partition_checksums_keys_it() -> None:
    batch = pa.record_batch(
        {
            "day": pa.array([dt.date(2024, 1, 2), None, dt.date(2024, 1, 2)]),
            "region": ["eu/west", "us", "eu/west"],
            "x": [1, 2, 3],
        }
    )
    keys = partition_keys(batch, ["day", "region"])
    assert keys == ["day=2024-01-02/region=eu%2Fwest", "day=__NULL__/region=us", keys[0]]
    assert sorted(set(keys)) == sorted(partition_checksums(batch, ["day", "region"]))
    assert partition_keys(batch, []) == ["", "", ""]
