"""The XXH3-64 port (``simulator.canonical.xxh3``) is bit-identical to the xxhash package
for every length class, as the string and binary kernels use it."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import xxhash
from canonical_helpers import h

from simulator.canonical import value_hashes
from simulator.canonical.mixing import _T_BINARY, _T_STRING


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
