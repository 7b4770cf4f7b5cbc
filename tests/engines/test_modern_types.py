"""Modern Parquet/Arrow types a generation can hold (view, large, dictionary, list-view,
float16, decimal256, uuid, ...) load on every adapter and read back with the values that
were written: each adapter in a real worker over a table file written with pyarrow."""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from adapter_fixtures import adapter_params, adapter_spec, read_back, run

from simulator.canonical import checksum_table
from simulator.engines.contract import TableSpec
from simulator.engines.worker import EngineWorker

pytestmark = pytest.mark.parametrize("adapter", adapter_params())
# What an engine itself makes of a column (not a loss in qsim's loading): DuckDB decimals
# hold at most 38 digits, so it reads a decimal(40, 1) Parquet column as DOUBLE; and its UUID
# type comes back as the UUID's text.
ENGINE_OWN_TYPES = {"duckdb": {"dec256": pa.float64(), "u": pa.string()}}


def modern_rows() -> pa.Table:
    """Three rows (one all NULL) of every type pyarrow writes to and reads from Parquet."""
    views = pa.struct([("a", pa.int32()), ("b", pa.string_view())])
    return pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "s_view": pa.array(["a", None, "ünï"], pa.string_view()),
            "s_large": pa.array(["a", None, "b"], pa.large_string()),
            "b_view": pa.array([b"\x00", None, b"x"], pa.binary_view()),
            "b_large": pa.array([b"\x00", None, b"x"], pa.large_binary()),
            "l_large": pa.array([[1, None], None, []], pa.large_list(pa.int64())),
            "l_view": pa.array([[1, 2], None, []], pa.list_view(pa.int32())),
            "ll_view": pa.array([["a"], None, []], pa.large_list_view(pa.string())),
            "dict": pa.array(["x", None, "y"]).dictionary_encode(),
            "fsl": pa.array([[1, 2], None, [3, 4]], pa.list_(pa.int32(), 2)),
            "f16": pa.array([1.5, None, -2.0], pa.float32()).cast(pa.float16()),
            "dec256": pa.array(
                [Decimal("1.2"), None, Decimal("-123456789012345678901234567890123456789.9")],
                pa.decimal256(40, 1),
            ),
            "t32": pa.array([1000, None, 5], pa.time32("ms")),
            "d64": pa.array([dt.date(2024, 2, 29), None, dt.date(1970, 1, 1)], pa.date64()),
            "m": pa.array([[("k", 1)], None, []], pa.map_(pa.string(), pa.int64())),
            "st": pa.array([{"a": 1, "b": "x"}, None, {"a": None, "b": None}], views),
            "u": pa.array([uuid.UUID(int=42).bytes, None, uuid.UUID(int=7).bytes], pa.uuid()),
        }
    )


def start(adapter: str, request, runtime_for, tmp_path: Path) -> tuple[EngineWorker, pa.Table]:
    """A worker over ``modern`` (read-only, in the generation folder) and ``modern_w``
    (writable, copied into the workspace), both from one Parquet file."""
    source = tmp_path / "generation" / "modern" / "part-0.parquet"
    source.parent.mkdir(parents=True)
    pq.write_table(modern_rows(), source)
    copy = tmp_path / "workspace" / "tables" / "modern_w" / "part-0.parquet"
    copy.parent.mkdir(parents=True)
    shutil.copyfile(source, copy)
    schema = pq.read_schema(source).remove_metadata()
    tables = [
        TableSpec("modern", (str(source),), schema),
        TableSpec("modern_w", (str(copy),), schema, writable=True),
    ]
    dsn = ""
    if adapter == "postgres":
        dsn = request.getfixturevalue("local_postgres").create_database(f"t{uuid.uuid4().hex[:12]}")
    spec = adapter_spec(adapter, dsn)
    worker = EngineWorker(spec, runtime_for(spec), tmp_path / "workspace", tables)
    request.addfinalizer(worker.close)
    worker.start()
    return worker, pq.read_table(source)


def test_modern_types_load_and_read_back_their_values(adapter, request, runtime_for, tmp_path):
    worker, expected = start(adapter, request, runtime_for, tmp_path)
    want = checksum_table(expected)
    for name in ("modern", "modern_w"):
        table = read_back(worker, name)
        assert table.num_rows == 3
        got = checksum_table(table.select(expected.column_names))
        differing = [
            column
            for column, left, right in zip(
                expected.column_names, want.columns, got.columns, strict=True
            )
            if left != right
        ]
        own = ENGINE_OWN_TYPES.get(adapter, {})
        assert differing == list(own), {c: str(table.column(c).type) for c in differing}
        assert {c: table.column(c).type for c in own} == own
    if adapter == "duckdb":
        assert table.column("u").to_pylist() == [
            str(uuid.UUID(int=42)),
            None,
            str(uuid.UUID(int=7)),
        ]


def test_modern_types_are_queryable(adapter, request, runtime_for, tmp_path):
    worker, _ = start(adapter, request, runtime_for, tmp_path)
    outcome, table = run(
        worker, "SELECT count(*) AS n FROM modern m JOIN modern_w w ON m.s_view = w.s_large"
    )
    assert outcome.status == "ok", outcome.error_message
    assert table.column(0).to_pylist() == [1]
