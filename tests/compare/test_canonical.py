"""Canonical hashing: one test per canonicalization rule, plus hypothesis properties of the
result checksums (shuffle-invariant, sensitive to every single change, batch-invariant)."""

from __future__ import annotations

import datetime as dt
import decimal
import math
import subprocess
import sys
from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import xxhash
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.compare.canonical import (
    _T_BINARY,
    _T_STRING,
    CANONICAL_VERSION,
    FLOAT_MANTISSA_BITS,
    NULL_HASH,
    ChecksumAccumulator,
    ChecksumInputError,
    ResultChecksum,
    canonical_type,
    checksum_table,
    partition_checksums,
    row_hashes,
    value_hashes,
)
from simulator.errors import QsimError


def h(values, type_=None) -> list[int]:
    return [int(x) for x in value_hashes(pa.array(values, type_))]


def same(a, type_a, b, type_b) -> bool:
    return h(a, type_a) == h(b, type_b)


# --- integers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "type_", [pa.int8(), pa.int16(), pa.int32(), pa.uint8(), pa.uint16(), pa.uint32(), pa.uint64()]
)
def test_integers_hash_by_value_across_widths(type_):
    assert same([0, 5, 100, None], type_, [0, 5, 100, None], pa.int64())


def test_signed_negative_integers_across_widths():
    assert same([-1, -128], pa.int8(), [-1, -128], pa.int64())


def test_uint64_above_2_63_is_exact_and_not_the_negative_int64_with_its_bits():
    big = [2**63, 2**64 - 1, 2**63 + 1]
    assert len(set(h(big, pa.uint64()))) == 3
    assert h([2**64 - 1], pa.uint64()) != h([-1], pa.int64())
    assert h([2**63], pa.uint64()) != h([-(2**63)], pa.int64())
    assert same([2**63 - 1], pa.uint64(), [2**63 - 1], pa.int64())


def test_distinct_integers_hash_distinct():
    values = list(range(-5000, 5000))
    assert len(set(h(values, pa.int64()))) == len(values)


# --- floats ---------------------------------------------------------------------------


def test_float_widths_widen_exactly():
    values = [0.5, 1.25, -3.0, None, math.inf, -math.inf, math.nan]
    assert same(values, pa.float32(), values, pa.float64())
    assert same(values, pa.float16(), values, pa.float64())


def test_float_negative_zero_is_zero_and_nans_are_one():
    assert same([-0.0], pa.float64(), [0.0], pa.float64())
    payload_nan = np.array([0x7FF8000000000001, 0xFFF8000000000000], np.uint64).view(np.float64)
    assert len(set(h([*list(payload_nan), math.nan], pa.float64()))) == 1


def test_float_infinities_are_exact():
    inf, ninf, big = h([math.inf, -math.inf, np.finfo(np.float64).max], pa.float64())
    assert len({inf, ninf, big}) == 3


def test_float_summation_order_noise_hashes_equal():
    rng = np.random.default_rng(7)
    values = rng.normal(size=1000) * 1e6
    forward = float(np.sum(values))
    backward = float(math.fsum(values[::-1]))
    shuffled = float(sum(rng.permutation(values).tolist()))
    assert forward != shuffled or forward != backward
    x = 0.1 + 0.2
    assert x != 0.3
    assert same([x, forward], pa.float64(), [0.3, backward], pa.float64())


def test_float_relative_change_above_quantum_differs():
    assert FLOAT_MANTISSA_BITS == 32
    assert not same([1.0], pa.float64(), [1.0 + 1e-8], pa.float64())
    assert not same([123456.789], pa.float64(), [123456.789 * (1 + 1e-3)], pa.float64())


def test_float_rounding_at_the_top_of_the_range_stays_finite():
    top = np.finfo(np.float64).max
    assert h([top], pa.float64()) != h([math.inf], pa.float64())


def test_float_tiny_negative_rounds_to_positive_zero():
    assert same([-5e-324], pa.float64(), [0.0], pa.float64())


def test_floats_and_ints_need_not_match_but_null_nan_zero_empty_differ():
    hashes = {
        h([None], pa.float64())[0],
        h([math.nan], pa.float64())[0],
        h([0.0], pa.float64())[0],
        h([0], pa.int64())[0],
        h([""], pa.string())[0],
        h([b""], pa.binary())[0],
        h([False], pa.bool_())[0],
    }
    assert len(hashes) == 7


# --- decimals -------------------------------------------------------------------------


def test_decimals_hash_by_value_independent_of_scale():
    d = decimal.Decimal
    assert same([d("1.50")], pa.decimal128(10, 2), [d("1.5")], pa.decimal128(5, 1))
    assert same([d("1.50")], pa.decimal128(10, 2), [d("1.500")], pa.decimal256(40, 3))
    assert same([d("100")], pa.decimal128(5, 0), [d("100.00")], pa.decimal128(7, 2))
    assert same([d("0")], pa.decimal128(5, 0), [d("0.000")], pa.decimal128(7, 3))
    assert same([d("-2.5")], pa.decimal32(5, 1), [d("-2.50")], pa.decimal64(12, 2))
    assert not same([d("1.5")], pa.decimal128(5, 1), [d("1.6")], pa.decimal128(5, 1))
    assert not same([d("1.5")], pa.decimal128(5, 1), [d("-1.5")], pa.decimal128(5, 1))


def test_decimals_beyond_int64_are_exact():
    d = decimal.Decimal
    big = d("12345678901234567890123.45")
    assert same(
        [big], pa.decimal128(30, 2), [d("12345678901234567890123.4500")], pa.decimal256(50, 4)
    )
    assert not same([big], pa.decimal128(30, 2), [big + d("0.01")], pa.decimal128(30, 2))
    # 10**30 strips to 1e30, a small unscaled value: same path as a scale-0 decimal of it.
    assert same([d(10**30)], pa.decimal128(38, 0), [d(10**30)], pa.decimal256(60, 5))
    negative = d("-99999999999999999999999999.99")
    assert same([negative], pa.decimal128(38, 2), [negative], pa.decimal256(40, 2))


# --- strings and binary ---------------------------------------------------------------


def fmix64(k: int) -> int:
    mask = 2**64 - 1
    k ^= k >> 33
    k = (k * 0xFF51AFD7ED558CCD) & mask
    k ^= k >> 33
    k = (k * 0xC4CEB9FE1A85EC53) & mask
    return k ^ (k >> 33)


def test_string_kernel_is_xxh3_of_the_bytes_mixed_with_the_type_tag():
    rng = np.random.default_rng(1)
    lengths = [*range(0, 300), 1023, 1024, 1025, 2048, 2100, 5000]
    samples = [bytes(rng.integers(0, 256, n, dtype=np.uint8)) for n in lengths]
    got = value_hashes(pa.array(samples, pa.binary()))
    want = [fmix64(xxhash.xxh3_64_intdigest(s) ^ int(_T_BINARY)) for s in samples]
    assert [int(x) for x in got] == want
    texts = ["", "a", "ünïcødé ✓" * 40]
    want_text = [fmix64(xxhash.xxh3_64_intdigest(t.encode()) ^ int(_T_STRING)) for t in texts]
    assert h(texts, pa.string()) == want_text
    for width in (5, 300):
        blobs = [bytes(rng.integers(0, 256, width, dtype=np.uint8)) for _ in range(4)]
        fixed = pa.array(blobs, pa.binary(width)).slice(1)
        want_fixed = [fmix64(xxhash.xxh3_64_intdigest(b) ^ int(_T_BINARY)) for b in blobs[1:]]
        assert [int(x) for x in value_hashes(fixed)] == want_fixed


@pytest.mark.parametrize("type_", [pa.large_string(), pa.string_view()])
def test_string_types_hash_alike(type_):
    values = ["", "a", "ünïcødé ✓", "x" * 100, None]
    assert same(values, type_, values, pa.string())


@pytest.mark.parametrize("type_", [pa.large_binary(), pa.binary_view()])
def test_binary_types_hash_alike(type_):
    values = [b"", b"\x00\xff", b"y" * 70, None]
    assert same(values, type_, values, pa.binary())
    assert same([b"abcd"], pa.binary(4), [b"abcd"], pa.binary())


def test_binary_and_string_are_tagged_apart():
    assert h(["ab"], pa.string()) != h([b"ab"], pa.binary())


def test_dictionary_arrays_hash_as_decoded_values():
    values = ["b", None, "a", "b", "c"]
    encoded = pa.array(values).dictionary_encode()
    assert [int(x) for x in value_hashes(encoded)] == h(values, pa.string())
    assert [int(x) for x in value_hashes(encoded.slice(1, 3))] == h(values[1:4], pa.string())
    with_null_value = pa.DictionaryArray.from_arrays(pa.array([0, 1]), pa.array(["a", None]))
    assert [int(x) for x in value_hashes(with_null_value)] == h(["a", None], pa.string())


# --- temporal -------------------------------------------------------------------------


def test_timestamps_hash_by_utc_nanoseconds_regardless_of_unit_and_zone():
    base = 1_700_000_000
    s = h([base, None], pa.timestamp("s"))
    assert s == h([base * 1000, None], pa.timestamp("ms"))
    assert s == h([base * 10**6, None], pa.timestamp("us", tz="UTC"))
    assert s == h([base * 10**9, None], pa.timestamp("ns", tz="America/New_York"))
    assert h([base], pa.timestamp("s")) != h([base + 1], pa.timestamp("s"))


def test_timestamps_beyond_the_nanosecond_range_are_exact():
    far = 10**12  # seconds: year ~33658, beyond int64 nanoseconds
    assert same([far], pa.timestamp("s"), [far * 1000], pa.timestamp("ms"))
    assert same([-far], pa.timestamp("s"), [-far * 10**6], pa.timestamp("us"))
    assert not same([far], pa.timestamp("s"), [far + 1], pa.timestamp("s"))
    assert not same([far * 1000 + 1], pa.timestamp("ms"), [far * 1000], pa.timestamp("ms"))


def test_dates_hash_by_day_number():
    days = [0, 19000, -1, None]
    assert same(
        days, pa.date32(), [d * 86_400_000 if d is not None else None for d in days], pa.date64()
    )
    assert h([1], pa.date32()) != h([1], pa.int32())


def test_times_hash_by_nanoseconds():
    assert same([3600, None], pa.time32("s"), [3600 * 10**9, None], pa.time64("ns"))
    assert same([1500], pa.time32("ms"), [1_500_000], pa.time64("us"))


def test_durations_and_intervals_are_canonical():
    assert same([5], pa.duration("s"), [5 * 10**9], pa.duration("ns"))
    interval = pa.array([pa.MonthDayNano([0, 0, 5 * 10**9])], pa.month_day_nano_interval())
    assert [int(x) for x in value_hashes(interval)] == h([5], pa.duration("s"))
    others = pa.array(
        [pa.MonthDayNano([1, 0, 0]), pa.MonthDayNano([0, 30, 0]), pa.MonthDayNano([0, 0, 0]), None],
        pa.month_day_nano_interval(),
    )
    assert len({int(x) for x in value_hashes(others)}) == 4
    assert same([10**12], pa.duration("s"), [10**15], pa.duration("ms"))


# --- bool, null -----------------------------------------------------------------------


def test_bool_and_null():
    t, f, n = h([True, False, None], pa.bool_())
    assert len({t, f, n}) == 3 and n == int(NULL_HASH)
    assert h([None, None], pa.null()) == [int(NULL_HASH)] * 2
    assert h([1], pa.int64()) != [t]


def test_sliced_bool_and_validity_bitmaps_use_their_offset():
    values = [True, None, False, True, None, True, False, False, True, None, True]
    arr = pa.array(values, pa.bool_())
    for start in range(len(values)):
        assert [int(x) for x in value_hashes(arr.slice(start))] == h(values[start:], pa.bool_())


# --- nested ---------------------------------------------------------------------------


def test_lists_are_ordered_and_length_sensitive():
    a, b, c, empty, null, with_null = h(
        [[1, 2], [2, 1], [1, 2, 3], [], None, [1, None]], pa.list_(pa.int64())
    )
    assert len({a, b, c, empty, null, with_null}) == 6
    assert null == int(NULL_HASH)


@pytest.mark.parametrize(
    "type_",
    [
        pa.large_list(pa.int32()),
        pa.list_view(pa.int16()),
        pa.large_list_view(pa.int64()),
    ],
)
def test_list_types_hash_alike(type_):
    values = [[1, 2], [], None, [3]]
    assert same(values, type_, values, pa.list_(pa.int64()))


def test_fixed_size_list_and_slices():
    values = [[1, 2], None, [3, 4], [5, 6]]
    fixed = pa.array(values, pa.list_(pa.int64(), 2))
    assert [int(x) for x in value_hashes(fixed)] == h(values, pa.list_(pa.int64()))
    assert [int(x) for x in value_hashes(fixed.slice(2))] == h(values[2:], pa.list_(pa.int64()))
    lists = pa.array(values, pa.list_(pa.int64()))
    assert [int(x) for x in value_hashes(lists.slice(1, 2))] == h(values[1:3], pa.list_(pa.int64()))


def test_structs_by_field_position_and_value():
    type_ = pa.struct([("a", pa.int64()), ("b", pa.int64())])
    x, y, z, null = h([{"a": 1, "b": 2}, {"a": 2, "b": 1}, {"a": 1, "b": None}, None], type_)
    assert len({x, y, z, null}) == 4 and null == int(NULL_HASH)
    renamed = pa.struct([("p", pa.int8()), ("q", pa.int32())])
    assert h([{"p": 1, "q": 2}], renamed) == [x]
    values = [{"a": 1, "b": 2}, None, {"a": 3, "b": 4}]
    sliced = pa.array(values, type_).slice(1)
    assert [int(v) for v in value_hashes(sliced)] == h(values[1:], type_)


def test_maps_are_order_insensitive_over_entries():
    type_ = pa.map_(pa.string(), pa.int64())
    ab, ba, other, empty, null = h(
        [[("a", 1), ("b", 2)], [("b", 2), ("a", 1)], [("a", 2), ("b", 1)], [], None], type_
    )
    assert ab == ba
    assert len({ab, other, empty, null}) == 4


def test_nested_list_of_structs_with_nulls():
    type_ = pa.list_(pa.struct([("k", pa.string()), ("v", pa.float64())]))
    values = [[{"k": "x", "v": 1.0}, None], [{"k": "x", "v": None}], None, []]
    assert len(set(h(values, type_))) == 4
    assert h(values, type_) == h(values, type_)


def test_run_end_encoded_and_extension_arrays_hash_as_their_values():
    values = [1, 1, None, None, 7]
    encoded = pc.run_end_encode(pa.array(values, pa.int64()))
    assert [int(x) for x in value_hashes(encoded)] == h(values, pa.int64())
    assert canonical_type(encoded.type) == "int"
    uuid = pa.ExtensionArray.from_storage(pa.uuid(), pa.array([b"u" * 16, None], pa.binary(16)))
    assert [int(x) for x in value_hashes(uuid)] == h([b"u" * 16, None], pa.binary())


def test_sliced_maps_and_struct_children_use_their_offsets():
    type_ = pa.map_(pa.string(), pa.int64())
    values = [[("a", 1)], None, [("b", 2), ("c", 3)], []]
    assert [int(x) for x in value_hashes(pa.array(values, type_).slice(1))] == h(values[1:], type_)


def test_unions_hash_the_member_value_tagged_with_its_member():
    ints, strs = pa.array([1, 2, None, 1]), pa.array(["a", "1", "c", None])
    sparse = pa.UnionArray.from_sparse(
        pa.array([5, 7, 5, 7], pa.int8()), [ints, strs], type_codes=[5, 7]
    )
    hashes = [int(x) for x in value_hashes(sparse)]
    assert hashes[2] == hashes[3] == int(NULL_HASH)
    assert len(set(hashes[:2])) == 2 and hashes[0] != h([1], pa.int64())[0]
    assert [int(x) for x in value_hashes(sparse.slice(1))] == hashes[1:]
    dense = pa.UnionArray.from_dense(
        pa.array([0, 1, 0, 1], pa.int8()),
        pa.array([0, 0, 1, 1], pa.int32()),
        [pa.array([1, None]), pa.array(["1", None])],
    )
    dense_hashes = [int(x) for x in value_hashes(dense)]
    assert dense_hashes == [hashes[0], hashes[1], int(NULL_HASH), int(NULL_HASH)]
    assert [int(x) for x in value_hashes(dense.slice(1))] == dense_hashes[1:]
    assert canonical_type(dense.type) == "union<0:int,1:string>"


# --- chunking, canonical types, stability ----------------------------------------------


def test_chunked_arrays_hash_like_one_array():
    values = ["a", None, "bb", "ccc", ""]
    chunked = pa.chunked_array([values[:2], values[2:3], [], values[3:]])
    assert [int(x) for x in value_hashes(chunked)] == h(values, pa.string())


def test_canonical_type_names():
    cases = {
        pa.int8(): "int",
        pa.uint64(): "int",
        pa.float32(): "float",
        pa.decimal128(5, 2): "decimal",
        pa.large_string(): "string",
        pa.string_view(): "string",
        pa.binary(3): "binary",
        pa.bool_(): "bool",
        pa.date64(): "date",
        pa.timestamp("us"): "timestamp",
        pa.timestamp("ns", tz="UTC"): "timestamptz",
        pa.time64("ns"): "time",
        pa.duration("s"): "interval",
        pa.month_day_nano_interval(): "interval",
        pa.null(): "null",
        pa.dictionary(pa.int32(), pa.string()): "string",
        pa.large_list(pa.int16()): "list<int>",
        pa.struct([("a", pa.int8()), ("b", pa.string())]): "struct<a:int,b:string>",
        pa.map_(pa.string(), pa.float64()): "map<string,float>",
    }
    assert {t: canonical_type(t) for t in cases} == cases


GOLDEN = [
    ([5, None], pa.int64(), [0x35C8F46C448B2F7B, 0xC25681135D8B037F]),
    ([1.5, math.nan], pa.float64(), [0xA148D2F08780A484, 0x81972B5748E35470]),
    ([decimal.Decimal("1.50")], pa.decimal128(5, 2), [0xC638D80F7D3D8E44]),
    (["qsim", ""], pa.string(), [0xCCEEDB1AD45ED84B, 0xC665C9D30304234D]),
    ([b"qsim"], pa.binary(), [0x4A7BA92B33AF5DE3]),
    ([True], pa.bool_(), [0xF1F43D7FD38088C7]),
    ([1_700_000_000_000_000], pa.timestamp("us", tz="UTC"), [0xDCA8CABBE66E5018]),
    ([19000], pa.date32(), [0x176AD12D72783813]),
    ([3600], pa.time32("s"), [0xBAF45C72080C15A9]),
    ([5], pa.duration("s"), [0xA6366DB7E06D8040]),
    ([[1, 2]], pa.list_(pa.int64()), [0x909DD2D3C3BC53F9]),
    ([{"a": 1}], pa.struct([("a", pa.int64())]), [0x6428AAF67FCBC2C1]),
    ([[("k", 1)]], pa.map_(pa.string(), pa.int64()), [0xE63405F1A1A5BDDD]),
]


@pytest.mark.parametrize(("values", "type_", "expected"), GOLDEN, ids=[str(g[1]) for g in GOLDEN])
def test_golden_hashes_are_pinned(values, type_, expected):
    # A failure here means checksums stored by an earlier qsim no longer compare equal:
    # if the change is deliberate, bump CANONICAL_VERSION and update these values.
    assert CANONICAL_VERSION == 1
    assert h(values, type_) == expected


def test_hashes_are_stable_across_processes():
    code = (
        "import pyarrow as pa;from simulator.compare.canonical import checksum_table;"
        "r=checksum_table(pa.table({'a':[1,None,3],'s':['x','y',None]}));"
        "print(r.multiset, r.ordered)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    here = checksum_table(pa.table({"a": [1, None, 3], "s": ["x", "y", None]}))
    assert run.stdout.split() == [here.multiset, here.ordered]
    assert here.multiset == "3d200acb2738d629f5e04d7c923e148c"
    assert here.ordered == "9f61ebcd7eccaedd7c997a0d4a74fde6"


# --- result checksums -------------------------------------------------------------------


def mixed_table(n: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    ints = pa.array(rng.integers(-1000, 1000, n), mask=rng.random(n) < 0.1)
    floats = pa.array(rng.normal(size=n), mask=rng.random(n) < 0.1)
    strings = pa.array([f"s{v}" for v in rng.integers(0, 50, n)], mask=rng.random(n) < 0.1)
    times = pa.array(rng.integers(0, 10**15, n), pa.timestamp("us", tz="UTC"))
    return pa.table({"i": ints, "f": floats, "s": strings, "t": times})


def test_checksum_fields_and_round_trip():
    table = mixed_table(100)
    result = checksum_table(table)
    assert result.row_count == 100
    assert len(result.multiset) == 32 and len(result.ordered) == 32
    assert len(result.columns) == 4
    assert result.column_names == ("i", "f", "s", "t")
    assert result.column_types == ("int", "float", "string", "timestamptz")
    assert result.version == CANONICAL_VERSION
    assert ResultChecksum.from_dict(result.to_dict()) == result


def test_from_dict_refuses_a_bad_field_naming_it():
    bad = checksum_table(mixed_table(3)).to_dict()
    del bad["multiset"]
    with pytest.raises(ChecksumInputError, match="'multiset'"):
        ResultChecksum.from_dict(bad)


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


def test_wide_tables_are_hashed_in_smaller_steps_with_the_same_result():
    columns, rows = 1000, 5000
    rng = np.random.default_rng(3)
    wide = pa.table({f"c{j}": rng.integers(0, 100, rows) for j in range(columns)})
    assert rows > (1 << 22) // columns  # more rows than one step holds
    whole = checksum_table(wide)
    assert whole.row_count == rows
    assert checksum_table(wide.to_batches(max_chunksize=999)) == whole
    swapped = wide.select([1, 0, *range(2, columns)])
    assert checksum_table(swapped).multiset != whole.multiset
    (key,) = partition_checksums(wide, [])
    assert partition_checksums(wide, [])[key] == (rows, whole.multiset)
