"""XXH3-64 (seed 0) as numba code, bit-identical to ``xxhash.xxh3_64_intdigest``.

A port of xxhash_spec.md so string and binary kernels can hash each value inside one
compiled loop; tests check it against the xxhash package for every length class.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from simulator.canonical.mixing import _S33, _inline, _jit

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
