"""Streaming result checksums (``simulator.canonical.accumulator``): stability across
processes, batch invariance, and hypothesis properties (shuffle-invariant, sensitive to
every single change, batch-invariant)."""

from __future__ import annotations

import math
import subprocess
import sys
from collections import Counter

import numpy as np
import pyarrow as pa
import pytest
from canonical_helpers import mixed_table
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.canonical import (
    ChecksumAccumulator,
    ChecksumInputError,
    checksum_table,
    partition_checksums,
    row_hashes,
)
from simulator.errors import QsimError


def test_hashes_are_stable_across_processes():
    code = (
        "import pyarrow as pa;from simulator.canonical import checksum_table;"
        "r=checksum_table(pa.table({'a':[1,None,3],'s':['x','y',None]}));"
        "print(r.multiset, r.ordered)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    here = checksum_table(pa.table({"a": [1, None, 3], "s": ["x", "y", None]}))
    assert run.stdout.split() == [here.multiset, here.ordered]
    assert here.multiset == "3d200acb2738d629f5e04d7c923e148c"
    assert here.ordered == "9f61ebcd7eccaedd7c997a0d4a74fde6"


def test_batch_splitting_slicing_and_chunking_do_not_change_anything():
    table = mixed_table(1000, seed=3)
    whole = checksum_table(table)
    assert checksum_table(table.to_batches(max_chunksize=7)) == whole
    rebatched = pa.Table.from_batches(
        table.slice(0, 333).to_batches() + table.slice(333).to_batches()
    )
    assert checksum_table(rebatched) == whole
    acc = ChecksumAccumulator(table.schema)
    for start in range(0, 1000, 250):
        acc.update(table.slice(start, 250).combine_chunks().to_batches()[0])
    assert acc.finish() == whole
    hashes = row_hashes(table)
    assert np.array_equal(np.concatenate([row_hashes(b) for b in table.to_batches(13)]), hashes)


def test_empty_table_and_empty_iterable():
    empty = checksum_table(mixed_table(0))
    assert empty.row_count == 0 and empty.multiset == "0" * 32
    with pytest.raises(ChecksumInputError, match="empty"):
        checksum_table([])
    reader = pa.RecordBatchReader.from_batches(mixed_table(0).schema, [])
    assert checksum_table(reader) == empty
    assert partition_checksums(mixed_table(0), []) == {}


def test_update_refuses_a_batch_of_another_schema():
    acc = ChecksumAccumulator(pa.schema([("a", pa.int64())]))
    acc.update(pa.table({"a": pa.array([1], pa.int32())}))
    with pytest.raises(ChecksumInputError, match=r"column 0 \('a'\) is string") as err:
        acc.update(pa.table({"a": ["x"]}))
    assert isinstance(err.value, QsimError) and "\n" not in str(err.value)
    with pytest.raises(ChecksumInputError, match="2 columns"):
        acc.update(pa.table({"a": [1], "b": [2]}))


def test_ordered_digest_changes_when_two_distinct_rows_swap():
    table = pa.table({"a": [1, 2, 3]})
    swapped = pa.table({"a": [2, 1, 3]})
    assert checksum_table(table).ordered != checksum_table(swapped).ordered
    assert checksum_table(table).multiset == checksum_table(swapped).multiset


def test_per_column_checksums_name_the_changed_column():
    table = mixed_table(50, seed=5)
    changed = table.set_column(2, "s", pa.array(["changed", *table["s"].to_pylist()[1:]]))
    a, b = checksum_table(table), checksum_table(changed)
    assert [i for i, (x, y) in enumerate(zip(a.columns, b.columns, strict=True)) if x != y] == [2]


# --- properties -------------------------------------------------------------------------

cell = st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1))
text = st.one_of(st.none(), st.text(max_size=12))
real = st.one_of(st.none(), st.floats(allow_nan=True, width=64))
rows_strategy = st.lists(st.tuples(cell, cell, text, real), min_size=1, max_size=40)

SCHEMA = pa.schema([("x", pa.int64()), ("y", pa.int64()), ("s", pa.string()), ("f", pa.float64())])
PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def to_table(rows) -> pa.Table:
    return pa.Table.from_pylist([dict(zip(SCHEMA.names, r, strict=True)) for r in rows], SCHEMA)


@PROPS
@given(rows=rows_strategy, seed=st.integers(0, 2**32 - 1))
def test_shuffling_rows_never_changes_the_multiset(rows, seed):
    order = np.random.default_rng(seed).permutation(len(rows))
    a = checksum_table(to_table(rows))
    b = checksum_table(to_table([rows[i] for i in order]))
    assert (a.multiset, a.columns) == (b.multiset, b.columns)


def _differs_canonically(old, new) -> bool:
    if old is None or new is None:
        return (old is None) != (new is None)
    if isinstance(old, float):
        if math.isnan(old) or math.isnan(new):
            return math.isnan(old) != math.isnan(new)
        if math.isinf(old) or math.isinf(new):
            return old != new
        return not math.isclose(old, new, rel_tol=1e-6, abs_tol=1e-300)
    return old != new


@PROPS
@given(rows=rows_strategy, data=st.data())
def test_changing_any_single_value_changes_the_multiset_and_only_its_column(rows, data):
    r = data.draw(st.integers(0, len(rows) - 1))
    c = data.draw(st.integers(0, 3))
    new = data.draw([cell, cell, text, real][c])
    if not _differs_canonically(rows[r][c], new):
        return
    changed = [list(row) for row in rows]
    changed[r][c] = new
    a, b = checksum_table(to_table(rows)), checksum_table(to_table(changed))
    assert a.multiset != b.multiset
    assert [i for i in range(4) if a.columns[i] != b.columns[i]] == [c]


@PROPS
@given(rows=rows_strategy, data=st.data())
def test_dropping_or_duplicating_any_row_changes_the_multiset(rows, data):
    r = data.draw(st.integers(0, len(rows) - 1))
    base = checksum_table(to_table(rows)).multiset
    assert checksum_table(to_table(rows[:r] + rows[r + 1 :])).multiset != base
    assert checksum_table(to_table([*rows, rows[r]])).multiset != base


@PROPS
@given(rows=rows_strategy)
def test_swapping_same_typed_columns_changes_the_multiset(rows):
    swapped = [(y, x, s, f) for x, y, s, f in rows]
    if Counter(map(repr, rows)) == Counter(map(repr, swapped)):
        return  # e.g. rows (1, 2) and (2, 1): the swap leaves the same multiset of rows
    assert checksum_table(to_table(rows)).multiset != checksum_table(to_table(swapped)).multiset


@PROPS
@given(rows=rows_strategy, cut=st.integers(0, 40), offset=st.integers(0, 9))
def test_batch_splits_and_offsets_never_change_the_checksum(rows, cut, offset):
    padding = [(0, 0, "pad", 0.0)] * offset
    table = to_table(padding + rows).slice(offset)
    cut = min(cut, len(rows))
    batches = [*table.slice(0, cut).to_batches(), *table.slice(cut).to_batches()]
    assert checksum_table(batches) == checksum_table(to_table(rows))


@PROPS
@given(rows=rows_strategy, data=st.data())
def test_swapping_any_two_distinct_rows_changes_only_the_ordered_digest(rows, data):
    i = data.draw(st.integers(0, len(rows) - 1))
    j = data.draw(st.integers(0, len(rows) - 1))
    if not any(_differs_canonically(a, b) for a, b in zip(rows[i], rows[j], strict=True)):
        return
    swapped = list(rows)
    swapped[i], swapped[j] = rows[j], rows[i]
    a, b = checksum_table(to_table(rows)), checksum_table(to_table(swapped))
    assert a.ordered != b.ordered
    assert a.multiset == b.multiset


NESTED = pa.schema(
    [
        ("tags", pa.list_(pa.string())),
        ("point", pa.struct([("x", pa.int32()), ("y", pa.float64())])),
        ("attrs", pa.map_(pa.string(), pa.int64())),
    ]
)
nested_rows = st.lists(
    st.tuples(
        st.one_of(st.none(), st.lists(st.one_of(st.none(), st.text(max_size=4)), max_size=4)),
        st.one_of(
            st.none(),
            st.fixed_dictionaries(
                {"x": st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1)), "y": real}
            ),
        ),
        st.one_of(
            st.none(),
            st.lists(st.tuples(st.text(max_size=3), st.integers(-5, 5)), max_size=3),
        ),
    ),
    min_size=1,
    max_size=25,
)


@PROPS
@given(rows=nested_rows, seed=st.integers(0, 2**32 - 1), cut=st.integers(0, 25))
def test_nested_columns_shuffle_and_split_invariant_and_row_sensitive(rows, seed, cut):
    def table(rs):
        return pa.Table.from_pylist([dict(zip(NESTED.names, r, strict=True)) for r in rs], NESTED)

    base = checksum_table(table(rows))
    order = np.random.default_rng(seed).permutation(len(rows))
    shuffled = table([rows[k] for k in order])
    assert checksum_table(shuffled).multiset == base.multiset
    whole = table(rows)
    assert (
        checksum_table([*whole.slice(0, cut).to_batches(), *whole.slice(cut).to_batches()]) == base
    )
    assert checksum_table(table(rows[1:])).multiset != base.multiset
    assert checksum_table(table([*rows, rows[0]])).multiset != base.multiset
