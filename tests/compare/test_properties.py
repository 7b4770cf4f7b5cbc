"""Hypothesis properties of the unordered verdict over every Arrow type the adapters return,
nested ones included: shuffling rows never changes it; changing any single value (beyond
float tolerance), dropping or duplicating any row, or swapping two same-typed columns that
differ always gives ``result_mismatch``."""

from __future__ import annotations

import datetime as dt
import decimal
import math
import tempfile
from collections import Counter
from pathlib import Path

import pyarrow as pa
from compare_records import Query, execution
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from simulator.compare.judge import judge_query
from simulator.config import CompareSection

CFG = CompareSection()
SMALL = st.integers(-50, 50)
TEXT = st.text(max_size=4)
UTC = dt.UTC

# (arrow type, strategy of one non-null value)
TYPES = [
    (pa.int8(), st.integers(-128, 127)),
    (pa.int32(), st.integers(-(2**31), 2**31 - 1)),
    (pa.int64(), st.integers(-(2**63), 2**63 - 1)),
    (pa.uint64(), st.integers(0, 2**64 - 1)),
    (pa.float32(), st.floats(width=32, allow_nan=False)),
    (pa.float64(), st.floats(allow_nan=False)),
    (pa.decimal128(18, 4), st.decimals(-(10**13), 10**13, places=4, allow_nan=False)),
    (pa.string(), TEXT),
    (pa.large_string(), TEXT),
    (pa.binary(), st.binary(max_size=4)),
    (pa.bool_(), st.booleans()),
    (pa.date32(), st.dates()),
    (pa.timestamp("us"), st.datetimes()),
    (pa.timestamp("us", tz="UTC"), st.datetimes(timezones=st.just(UTC))),
    (pa.time64("us"), st.times()),
    (pa.list_(pa.int64()), st.lists(st.none() | SMALL, max_size=3)),
    (pa.list_(pa.string()), st.lists(TEXT, max_size=3)),
    (
        pa.struct([("a", pa.int64()), ("b", pa.string())]),
        st.fixed_dictionaries({"a": st.none() | SMALL, "b": st.none() | TEXT}),
    ),
    (pa.map_(pa.string(), pa.int64()), st.lists(st.tuples(TEXT, SMALL), max_size=3)),
    (
        pa.list_(pa.struct([("x", pa.float64())])),
        st.lists(st.fixed_dictionaries({"x": st.floats(-1e6, 1e6)}), max_size=2),
    ),
]
TYPE_INDEX = st.integers(0, len(TYPES) - 1)
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def column(data, index: int, rows: int) -> list:
    _, values = TYPES[index]
    return data.draw(st.lists(st.none() | values, min_size=rows, max_size=rows))


def build(index: int, a: list, b: list) -> pa.Table:
    type_ = TYPES[index][0]
    return pa.table({"a": pa.array(a, type_), "b": pa.array(b, type_)})


def verdict(base: pa.Table, cand: pa.Table) -> str:
    with tempfile.TemporaryDirectory() as folder:
        result = judge_query(
            Query(),
            [execution(base, folder=Path(folder))],
            execution(cand, folder=Path(folder), engine="c"),
            CFG,
            "c",
            "run",
        )
        return result.verdict


def canonical_key(value) -> str:
    """A text key equal for canonically equal values (-0.0 == 0.0, 1.50 == 1.5)."""
    if isinstance(value, float):
        return repr(value + 0.0)
    if isinstance(value, decimal.Decimal):
        return str(value.normalize() + 0)
    if isinstance(value, list | tuple):
        return "[" + ",".join(canonical_key(v) for v in value) + "]"
    if isinstance(value, dict):  # a struct value: fields by name, whatever order they came in
        return "{" + ",".join(f"{k}:{canonical_key(v)}" for k, v in sorted(value.items())) + "}"
    return repr(value)


def materially_different(old, new, narrow: bool) -> bool:
    """Python equality, except floats and decimals must differ beyond the tolerance."""
    if isinstance(old, float | decimal.Decimal) and isinstance(new, float | decimal.Decimal):
        old, new = float(old), float(new)
        if math.isinf(old) or math.isinf(new):
            return old != new
        return not math.isclose(old, new, rel_tol=1e-4 if narrow else 1e-8, abs_tol=1e-9)
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return any(materially_different(o, n, narrow) for o, n in zip(old, new, strict=True))
    if isinstance(old, dict) and isinstance(new, dict):
        return any(materially_different(old[k], new[k], narrow) for k in old)
    return old != new


@PROPERTY
@given(TYPE_INDEX, st.integers(1, 6), st.data())
def test_shuffling_rows_never_changes_the_unordered_verdict(index, rows, data):
    table = build(index, column(data, index, rows), column(data, index, rows))
    order = data.draw(st.permutations(list(range(rows))))
    assert verdict(table, table.take(order)) == "match"


@PROPERTY
@given(TYPE_INDEX, st.integers(1, 6), st.data())
def test_changing_any_single_value_gives_result_mismatch(index, rows, data):
    a, b = column(data, index, rows), column(data, index, rows)
    row = data.draw(st.integers(0, rows - 1))
    new = data.draw(st.none() | TYPES[index][1])
    narrow = TYPES[index][0] == pa.float32()
    if new is None or a[row] is None:
        assume(new is not a[row])
    else:
        assume(materially_different(a[row], new, narrow))
    changed = [*a[:row], new, *a[row + 1 :]]
    assert verdict(build(index, a, b), build(index, changed, b)) == "result_mismatch"


@PROPERTY
@given(TYPE_INDEX, st.integers(1, 6), st.data(), st.booleans())
def test_dropping_or_duplicating_any_row_gives_result_mismatch(index, rows, data, duplicate):
    table = build(index, column(data, index, rows), column(data, index, rows))
    row = data.draw(st.integers(0, rows - 1))
    if duplicate:
        changed = pa.concat_tables([table, table.slice(row, 1)])
    else:
        changed = pa.concat_tables([table.slice(0, row), table.slice(row + 1)])
    assert verdict(table, changed) == "result_mismatch"


@PROPERTY
@given(TYPE_INDEX, st.integers(1, 6), st.data())
def test_swapping_two_same_typed_columns_gives_result_mismatch(index, rows, data):
    a, b = column(data, index, rows), column(data, index, rows)
    narrow = TYPES[index][0] == pa.float32()
    # Any two values of the table are either identical or clearly apart (not within float
    # tolerance): else a tolerant row matching may pair (None, 0.0) with (None, 1e-308)
    # across rows and rightly call the swap a match...
    values = [v for v in (*a, *b) if v is not None]
    assume(all(x == y or materially_different(x, y, narrow) for x in values for y in values))
    # ...and the swap changes the multiset of rows ((1, 2), (2, 1) swapped is itself).
    pairs = Counter(canonical_key(pair) for pair in zip(a, b, strict=True))
    swapped = Counter(canonical_key(pair) for pair in zip(b, a, strict=True))
    assume(pairs != swapped)
    assert verdict(build(index, a, b), build(index, b, a)) == "result_mismatch"
