"""Canonical value hashes (``simulator.canonical.values``): one test per
canonicalization rule of ``simulator.canonical.spec``, and the pinned golden hashes."""

from __future__ import annotations

import decimal
import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from canonical_helpers import h, same

from simulator.canonical import (
    CANONICAL_VERSION,
    FLOAT_MANTISSA_BITS,
    NULL_HASH,
    canonical_type,
    value_hashes,
)

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
