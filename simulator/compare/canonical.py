"""Canonical value hashing: one stable 64-bit hash per value, row, column and result.

qsim computes every checksum itself from Arrow data, never with an engine's hash function
(those change between versions). Values are first put in a canonical form, so that two
engines returning the same logical value in different physical types hash equal, then mixed
with the murmur3 64-bit finalizer (a bijection) or hashed with XXH3-64 (variable-length data,
bit-identical to ``xxhash.xxh3_64``, then mixed with the type's tag).
All constants derive from fixed strings, so hashes are the same across runs, processes and
machines, and the same however rows are split into batches, chunks or slices.

Canonicalization rules (each one tested in ``tests/compare/test_canonical.py``):

- NULL: every NULL, of any type, hashes to the one constant ``NULL_HASH``, distinct from
  NaN, 0, ``''``, an empty list and every other non-null value (up to a 2**-64 chance).
- Integers of every width and signedness hash by value: int8 5 == int64 5 == uint32 5.
  uint64 values at or above 2**63 are hashed exactly under their own tag, so they never
  collide with the negative int64 that shares their bit pattern.
- Floats: float16 and float32 are widened to float64 (exact); -0.0 hashes as 0.0; every NaN
  payload hashes as one NaN; +inf and -inf are exact. Finite values are quantized by
  rounding the 52-bit mantissa to ``FLOAT_MANTISSA_BITS`` bits (round-to-nearest on the bit
  pattern, a carry moves into the exponent), a relative step of 2**-32 (about 2.3e-10), so
  last-bit noise from summation order hashes equal. Two values on either side of a rounding
  boundary can still hash differently, however close they are: a float-only mismatch must
  be confirmed by a tolerant comparison (the comparison stage does). Floats and integers do
  not hash equal (a type difference is the schema comparison's business).
- Decimals hash by numeric value, independent of precision and scale: the unscaled integer
  is stripped of trailing zeros first, so 1.50 decimal(10,2) == 1.5 decimal(5,1) == 1.500
  decimal256(40,3). decimal32/64/128/256 all hash alike.
- Strings (string, large_string, string_view) hash their UTF-8 bytes with XXH3-64; binary
  (binary, large_binary, binary_view, fixed_size_binary) hashes its bytes with a different
  seed, so 'ab' != b'ab'. Dictionary arrays hash as their decoded values.
- Timestamps hash as UTC nanoseconds whatever the unit (1 s == 1000 ms == 10**9 ns);
  tz-aware and naive timestamps with the same stored numbers hash equal (the canonical type
  names differ: ``timestamptz`` vs ``timestamp``). Values beyond the int64 nanosecond range
  hash exactly as (seconds, sub-second nanoseconds) under their own tag.
- Dates hash by day number (date32 == date64 on the same day). Times (time32/time64) hash
  by nanoseconds since midnight.
- Durations and intervals hash as (months, days, nanoseconds): a month_day_nano interval
  with zero months and days hashes equal to the duration of the same nanoseconds.
- Booleans hash 0/1 under their own tag; the null type is all NULLs.
- Lists (list, large_list, list_view, fixed_size_list) are ordered: the hash chains the
  length then each element's hash, so position and length matter and a NULL list differs
  from an empty list.
- Structs chain their field hashes by position (a NULL struct is NULL; its fields are not
  looked at). Maps are order-insensitive over their entries: the sum of (key, value) entry
  hashes, with duplicates counted. Unions (sparse or dense) hash the member value tagged
  with the member's position; a NULL member value is NULL.
- Rows chain their column hashes by position, so swapping two same-typed columns changes
  the row hash, and changing one value always changes it (each step is a bijection).

Result checksums: ``multiset`` is 128 bits, two 64-bit sums mod 2**64 (hex, lane one then
lane two): of the row hashes, and of a remix of each row hash, so it is order-insensitive,
counts duplicates, adds up across batches and partitions lane by lane, and a second lane
guards against differences that cancel in the first; ``ordered`` is xxh3-128 streamed over
the row-hash buffer in arrival order; ``columns`` holds one order-insensitive sum per column
position.
"""

from __future__ import annotations

import datetime as dt
import decimal
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from simulator.errors import QsimError

if sys.byteorder != "little":
    # The kernels read words in native order; hashes are defined by the little-endian result.
    raise ImportError("simulator.compare.canonical needs a little-endian machine")

# Bump when any rule above changes: stored checksums of an older version are not comparable.
CANONICAL_VERSION = 1

# Mantissa bits kept when quantizing finite floats (of float64's 52).
FLOAT_MANTISSA_BITS = 32

# Rows hashed per step; bounds memory and keeps the per-column hash arrays in cache. Wide
# tables take fewer rows per step so one step's hashes stay within _STEP_CELLS (32 MB).
BATCH_ROWS = 1 << 16
_STEP_CELLS = 1 << 22


def _rows_per_step(num_columns: int) -> int:
    return max(1, min(BATCH_ROWS, _STEP_CELLS // max(1, num_columns)))


NULL_PARTITION = "__NULL__"


class ChecksumInputError(QsimError, TypeError):
    """Data qsim cannot checksum: an unsupported Arrow type, a batch that does not match
    the schema it is streamed into, a missing partition column, a malformed checksum."""


def _tag(name: str) -> np.uint64:
    return np.uint64(xxhash.xxh64_intdigest(f"qsim-canonical:{name}".encode()))


NULL_HASH = _tag("null")
_T_INT = _tag("int")
_T_UINT_HIGH = _tag("uint64-high")
_T_FLOAT = _tag("float")
_T_DECIMAL = _tag("decimal")
_T_DECIMAL_BIG = _tag("decimal-big")
_T_STRING = _tag("string")
_T_BINARY = _tag("binary")
_T_BOOL = _tag("bool")
_T_TIMESTAMP = _tag("timestamp")
_T_BIG_NS = _tag("nanoseconds-beyond-int64")
_T_DATE = _tag("date")
_T_TIME = _tag("time")
_T_INTERVAL = _tag("interval")
_T_LIST = _tag("list")
_T_STRUCT = _tag("struct")
_T_MAP = _tag("map")
_T_MAP_KEY = _tag("map-key")
_T_UNION = _tag("union")
_T_ROW = _tag("row")
_T_LANE2 = _tag("multiset-lane-2")

_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)
_S33 = np.uint64(33)
_P1 = np.uint64(0x9E3779B185EBCA87)
_P2 = np.uint64(0xC2B2AE3D27D4EB4F)
_P3 = np.uint64(0x165667B19E3779F9)
_P4 = np.uint64(0x85EBCA77C2B2AE63)
_P5 = np.uint64(0x27D4EB2F165667C5)
_P32_1 = np.uint64(0x9E3779B1)
_P32_2 = np.uint64(0x85EBCA77)
_P32_3 = np.uint64(0xC2B2AE3D)
_MX1 = np.uint64(0x165667919E3779F9)
_MX2 = np.uint64(0x9FB21C651E98DF25)
_LOW32 = np.uint64(0xFFFFFFFF)
# XXH3's default secret (xxhash_spec.md), read as little-endian words.
_SECRET = np.frombuffer(
    bytes.fromhex(
        "b8fe6c3923a44bbe7c01812cf721ad1cded46de9839097db7240a4a4b7b3671f"
        "cb79e64eccc0e578825ad07dccff7221b8084674f743248ee03590e6813a264c"
        "3c2852bb91c300cb88d0658b1b532ea371644897a20df94e3819ef46a9deacd8"
        "a8fa763fe39c343ff9dcbbc7c70b4f1d8a51e04bcdb45931c89f7ec9d9787364"
        "eac5ac8334d3ebc3c581a0fffa1363eb170ddd51b7f0da49d316552629d4689e"
        "2b16be587d47a1fc8ff8b8d17ad031ce45cb3a8f95160428afd7fbcabb4b407e"
    ),
    dtype=np.uint8,
)
_XXH3_MID_MAX = 240

_DROP_BITS = 52 - FLOAT_MANTISSA_BITS
_F_HALF = np.uint64(1 << (_DROP_BITS - 1))
_F_KEEP = np.uint64(~((1 << _DROP_BITS) - 1) & 0xFFFFFFFFFFFFFFFF)
_F_EXP = np.uint64(0x7FF0000000000000)
_F_ABS = np.uint64(0x7FFFFFFFFFFFFFFF)
_F_MANT = np.uint64(0x000FFFFFFFFFFFFF)
_F_NAN = np.uint64(0x7FF8000000000000)
_U_HIGH = np.uint64(1 << 63)
_NS_PER_S = 1_000_000_000
_I64_MIN = -(2**63)
_I64_MAX = 2**63 - 1

_jit = numba.njit(cache=True, nogil=True)
# Helpers called per value: inlined into the kernels (LLVM would leave some as calls).
_inline = numba.njit(cache=True, nogil=True, inline="always")


@_inline
def _fmix(k):
    k ^= k >> _S33
    k *= _M1
    k ^= k >> _S33
    k *= _M2
    k ^= k >> _S33
    return k


@_inline
def _rotl(x, r):
    return (x << np.uint64(r)) | (x >> np.uint64(64 - r))


@intrinsic
def _read64(typingctx, data, pos):
    """Unaligned little-endian 64-bit load of data[pos:pos + 8] (one instruction)."""

    def codegen(context, builder, signature, args):
        array = context.make_array(signature.args[0])(context, builder, args[0])
        pointer = builder.gep(array.data, [args[1]])
        return builder.load(builder.bitcast(pointer, ir.IntType(64).as_pointer()), align=1)

    return types.uint64(data, types.intp), codegen


@intrinsic
def _read32(typingctx, data, pos):
    """Unaligned little-endian 32-bit load of data[pos:pos + 4], zero-extended."""

    def codegen(context, builder, signature, args):
        array = context.make_array(signature.args[0])(context, builder, args[0])
        pointer = builder.gep(array.data, [args[1]])
        word = builder.load(builder.bitcast(pointer, ir.IntType(32).as_pointer()), align=1)
        return builder.zext(word, ir.IntType(64))

    return types.uint64(data, types.intp), codegen


@intrinsic
def _fold128(typingctx, a, b):
    """Low xor high half of the full 128-bit product a * b (XXH3's mul128_fold64)."""

    def codegen(context, builder, signature, args):
        wide = ir.IntType(128)
        product = builder.mul(builder.zext(args[0], wide), builder.zext(args[1], wide))
        low = builder.trunc(product, ir.IntType(64))
        high = builder.trunc(builder.lshr(product, ir.Constant(wide, 64)), ir.IntType(64))
        return builder.xor(low, high)

    return types.uint64(types.uint64, types.uint64), codegen


@intrinsic
def _bswap64(typingctx, x):
    def codegen(context, builder, signature, args):
        return builder.bswap(args[0])

    return types.uint64(types.uint64), codegen


@_inline
def _avalanche(h):
    h ^= h >> np.uint64(37)
    h *= _MX1
    return h ^ (h >> np.uint64(32))


@_inline
def _avalanche_xxh64(h):
    h ^= h >> _S33
    h *= _P2
    h ^= h >> np.uint64(29)
    h *= _P3
    return h ^ (h >> np.uint64(32))


@_inline
def _mix16(data, p, s):
    return _fold128(
        _read64(data, p) ^ _read64(_SECRET, s), _read64(data, p + 8) ^ _read64(_SECRET, s + 8)
    )


@_inline
def _xxh3_short(data, start, end):
    """XXH3-64 (seed 0) of data[start:end] for at most 240 bytes, bit-identical to
    ``xxhash.xxh3_64_intdigest``; longer inputs are ``_xxh3_long``'s."""
    length = end - start
    n = np.uint64(length)
    if length <= 16:
        if length > 8:
            low = _read64(data, start) ^ _read64(_SECRET, 24) ^ _read64(_SECRET, 32)
            high = _read64(data, end - 8) ^ _read64(_SECRET, 40) ^ _read64(_SECRET, 48)
            return _avalanche(n + _bswap64(low) + high + _fold128(low, high))
        if length >= 4:
            combined = _read32(data, end - 4) + (_read32(data, start) << np.uint64(32))
            h = combined ^ _read64(_SECRET, 8) ^ _read64(_SECRET, 16)
            h ^= _rotl(h, 49) ^ _rotl(h, 24)
            h *= _MX2
            h ^= (h >> np.uint64(35)) + n
            h *= _MX2
            return h ^ (h >> np.uint64(28))
        if length > 0:
            combined = (
                (np.uint64(data[start]) << np.uint64(16))
                | (np.uint64(data[start + (length >> 1)]) << np.uint64(24))
                | np.uint64(data[end - 1])
                | (n << np.uint64(8))
            )
            return _avalanche_xxh64(combined ^ _read32(_SECRET, 0) ^ _read32(_SECRET, 4))
        return _avalanche_xxh64(_read64(_SECRET, 56) ^ _read64(_SECRET, 64))
    h = n * _P1
    if length <= 128:
        if length > 32:
            if length > 64:
                if length > 96:
                    h += _mix16(data, start + 48, 96)
                    h += _mix16(data, end - 64, 112)
                h += _mix16(data, start + 32, 64)
                h += _mix16(data, end - 48, 80)
            h += _mix16(data, start + 16, 32)
            h += _mix16(data, end - 32, 48)
        h += _mix16(data, start, 0)
        h += _mix16(data, end - 16, 16)
        return _avalanche(h)
    for i in range(8):
        h += _mix16(data, start + 16 * i, 16 * i)
    h = _avalanche(h)
    for i in range(8, length >> 4):
        h += _mix16(data, start + 16 * i, 16 * (i - 8) + 3)
    h += _mix16(data, end - 16, 119)
    return _avalanche(h)


@_inline
def _xxh3_stripe(data, p, s, acc):
    for i in range(8):
        value = _read64(data, p + 8 * i)
        key = value ^ _read64(_SECRET, s + 8 * i)
        acc[i ^ 1] += value
        acc[i] += (key & _LOW32) * (key >> np.uint64(32))


@_jit
def _xxh3_long(data, start, end, acc):
    """XXH3-64 (seed 0) of data[start:end] for more than 240 bytes; `acc` is scratch."""
    length = end - start
    acc[0] = _P32_3
    acc[1] = _P1
    acc[2] = _P2
    acc[3] = _P3
    acc[4] = _P4
    acc[5] = _P32_2
    acc[6] = _P5
    acc[7] = _P32_1
    blocks = (length - 1) // 1024
    for b in range(blocks):
        for s in range(16):
            _xxh3_stripe(data, start + b * 1024 + s * 64, s * 8, acc)
        for i in range(8):
            a = acc[i] ^ (acc[i] >> np.uint64(47)) ^ _read64(_SECRET, 128 + 8 * i)
            acc[i] = a * _P32_1
    for s in range(((length - 1) - 1024 * blocks) // 64):
        _xxh3_stripe(data, start + blocks * 1024 + s * 64, s * 8, acc)
    _xxh3_stripe(data, end - 64, 121, acc)
    h = np.uint64(length) * _P1
    for i in range(4):
        h += _fold128(
            acc[2 * i] ^ _read64(_SECRET, 11 + 16 * i),
            acc[2 * i + 1] ^ _read64(_SECRET, 19 + 16 * i),
        )
    return _avalanche(h)


@_jit
def _k_xxh3_segments(data, starts, ends, tag, out):
    # Inputs over 240 bytes take a second pass: a call in the hot loop slows every string.
    longs = 0
    for i in range(out.shape[0]):
        if ends[i] - starts[i] <= _XXH3_MID_MAX:
            out[i] = _fmix(_xxh3_short(data, starts[i], ends[i]) ^ tag)
        else:
            longs += 1
    if longs:
        acc = np.empty(8, np.uint64)
        for i in range(out.shape[0]):
            if ends[i] - starts[i] > _XXH3_MID_MAX:
                out[i] = _fmix(_xxh3_long(data, starts[i], ends[i], acc) ^ tag)


@_jit
def _k_apply_nulls(out, bitmap, offset):
    for i in range(out.shape[0]):
        j = offset + i
        if not (bitmap[j >> 3] >> (j & 7)) & 1:
            out[i] = NULL_HASH


@_jit
def _k_signed(values, out):
    for i in range(out.shape[0]):
        out[i] = _fmix(np.uint64(np.int64(values[i])) ^ _T_INT)


@_jit
def _k_uint64(values, out):
    for i in range(out.shape[0]):
        v = values[i]
        out[i] = _fmix(v ^ (_T_UINT_HIGH if v >= _U_HIGH else _T_INT))


@_jit
def _k_scaled(values, mult, tag, out):
    # Values whose scaled form fits int64 (callers check the range first).
    for i in range(out.shape[0]):
        out[i] = _fmix(np.uint64(np.int64(values[i]) * mult) ^ tag)


@_jit
def _k_float(bits, out):
    for i in range(out.shape[0]):
        b = bits[i]
        if (b & _F_EXP) == _F_EXP:
            if b & _F_MANT:
                b = _F_NAN
        else:
            r = (b + _F_HALF) & _F_KEEP
            # A carry out of the largest finite binade would turn a finite value into inf.
            b = b & _F_KEEP if (r & _F_EXP) == _F_EXP else r
            if (b & _F_ABS) == 0:
                b = np.uint64(0)
        out[i] = _fmix(b ^ _T_FLOAT)


@_inline
def _decimal_small(v, scale):
    if v == 0:
        scale = 0
    while v != 0 and v % 10 == 0:
        v //= 10
        scale -= 1
    return _fmix(_fmix(np.uint64(v) ^ _T_DECIMAL) + np.uint64(scale))


@_jit
def _k_decimal_words(words, nwords, scale, out, big):
    # Little-endian two's-complement words; values that need more than 64 bits go to `big`.
    for i in range(out.shape[0]):
        lo = words[i * nwords]
        fill = np.uint64(0xFFFFFFFFFFFFFFFF) if lo >= _U_HIGH else np.uint64(0)
        fits = True
        for w in range(1, nwords):
            if words[i * nwords + w] != fill:
                fits = False
        if fits:
            out[i] = _decimal_small(np.int64(lo), scale)
        else:
            big[i] = True


@_jit
def _k_decimal_narrow(values, scale, out):
    for i in range(out.shape[0]):
        out[i] = _decimal_small(np.int64(values[i]), scale)


@_inline
def _big_ns(sec, sub):
    return _fmix(_fmix(np.uint64(sec) ^ _T_BIG_NS) + np.uint64(sub))


@_jit
def _k_temporal(values, mult, per_sec, lo, hi, tag, out):
    # Nanoseconds when they fit int64, else exact (seconds, sub-second ns) under _T_BIG_NS.
    for i in range(out.shape[0]):
        v = np.int64(values[i])
        if lo <= v <= hi:
            out[i] = _fmix(np.uint64(v * mult) ^ tag)
        else:
            sec = v // per_sec
            out[i] = _fmix(_big_ns(sec, (v - sec * per_sec) * mult) ^ tag)


@_jit
def _k_interval(months, days, nanos, out):
    for i in range(out.shape[0]):
        h = _fmix(_fmix(np.uint64(np.int64(months[i])) ^ _T_INTERVAL) + np.uint64(days[i]))
        out[i] = _fmix(h + _fmix(np.uint64(nanos[i]) ^ _T_TIMESTAMP))


@_jit
def _k_duration(values, mult, per_sec, lo, hi, out):
    for i in range(out.shape[0]):
        v = np.int64(values[i])
        if lo <= v <= hi:
            ns = _fmix(np.uint64(v * mult) ^ _T_TIMESTAMP)
        else:
            sec = v // per_sec
            ns = _fmix(_big_ns(sec, (v - sec * per_sec) * mult) ^ _T_TIMESTAMP)
        h = _fmix(_fmix(np.uint64(0) ^ _T_INTERVAL) + np.uint64(0))
        out[i] = _fmix(h + ns)


@_jit
def _k_date64(values, out):
    for i in range(out.shape[0]):
        out[i] = _fmix(np.uint64(values[i] // 86_400_000) ^ _T_DATE)


@_jit
def _k_bool(bitmap, offset, out):
    for i in range(out.shape[0]):
        j = offset + i
        out[i] = _fmix(np.uint64((bitmap[j >> 3] >> (j & 7)) & 1) ^ _T_BOOL)


@_jit
def _k_list(starts, ends, base, child, out):
    for i in range(out.shape[0]):
        s = starts[i]
        e = ends[i]
        h = _fmix(np.uint64(e - s) ^ _T_LIST)
        for k in range(s - base, e - base):
            h = _fmix(h + child[k])
        out[i] = h


@_jit
def _k_map(starts, ends, base, keys, items, out):
    for i in range(out.shape[0]):
        s = starts[i]
        e = ends[i]
        acc = np.uint64(0)
        for k in range(s - base, e - base):
            acc += _fmix(_fmix(keys[k] ^ _T_MAP_KEY) + items[k])
        out[i] = _fmix(_fmix(np.uint64(e - s) ^ _T_MAP) + acc)


@_jit
def _k_union(type_ids, child_of_code, positions, child_starts, child_hashes, out):
    # The member's hash tagged with the member's position; a NULL member value is NULL.
    for i in range(out.shape[0]):
        child = child_of_code[type_ids[i]]
        h = child_hashes[child_starts[child] + positions[i]]
        if h == NULL_HASH:
            out[i] = h
        else:
            out[i] = _fmix(_fmix(np.uint64(child) ^ _T_UNION) + h)


@_jit
def _k_chain(columns, seed, out):
    # columns: (ncols, nrows); out[i] = chained hash of row i, position by position.
    n = out.shape[0]
    for i in range(n):
        out[i] = seed
    for j in range(columns.shape[0]):
        for i in range(n):
            out[i] = _fmix(out[i] + columns[j, i])


@_jit
def _k_accumulate(columns, seed, rows, column_sums):
    # Row hashes (as _k_chain), the per-column sums and both multiset lanes, column by
    # column so each sum stays in a register.
    n = rows.shape[0]
    for i in range(n):
        rows[i] = seed
    for j in range(columns.shape[0]):
        total = np.uint64(0)
        for i in range(n):
            v = columns[j, i]
            total += v
            rows[i] = _fmix(rows[i] + v)
        column_sums[j] += total
    a = np.uint64(0)
    b = np.uint64(0)
    for i in range(n):
        h = rows[i]
        a += h
        b += _fmix(h ^ _T_LANE2)
    return a, b


@_jit
def _k_group_lanes(groups, row_hashes, counts, lane_a, lane_b):
    for i in range(row_hashes.shape[0]):
        g = groups[i]
        h = row_hashes[i]
        counts[g] += 1
        lane_a[g] += h
        lane_b[g] += _fmix(h ^ _T_LANE2)


def _data(arr: pa.Array, index: int, dtype: Any, width: int = 1) -> np.ndarray:
    """The `index`th buffer of `arr` as numpy, cut to this (possibly sliced) array."""
    buf = arr.buffers()[index]
    start = arr.offset * width
    return np.frombuffer(buf, dtype=dtype)[start : start + len(arr) * width]


def _offsets(arr: pa.Array, dtype: Any) -> np.ndarray:
    buf = arr.buffers()[1]
    return np.frombuffer(buf, dtype=dtype)[arr.offset : arr.offset + len(arr) + 1]


def _bytes(arr: pa.Array, index: int) -> np.ndarray:
    buf = arr.buffers()[index]
    return np.empty(0, np.uint8) if buf is None else np.frombuffer(buf, dtype=np.uint8)


def _ns_range(mult: int) -> tuple[int, int]:
    """Values v of a unit with `mult` ns per unit for which v * mult fits int64."""
    return -((-_I64_MIN) // mult), _I64_MAX // mult


_UNIT_NS = {"s": _NS_PER_S, "ms": 1_000_000, "us": 1_000, "ns": 1}


def value_hashes(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """One canonical uint64 hash per value of `array` (NULLs hash to ``NULL_HASH``).

    The hash depends only on the canonical value (see the module docstring), never on the
    physical type, chunking, slicing or position. Refuses (``ChecksumInputError``) Arrow
    types without a canonical form.
    """
    out = np.empty(len(array), np.uint64)
    _value_hashes_into(array, out)
    return out


def _value_hashes_into(array: pa.Array | pa.ChunkedArray, out: np.ndarray) -> None:
    if isinstance(array, pa.ChunkedArray):
        start = 0
        for chunk in array.chunks:
            _value_hashes_into(chunk, out[start : start + len(chunk)])
            start += len(chunk)
        return
    if len(array) == 0:
        return
    _hash_into(array, out)
    if array.null_count and not _delegates_nulls(array.type):
        validity = array.buffers()[0]
        if validity is not None:
            _k_apply_nulls(out, np.frombuffer(validity, np.uint8), array.offset)
        else:
            # Types without a validity bitmap of their own (dictionary indices carry theirs).
            out[np.asarray(array.is_null(), dtype=bool)] = NULL_HASH


def _delegates_nulls(t: pa.DataType) -> bool:
    """Types whose NULLs are already in the hashes `_hash_into` wrote."""
    return (
        pa.types.is_null(t)
        or pa.types.is_run_end_encoded(t)
        or isinstance(t, pa.BaseExtensionType)
        or pa.types.is_string_view(t)
        or pa.types.is_binary_view(t)
        or pa.types.is_union(t)
    )


def _hash_into(arr: pa.Array, out: np.ndarray) -> None:
    t = arr.type
    n = len(arr)
    if pa.types.is_integer(t):
        np_type = t.to_pandas_dtype()
        values = _data(arr, 1, np_type)
        if t == pa.uint64():
            _k_uint64(values, out)
        else:
            _k_signed(values, out)
    elif pa.types.is_floating(t):
        if t == pa.float64():
            values = _data(arr, 1, np.float64)
        elif t == pa.float32():
            values = _data(arr, 1, np.float32).astype(np.float64)
        else:
            values = _data(arr, 1, np.float16).astype(np.float64)
        _k_float(values.view(np.uint64), out)
    elif pa.types.is_string(t) or pa.types.is_large_string(t):
        _hash_segments(arr, np.int32 if pa.types.is_string(t) else np.int64, _T_STRING, out)
    elif pa.types.is_binary(t) or pa.types.is_large_binary(t):
        _hash_segments(arr, np.int32 if pa.types.is_binary(t) else np.int64, _T_BINARY, out)
    elif pa.types.is_string_view(t):
        out[:] = value_hashes(arr.cast(pa.string()))
    elif pa.types.is_binary_view(t):
        out[:] = value_hashes(arr.cast(pa.binary()))
    elif pa.types.is_fixed_size_binary(t):
        width = t.byte_width
        starts = (np.arange(n, dtype=np.int64) + arr.offset) * width
        _k_xxh3_segments(_bytes(arr, 1), starts, starts + width, _T_BINARY, out)
    elif pa.types.is_decimal(t):
        _hash_decimal(arr, out)
    elif pa.types.is_boolean(t):
        _k_bool(_bytes(arr, 1), arr.offset, out)
    elif pa.types.is_timestamp(t):
        mult = _UNIT_NS[t.unit]
        lo, hi = _ns_range(mult)
        values = _data(arr, 1, np.int64)
        if lo <= values.min() and values.max() <= hi:
            # The common case, without the per-value range test that blocks vectorizing.
            _k_scaled(values, mult, _T_TIMESTAMP, out)
        else:
            _k_temporal(values, mult, _NS_PER_S // mult, lo, hi, _T_TIMESTAMP, out)
    elif pa.types.is_date32(t):
        _k_scaled(_data(arr, 1, np.int32), 1, _T_DATE, out)
    elif pa.types.is_date64(t):
        _k_date64(_data(arr, 1, np.int64), out)
    elif pa.types.is_time32(t) or pa.types.is_time64(t):
        np_type = np.int32 if pa.types.is_time32(t) else np.int64
        _k_scaled(_data(arr, 1, np_type), _UNIT_NS[t.unit], _T_TIME, out)
    elif pa.types.is_duration(t):
        mult = _UNIT_NS[t.unit]
        lo, hi = _ns_range(mult)
        _k_duration(_data(arr, 1, np.int64), mult, _NS_PER_S // mult, lo, hi, out)
    elif t.id == pa.month_day_nano_interval().id:
        layout = np.dtype([("months", "<i4"), ("days", "<i4"), ("nanos", "<i8")])
        values = _data(arr, 1, layout)
        _k_interval(values["months"], values["days"], values["nanos"], out)
    elif pa.types.is_null(t):
        out[:] = NULL_HASH
    elif pa.types.is_dictionary(t):
        dictionary = value_hashes(arr.dictionary)
        if len(dictionary) == 0:
            out[:] = NULL_HASH
        else:
            indices = np.asarray(arr.indices.fill_null(0), dtype=np.int64)
            out[:] = dictionary[indices]
    elif pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_map(t):
        offsets = np.asarray(arr.offsets, dtype=np.int64)
        base = int(offsets[0])
        child = arr.values.slice(base, int(offsets[-1]) - base)
        if pa.types.is_map(t):
            keys, items = child.flatten()
            _k_map(offsets[:-1], offsets[1:], base, value_hashes(keys), value_hashes(items), out)
        else:
            _k_list(offsets[:-1], offsets[1:], base, value_hashes(child), out)
    elif pa.types.is_list_view(t) or pa.types.is_large_list_view(t):
        starts = np.asarray(arr.offsets, dtype=np.int64)
        ends = starts + np.asarray(arr.sizes.fill_null(0), dtype=np.int64)
        _k_list(starts, ends, 0, value_hashes(arr.values), out)
    elif pa.types.is_fixed_size_list(t):
        size = t.list_size
        starts = (np.arange(n, dtype=np.int64) + arr.offset) * size
        base = arr.offset * size
        child = arr.values.slice(base, n * size)
        _k_list(starts, starts + size, base, value_hashes(child), out)
    elif pa.types.is_struct(t):
        fields = arr.flatten()
        stacked = np.empty((len(fields), n), np.uint64)
        for j, field in enumerate(fields):
            _value_hashes_into(field, stacked[j])
        _k_chain(stacked, np.uint64(_fmix(np.uint64(len(fields)) ^ _T_STRUCT)), out)
    elif pa.types.is_union(t):
        _hash_union(arr, out)
    elif pa.types.is_run_end_encoded(t):
        # Run-end encoded arrays carry their NULLs in the values, not in a bitmap of their own.
        out[:] = value_hashes(pc.run_end_decode(arr))
    elif isinstance(t, pa.BaseExtensionType):
        out[:] = value_hashes(arr.storage)
    else:
        raise ChecksumInputError(f"cannot checksum Arrow type {t}: it has no canonical form")


def _hash_union(arr: pa.Array, out: np.ndarray) -> None:
    t = arr.type
    n = len(arr)
    # UnionArray.type_codes and .offsets ignore a slice's offset; the buffers do not lie.
    type_ids = np.frombuffer(arr.buffers()[1], np.int8)[arr.offset : arr.offset + n]
    child_of_code = np.zeros(128, np.int64)
    child_of_code[list(t.type_codes)] = np.arange(t.num_fields)
    if t.mode == "dense":
        positions = np.frombuffer(arr.buffers()[2], np.int32)[arr.offset : arr.offset + n]
    else:
        # Sparse members are sliced along with the union by field().
        positions = np.arange(n, dtype=np.int32)
    members = [value_hashes(arr.field(k)) for k in range(t.num_fields)]
    starts = np.zeros(t.num_fields, np.int64)
    starts[1:] = np.cumsum([len(m) for m in members])[:-1]
    hashes = np.concatenate(members) if members else np.empty(0, np.uint64)
    _k_union(type_ids, child_of_code, positions, starts, hashes, out)


def _hash_segments(arr: pa.Array, offset_type: Any, seed: np.uint64, out: np.ndarray) -> None:
    offsets = _offsets(arr, offset_type)
    _k_xxh3_segments(_bytes(arr, 2), offsets[:-1], offsets[1:], seed, out)


def _hash_decimal(arr: pa.Array, out: np.ndarray) -> None:
    t = arr.type
    width = t.byte_width
    if width <= 8:
        _k_decimal_narrow(_data(arr, 1, np.int32 if width == 4 else np.int64), t.scale, out)
        return
    nwords = width // 8
    big = np.zeros(len(arr), dtype=bool)
    _k_decimal_words(_data(arr, 1, np.uint64, nwords), nwords, t.scale, out, big)
    if not big.any():
        return
    raw = _data(arr, 1, np.uint8, width)
    for i in np.flatnonzero(big):
        value = int.from_bytes(raw[i * width : (i + 1) * width].tobytes(), "little", signed=True)
        out[i] = _decimal_exact(value, t.scale)


def _decimal_exact(value: int, scale: int) -> np.uint64:
    """Hash of value * 10**-scale for unscaled values beyond int64 (rare)."""
    while value != 0 and value % 10 == 0:
        value //= 10
        scale -= 1
    if _I64_MIN <= value <= _I64_MAX:
        return np.uint64(_decimal_small(value, scale))
    text = f"{value}e{-scale}".encode()
    return np.uint64(xxhash.xxh64_intdigest(text, seed=int(_T_DECIMAL_BIG)))


def canonical_type(data_type: pa.DataType) -> str:
    """The canonical name of an Arrow type: the names that hash alike share one name.

    int, float, decimal, string, binary, bool, date, timestamp, timestamptz, time, interval
    (durations too), null, list<T>, struct<name:T,...>, map<K,V>, union<name:T,...>. Refuses
    (``ChecksumInputError``) types without a canonical form.
    """
    t = data_type
    if pa.types.is_integer(t):
        return "int"
    if pa.types.is_floating(t):
        return "float"
    if pa.types.is_decimal(t):
        return "decimal"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if (
        pa.types.is_binary(t)
        or pa.types.is_large_binary(t)
        or pa.types.is_binary_view(t)
        or pa.types.is_fixed_size_binary(t)
    ):
        return "binary"
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_timestamp(t):
        return "timestamptz" if t.tz is not None else "timestamp"
    if pa.types.is_time(t):
        return "time"
    if pa.types.is_duration(t) or t.id == pa.month_day_nano_interval().id:
        return "interval"
    if pa.types.is_null(t):
        return "null"
    if pa.types.is_dictionary(t):
        return canonical_type(t.value_type)
    if pa.types.is_map(t):
        return f"map<{canonical_type(t.key_type)},{canonical_type(t.item_type)}>"
    if (
        pa.types.is_list(t)
        or pa.types.is_large_list(t)
        or pa.types.is_list_view(t)
        or pa.types.is_large_list_view(t)
        or pa.types.is_fixed_size_list(t)
    ):
        return f"list<{canonical_type(t.value_type)}>"
    if pa.types.is_struct(t):
        fields = ",".join(
            f"{t.field(i).name}:{canonical_type(t.field(i).type)}" for i in range(t.num_fields)
        )
        return f"struct<{fields}>"
    if pa.types.is_union(t):
        members = ",".join(
            f"{t.field(i).name}:{canonical_type(t.field(i).type)}" for i in range(t.num_fields)
        )
        return f"union<{members}>"
    if pa.types.is_run_end_encoded(t):
        return canonical_type(t.value_type)
    if isinstance(t, pa.BaseExtensionType):
        return canonical_type(t.storage_type)
    raise ChecksumInputError(f"cannot checksum Arrow type {t}: it has no canonical form")


def _column_matrix(
    batch: pa.RecordBatch | pa.Table, buffer: np.ndarray | None = None
) -> np.ndarray:
    if buffer is None:
        matrix = np.empty((batch.num_columns, batch.num_rows), np.uint64)
    else:
        matrix = buffer[:, : batch.num_rows]
    for j in range(batch.num_columns):
        _value_hashes_into(batch.column(j), matrix[j])
    return matrix


def _row_seed(num_columns: int) -> np.uint64:
    return np.uint64(_fmix(np.uint64(num_columns) ^ _T_ROW))


def row_hashes(batch: pa.RecordBatch | pa.Table) -> np.ndarray:
    """One uint64 hash per row: the column value hashes chained by column position.

    Column names are not part of the hash; column positions are (swapped columns differ).
    """
    out = np.empty(batch.num_rows, np.uint64)
    _k_chain(_column_matrix(batch), _row_seed(batch.num_columns), out)
    return out


@dataclass(frozen=True)
class ResultChecksum:
    """qsim's checksum of a result or table: compare two of them field by field."""

    row_count: int
    multiset: str
    ordered: str
    columns: tuple[str, ...]
    column_names: tuple[str, ...]
    column_types: tuple[str, ...]
    version: int = CANONICAL_VERSION

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; ``from_dict`` reads it back."""
        return {
            "version": self.version,
            "row_count": self.row_count,
            "multiset": self.multiset,
            "ordered": self.ordered,
            "columns": list(self.columns),
            "column_names": list(self.column_names),
            "column_types": list(self.column_types),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ResultChecksum:
        """Read back ``to_dict`` output; refuses (``ChecksumInputError``) a missing or
        mistyped field, naming it."""
        fields: dict[str, Any] = {}
        for key, kind in (("row_count", int), ("multiset", str), ("ordered", str)):
            if not isinstance(d.get(key), kind):
                raise ChecksumInputError(
                    f"checksum field {key!r} is missing or not {kind.__name__}"
                )
            fields[key] = d[key]
        for key in ("columns", "column_names", "column_types"):
            value = d.get(key)
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                raise ChecksumInputError(
                    f"checksum field {key!r} is missing or not a list of strings"
                )
            fields[key] = tuple(value)
        version = d.get("version", CANONICAL_VERSION)
        if not isinstance(version, int):
            raise ChecksumInputError("checksum field 'version' is not int")
        return cls(version=version, **fields)


def _hex64(value: int | np.uint64) -> str:
    return f"{int(value) & 0xFFFFFFFFFFFFFFFF:016x}"


class ChecksumAccumulator:
    """Streams batches of one schema into a ``ResultChecksum`` (memory independent of rows)."""

    def __init__(self, schema: pa.Schema) -> None:
        self._names = tuple(schema.names)
        self._types = tuple(canonical_type(f.type) for f in schema)
        self._seed = _row_seed(len(schema))
        self._rows = 0
        self._lane_a = 0
        self._lane_b = 0
        self._columns = np.zeros(len(schema), np.uint64)
        self._ordered = xxhash.xxh3_128()
        # Reused for every batch: fresh pages per batch cost more than hashing short strings.
        self._step = _rows_per_step(len(schema))
        self._matrix_buffer = np.empty((len(schema), self._step), np.uint64)
        self._row_buffer = np.empty(self._step, np.uint64)

    def update(self, batch: pa.RecordBatch | pa.Table) -> None:
        """Add the rows of `batch`; refuses (``ChecksumInputError``) a batch whose column
        count or canonical column types differ from the schema."""
        self._check(batch)
        if isinstance(batch, pa.Table):
            for b in batch.to_batches(max_chunksize=self._step):
                self._update_batch(b)
        else:
            for start in range(0, batch.num_rows, self._step):
                self._update_batch(batch.slice(start, self._step))

    def _check(self, batch: pa.RecordBatch | pa.Table) -> None:
        if batch.num_columns != len(self._types):
            raise ChecksumInputError(
                f"batch has {batch.num_columns} columns, the checksum schema has {len(self._types)}"
            )
        for j, field in enumerate(batch.schema):
            if canonical_type(field.type) != self._types[j]:
                raise ChecksumInputError(
                    f"batch column {j} ({field.name!r}) is {canonical_type(field.type)}, "
                    f"the checksum schema says {self._types[j]}"
                )

    def _update_batch(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        rows = self._row_buffer[: batch.num_rows]
        matrix = _column_matrix(batch, self._matrix_buffer)
        a, b = _k_accumulate(matrix, self._seed, rows, self._columns)
        self._lane_a = (self._lane_a + int(a)) & 0xFFFFFFFFFFFFFFFF
        self._lane_b = (self._lane_b + int(b)) & 0xFFFFFFFFFFFFFFFF
        self._ordered.update(rows.astype("<u8", copy=False))
        self._rows += batch.num_rows

    def finish(self) -> ResultChecksum:
        """The checksum of every row added so far."""
        return ResultChecksum(
            row_count=self._rows,
            multiset=_hex64(self._lane_a) + _hex64(self._lane_b),
            ordered=self._ordered.hexdigest(),
            columns=tuple(_hex64(c) for c in self._columns),
            column_names=self._names,
            column_types=self._types,
        )


def checksum_table(
    table_or_batches: pa.Table | pa.RecordBatch | Iterable[pa.RecordBatch],
) -> ResultChecksum:
    """The ``ResultChecksum`` of a table, a batch, a ``RecordBatchReader``, or a non-empty
    iterable of batches.

    Refuses (``ChecksumInputError``) an empty iterable without a schema (use
    ``ChecksumAccumulator(schema)`` for a result that may have no batches) and batches whose
    types disagree.
    """
    if isinstance(table_or_batches, pa.Table | pa.RecordBatch):
        accumulator = ChecksumAccumulator(table_or_batches.schema)
        accumulator.update(table_or_batches)
        return accumulator.finish()
    schema = getattr(table_or_batches, "schema", None)
    acc = ChecksumAccumulator(schema) if isinstance(schema, pa.Schema) else None
    for batch in table_or_batches:
        if acc is None:
            acc = ChecksumAccumulator(batch.schema)
        acc.update(batch)
    if acc is None:
        raise ChecksumInputError("cannot checksum an empty sequence of batches: no schema")
    return acc.finish()


def _escape_key_text(text: str) -> str:
    # '/' and '=' separate key parts; escape them (and '%') so keys parse back unambiguously.
    return text.replace("%", "%25").replace("/", "%2F").replace("=", "%3D")


def _canonical_text(value: Any) -> str:
    """Canonical text of one partition value, as ``to_pylist`` returns it."""
    if value is None:
        return NULL_PARTITION
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value != value:
            return "NaN"
        return repr(value + 0.0)
    if isinstance(value, decimal.Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dt.date):
        # Timestamps and times arrive here already as Arrow's text; dates do not.
        return value.isoformat()
    if value == NULL_PARTITION:
        # A string that spells the NULL marker must not land in the NULL partition.
        return "%5F" + value[1:]
    return _escape_key_text(str(value))


def _partition_texts(column: pa.Array) -> tuple[np.ndarray, list[str]]:
    """Per-row codes into a list of canonical texts for one partition column of a batch."""
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    if pa.types.is_timestamp(column.type) or pa.types.is_time(column.type):
        # to_pylist would drop nanoseconds; Arrow's own cast keeps them.
        if pa.types.is_timestamp(column.type) and column.type.tz is not None:
            column = column.cast(pa.timestamp(column.type.unit))
        column = pc.cast(column, pa.string())
        temporal = True
    else:
        temporal = False
    encoded = pc.dictionary_encode(column, null_encoding="encode")
    texts = [_canonical_text(v) for v in encoded.dictionary.to_pylist()]
    if temporal:
        # The cast prints as many fraction digits as the unit has; trim them so that
        # equal instants in different units give the same text.
        texts = [t.rstrip("0").rstrip(".") if "." in t else t for t in texts]
    codes = np.asarray(encoded.indices, dtype=np.int64)
    return codes, texts


def partition_checksums(
    data: pa.Table | pa.RecordBatch | Iterable[pa.RecordBatch], partition_columns: Sequence[str]
) -> dict[str, tuple[int, str]]:
    """Per-partition ``(row_count, multiset hex)`` keyed ``"col=value/col2=value2"``.

    Values are canonical text, the same for every physical type of one value: integers and
    decimals in plain notation without trailing zeros (``1.5``), floats by ``repr`` (``0.0``
    for -0.0, ``NaN``), ``true``/``false``, dates ``YYYY-MM-DD``, timestamps in UTC as
    ``YYYY-MM-DD HH:MM:SS[.fraction]`` with trailing zeros trimmed, binary in hex, strings
    as themselves with ``%``, ``/`` and ``=`` %-escaped (and a string spelling ``__NULL__``
    escaped to ``%5F_NULL__``); NULL is ``__NULL__``. The key is ``""`` when there are no
    partition columns. Partitions without rows are absent: an empty table gives ``{}``.

    Row hashes are those of ``row_hashes`` over all columns, so each multiset has the format
    of ``ResultChecksum.multiset`` (two lanes that add up across partitions) and, with no
    partition columns, equals it. Streaming. Refuses (``ChecksumInputError``) a partition
    column the data does not have.
    """
    if isinstance(data, pa.Table):
        batches: Iterable[pa.RecordBatch] = data.to_batches()
    elif isinstance(data, pa.RecordBatch):
        batches = [data]
    else:
        batches = data
    totals: dict[str, list[int]] = {}
    for whole in batches:
        step = _rows_per_step(whole.num_columns)
        for start in range(0, whole.num_rows, step):
            _partition_batch(whole.slice(start, step), partition_columns, totals)
    return {key: (count, _hex64(a) + _hex64(b)) for key, (count, a, b) in sorted(totals.items())}


def _dense_groups(combined: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct values of `combined`, each row's index among them); values < size."""
    if size <= 1 << 22:
        # A presence table is linear; np.unique would sort every row of the batch.
        present = np.zeros(size, dtype=bool)
        present[combined] = True
        return np.flatnonzero(present), (np.cumsum(present) - 1)[combined]
    uniques, inverse = np.unique(combined, return_inverse=True)
    return uniques, inverse.astype(np.int64, copy=False)


def _partition_batch(
    batch: pa.RecordBatch, partition_columns: Sequence[str], totals: dict[str, list[int]]
) -> None:
    rows = row_hashes(batch)
    groups = np.zeros(batch.num_rows, np.int64)
    labels: list[str] = [""]
    for name in partition_columns:
        matches = batch.schema.get_all_field_indices(name)
        if len(matches) != 1:
            problem = "is not among" if not matches else "appears more than once in"
            raise ChecksumInputError(
                f"partition column {name!r} {problem} the columns {batch.schema.names}"
            )
        codes, texts = _partition_texts(batch.column(matches[0]))
        uniques, groups = _dense_groups(groups * len(texts) + codes, len(labels) * len(texts))
        part = f"{_escape_key_text(name)}="
        labels = [
            (labels[u // len(texts)] + "/" if labels[u // len(texts)] else "")
            + part
            + texts[u % len(texts)]
            for u in uniques.tolist()
        ]
    counts = np.zeros(len(labels), np.int64)
    lane_a = np.zeros(len(labels), np.uint64)
    lane_b = np.zeros(len(labels), np.uint64)
    _k_group_lanes(groups, rows, counts, lane_a, lane_b)
    for g, key in enumerate(labels):
        total = totals.setdefault(key, [0, 0, 0])
        total[0] += int(counts[g])
        total[1] = (total[1] + int(lane_a[g])) & 0xFFFFFFFFFFFFFFFF
        total[2] = (total[2] + int(lane_b[g])) & 0xFFFFFFFFFFFFFFFF
