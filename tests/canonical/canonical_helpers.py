"""Helpers shared by the canonical hashing tests."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from simulator.canonical import value_hashes


def h(values, type_=None) -> list[int]:
    return [int(x) for x in value_hashes(pa.array(values, type_))]


def same(a, type_a, b, type_b) -> bool:
    return h(a, type_a) == h(b, type_b)


def mixed_table(n: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    ints = pa.array(rng.integers(-1000, 1000, n), mask=rng.random(n) < 0.1)
    floats = pa.array(rng.normal(size=n), mask=rng.random(n) < 0.1)
    strings = pa.array([f"s{v}" for v in rng.integers(0, 50, n)], mask=rng.random(n) < 0.1)
    times = pa.array(rng.integers(0, 10**15, n), pa.timestamp("us", tz="UTC"))
    return pa.table({"i": ints, "f": floats, "s": strings, "t": times})
