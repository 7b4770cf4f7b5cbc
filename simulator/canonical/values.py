"""Canonical hashes of the values of one Arrow array: dispatch by type to the kernels.

Rules in ``simulator.canonical.spec``; the kernels are ``simulator.canonical.kernels``."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from simulator.canonical.kernels import (
    _decimal_small,
    _k_apply_nulls,
    _k_bool,
    _k_chain,
    _k_date64,
    _k_decimal_narrow,
    _k_decimal_words,
    _k_duration,
    _k_float,
    _k_interval,
    _k_list,
    _k_map,
    _k_scaled,
    _k_signed,
    _k_temporal,
    _k_uint64,
    _k_union,
    _k_xxh3_segments,
)
from simulator.canonical.mixing import (
    _T_BINARY,
    _T_DATE,
    _T_DECIMAL_BIG,
    _T_STRING,
    _T_STRUCT,
    _T_TIME,
    _T_TIMESTAMP,
    NULL_HASH,
    _fmix,
)
from simulator.canonical.spec import ChecksumInputError

_NS_PER_S = 1_000_000_000
_I64_MIN = -(2**63)
_I64_MAX = 2**63 - 1


def _data(arr: pa.Array, index: int, dtype: Any, width: int = 1) -> np.ndarray:
    """The `index`th buffer of `arr` as numpy, cut to this (possibly sliced) array."""
    buf = arr.buffers()[index]
    start = arr.offset * width
    return np.frombuffer(buf, dtype=dtype)[start : start + len(arr) * width]


def int64s(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A null-free integer Arrow array as int64 numpy, read through its buffer.

    Not ``np.asarray(arr)``: a worker imports pyarrow before numpy is on its path (numpy is
    loaded only to hash, see ``engines/runtime.py``), and such a pyarrow refuses
    ``to_numpy``."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return _data(pc.cast(arr, pa.int64()), 1, np.int64).copy()


def _flags(arr: pa.Array) -> np.ndarray:
    """A null-free boolean Arrow array as numpy bools, read through its buffer."""
    return _data(pc.cast(arr, pa.uint8()), 1, np.uint8).astype(bool)


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
            out[_flags(array.is_null())] = NULL_HASH


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
        # Not t.to_pandas_dtype(): older pyarrow releases import pandas there, which an
        # engine runtime (where workers checksum) does not have.
        kind = "i" if pa.types.is_signed_integer(t) else "u"
        values = _data(arr, 1, np.dtype(f"<{kind}{t.bit_width // 8}"))
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
            indices = int64s(arr.indices.fill_null(0))
            out[:] = dictionary[indices]
    elif pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_map(t):
        offsets = int64s(arr.offsets)
        base = int(offsets[0])
        child = arr.values.slice(base, int(offsets[-1]) - base)
        if pa.types.is_map(t):
            keys, items = child.flatten()
            _k_map(offsets[:-1], offsets[1:], base, value_hashes(keys), value_hashes(items), out)
        else:
            _k_list(offsets[:-1], offsets[1:], base, value_hashes(child), out)
    elif pa.types.is_list_view(t) or pa.types.is_large_list_view(t):
        starts = int64s(arr.offsets)
        ends = starts + int64s(arr.sizes.fill_null(0))
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
