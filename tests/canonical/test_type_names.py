"""Canonical type names (``simulator.canonical.type_names``)."""

from __future__ import annotations

import pyarrow as pa

from simulator.canonical import canonical_type


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
