"""Mixing primitives every kernel shares: the numba decorators, the murmur3 64-bit
finalizer and the type tags that keep values of different canonical types apart."""

from __future__ import annotations

import numba
import numpy as np
import xxhash

_jit = numba.njit(cache=True, nogil=True)
# Helpers called per value: inlined into the kernels (LLVM would leave some as calls).
_inline = numba.njit(cache=True, nogil=True, inline="always")


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


@_inline
def _fmix(k):
    k ^= k >> _S33
    k *= _M1
    k ^= k >> _S33
    k *= _M2
    k ^= k >> _S33
    return k
