"""The per-type numba kernels: each fills ``out`` with one canonical hash per value of a
buffer (or per row, for the row and multiset kernels). Rules in ``simulator.canonical.spec``."""

from __future__ import annotations

import numpy as np

from simulator.canonical.mixing import (
    _T_BIG_NS,
    _T_BOOL,
    _T_DATE,
    _T_DECIMAL,
    _T_FLOAT,
    _T_INT,
    _T_INTERVAL,
    _T_LANE2,
    _T_LIST,
    _T_MAP,
    _T_MAP_KEY,
    _T_TIMESTAMP,
    _T_UINT_HIGH,
    _T_UNION,
    NULL_HASH,
    _fmix,
    _inline,
    _jit,
)
from simulator.canonical.spec import FLOAT_MANTISSA_BITS
from simulator.canonical.xxh3 import _XXH3_MID_MAX, _xxh3_long, _xxh3_short

_DROP_BITS = 52 - FLOAT_MANTISSA_BITS
_F_HALF = np.uint64(1 << (_DROP_BITS - 1))
_F_KEEP = np.uint64(~((1 << _DROP_BITS) - 1) & 0xFFFFFFFFFFFFFFFF)
_F_EXP = np.uint64(0x7FF0000000000000)
_F_ABS = np.uint64(0x7FFFFFFFFFFFFFFF)
_F_MANT = np.uint64(0x000FFFFFFFFFFFFF)
_F_NAN = np.uint64(0x7FF8000000000000)
_U_HIGH = np.uint64(1 << 63)


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
