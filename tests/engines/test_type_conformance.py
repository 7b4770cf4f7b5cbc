"""Every Arrow type a supported engine release returns crosses the worker protocol and gets
a canonical checksum in the parent: one real worker per engine (and per DuckDB release),
one query per type, the empty result of each type included."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from simulator.canonical import ChecksumAccumulator
from simulator.config import EngineSpec
from simulator.engines.runtime import Runtime
from simulator.engines.worker import EngineWorker

DUCKDB_RELEASES = ("0.10.3", "1.1.3", "2.0.1")
UUID = "'4a5e1e4b-0000-4000-8000-00000000002a'"
# Query per type name, DuckDB spelling (every release from 0.10 has all of them).
DUCKDB_CASES = {
    "map": "SELECT map(['a', 'b'], [1, NULL]) AS v",
    "map_in_list": "SELECT [map(['k'], [1]), NULL] AS v",
    "map_in_struct": "SELECT {'m': map(['k'], ['x'])} AS v",
    "map_of_maps": "SELECT map(['o'], [map([1], [2.5])]) AS v",
    "list": "SELECT [1, NULL, 3] AS v",
    "list_of_lists": "SELECT [[1], [], NULL] AS v",
    "struct": "SELECT {'x': 1, 'y': 'a', 'z': [1.5]} AS v",
    "union": "SELECT union_value(k := 1)::UNION(k INTEGER, s VARCHAR) AS v",
    "fixed_size_list": "SELECT [1, 2]::INTEGER[2] AS v",
    "enum": "SELECT 'b'::ENUM('a', 'b') AS v",
    "enum_in_list": "SELECT ['a'::ENUM('a', 'b')] AS v",
    "varchar": "SELECT 'ünï 😀' AS v",
    "blob": "SELECT '\\xAA\\x00'::BLOB AS v",
    "bool": "SELECT true AS v",
    "tinyint": "SELECT (-3)::TINYINT AS v",
    "ubigint": "SELECT 18446744073709551615::UBIGINT AS v",
    "hugeint": "SELECT 170141183460469231731687303715884105727::HUGEINT AS v",
    "float": "SELECT 1.5::FLOAT AS v",
    "double": "SELECT 'NaN'::DOUBLE AS v",
    "decimal18": "SELECT 123456789012345.678::DECIMAL(18, 3) AS v",
    "decimal38": "SELECT 1.5::DECIMAL(38, 10) AS v",
    "uuid": f"SELECT {UUID}::UUID AS v",
    "date": "SELECT DATE '2024-02-29' AS v",
    "time": "SELECT TIME '01:02:03.5' AS v",
    "timestamp": "SELECT TIMESTAMP '2024-01-01 01:02:03.123456' AS v",
    "timestamp_s": "SELECT TIMESTAMP_S '2024-01-01 01:02:03' AS v",
    "timestamp_ms": "SELECT TIMESTAMP_MS '2024-01-01 01:02:03.123' AS v",
    "timestamp_ns": "SELECT TIMESTAMP_NS '2024-01-01 01:02:03.123456789' AS v",
    "timestamptz": "SELECT TIMESTAMPTZ '2024-01-01 01:02:03+00' AS v",
    "interval": "SELECT INTERVAL 2 MONTH + INTERVAL 3 DAY + INTERVAL 4 SECOND AS v",
    "timetz": "SELECT TIMETZ '01:02:03+01' AS v",
    "bit": "SELECT '101'::BIT AS v",
    "json": "SELECT '{\"a\": 1}'::JSON AS v",
    "union_in_struct": "SELECT {'a': union_value(k := 1)::UNION(k INTEGER, s VARCHAR)} AS v",
    "array_of_maps": "SELECT [map(['a'], [1]), map(['b'], [2])]::MAP(VARCHAR, INTEGER)[2] AS v",
    "null": "SELECT NULL AS v",
    "empty_map": "SELECT map(['a'], [1]) AS v WHERE false",
    "empty_union": "SELECT union_value(k := 1)::UNION(k INTEGER, s VARCHAR) AS v WHERE false",
}
# Types that exist (or can be exported to Arrow) only from a release on: DuckDB 0.10.3
# refuses UHUGEINT results ("Unsupported Arrow type") and has no VARINT.
DUCKDB_SINCE_1_1 = {
    "uhugeint": "SELECT '340282366920938463463374607431768211455'::UHUGEINT AS v",
    "varint": "SELECT '12345678901234567890123456789012345678901'::VARINT AS v",
}
# Cases whose value is the same data on every release, so the checksum must be too. Left
# out: timestamp_ns, because DuckDB 0.10.3 itself parses the literal to microseconds (its
# epoch_ns says ...123456000); a real difference between releases, not the harness's.
SAME_ON_EVERY_RELEASE = tuple(name for name in DUCKDB_CASES if name != "timestamp_ns")
DATAFUSION_CASES = {
    "map": "SELECT map(['a', 'b'], [1, NULL]) AS v",
    "list": "SELECT make_array(1, NULL, 3) AS v",
    "struct": "SELECT named_struct('x', 1, 'y', 'a') AS v",
    "large_string": "SELECT arrow_cast('a', 'LargeUtf8') AS v",
    "string_view": "SELECT arrow_cast('a', 'Utf8View') AS v",
    "binary_view": "SELECT arrow_cast(X'AA', 'BinaryView') AS v",
    "large_binary": "SELECT arrow_cast(X'AA', 'LargeBinary') AS v",
    "large_list": "SELECT arrow_cast(make_array(1, 2), 'LargeList(Int64)') AS v",
    "fixed_size_list": "SELECT arrow_cast(make_array(1, 2), 'FixedSizeList(2, Int64)') AS v",
    "dictionary": "SELECT arrow_cast('a', 'Dictionary(Int32, Utf8)') AS v",
    "decimal128": "SELECT arrow_cast(1.5, 'Decimal128(18, 3)') AS v",
    "decimal256": "SELECT arrow_cast(1.5, 'Decimal256(50, 3)') AS v",
    "timestamptz": "SELECT arrow_cast(0, 'Timestamp(Nanosecond, Some(\"+01:00\"))') AS v",
    "timestamp": "SELECT arrow_cast(0, 'Timestamp(Millisecond, None)') AS v",
    "time": "SELECT arrow_cast(1, 'Time64(Microsecond)') AS v",
    "date64": "SELECT arrow_cast(86400000, 'Date64') AS v",
    "duration": "SELECT arrow_cast(1, 'Duration(Second)') AS v",
    "interval": "SELECT INTERVAL '1 month 2 days' AS v",
    "float16": "SELECT arrow_cast(1.5, 'Float16') AS v",
    "uint64": "SELECT arrow_cast(1, 'UInt64') AS v",
    "decimal32": "SELECT arrow_cast(1, 'Decimal32(5, 2)') AS v",
    "decimal64": "SELECT arrow_cast(1, 'Decimal64(12, 2)') AS v",
    "list_view": "SELECT arrow_cast(make_array(1), 'ListView(Int64)') AS v",
    "large_list_view": "SELECT arrow_cast(make_array(1), 'LargeListView(Int64)') AS v",
    "list_of_string_view": "SELECT arrow_cast(make_array('a'), 'List(Utf8View)') AS v",
    "dictionary_large": "SELECT arrow_cast('a', 'Dictionary(Int8, LargeUtf8)') AS v",
    "time32": "SELECT arrow_cast(arrow_cast(1, 'Int32'), 'Time32(Second)') AS v",
    "duration_ns": "SELECT arrow_cast(1, 'Duration(Nanosecond)') AS v",
    "timestamp_named_tz": (
        "SELECT arrow_cast(1, 'Timestamp(Second, Some(\"America/New_York\"))') AS v"
    ),
    "null": "SELECT NULL AS v",
    "empty_struct": "SELECT named_struct('x', 1) AS v WHERE false",
}
POSTGRES_CASES = {
    "int_array": "SELECT ARRAY[1, NULL, 3] AS v",
    "text_array": "SELECT ARRAY['a', NULL] AS v",
    "numeric": "SELECT 1.5::numeric AS v",
    "numeric_wide": "SELECT 1.5::numeric(50, 2) AS v",
    "numeric_array": "SELECT ARRAY[1.5::numeric] AS v",
    "json": "SELECT '{\"a\": [1]}'::json AS v",
    "jsonb": "SELECT '{\"a\": [1]}'::jsonb AS v",
    "uuid": f"SELECT {UUID}::uuid AS v",
    "interval": "SELECT interval '4 seconds' AS v",
    "timestamptz": "SELECT timestamptz '2024-01-01 01:02:03+00' AS v",
    "timestamp": "SELECT timestamp '2024-01-01 01:02:03' AS v",
    "time": "SELECT time '01:02:03' AS v",
    "timetz": "SELECT timetz '01:02:03+01' AS v",
    "date": "SELECT date '2024-02-29' AS v",
    "bytea": "SELECT '\\xaa00'::bytea AS v",
    "bool": "SELECT true AS v",
    "smallint": "SELECT 1::smallint AS v",
    "real": "SELECT 1.5::real AS v",
    "money": "SELECT 1.5::money AS v",
    "point": "SELECT point(1, 2) AS v",
    "record": "SELECT ROW(1, 'a') AS v",
    "null": "SELECT NULL AS v",
    "empty_numeric": "SELECT 1.5::numeric(18, 3) AS v WHERE false",
}
SQLITE_CASES = {
    "integer": "SELECT 1 AS v",
    "real": "SELECT 1.5 AS v",
    "text": "SELECT 'ünï' AS v",
    "blob": "SELECT x'AA00' AS v",
    "null": "SELECT NULL AS v",
    "empty": "SELECT 1 AS v WHERE 0",
}
# Engine key -> (adapter, requirements, cases): SQLite both as the stdlib's and as the
# release apsw's wheel bundles.
ENGINES = {
    "datafusion": ("datafusion", ("datafusion==55.0.0",), DATAFUSION_CASES),
    "postgres": ("postgres", (), POSTGRES_CASES),
    "sqlite": ("sqlite", (), SQLITE_CASES),
    "sqlite-apsw": ("sqlite", ("apsw==3.54.1.0",), SQLITE_CASES),
    **{
        f"duckdb-{release}": ("duckdb", (f"duckdb=={release}",), DUCKDB_CASES)
        for release in DUCKDB_RELEASES
    },
}


@pytest.fixture(scope="module")
def workers(
    request: pytest.FixtureRequest,
    runtime_for: Callable[[EngineSpec], Runtime],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[str], EngineWorker]]:
    """One started worker per engine key of ``ENGINES``, started on first use and shared by
    every case of the module."""
    started: dict[str, EngineWorker] = {}

    def get(key: str) -> EngineWorker:
        if key not in started:
            adapter, requirements, _ = ENGINES[key]
            dsn = ""
            if adapter == "postgres":
                server = request.getfixturevalue("local_postgres")
                dsn = server.create_database(f"t{uuid.uuid4().hex[:12]}")
            spec = EngineSpec(name=key, adapter=adapter, requirements=requirements, dsn=dsn)
            workspace: Path = tmp_path_factory.mktemp(key)
            started[key] = EngineWorker(spec, runtime_for(spec), workspace, [])
            started[key].start()
        return started[key]

    yield get
    for worker in started.values():
        worker.close()


def round_trip(worker: EngineWorker, sql: str) -> tuple[pa.Schema, pa.Table, str]:
    """Run ``sql``; return the result's schema, rows and canonical multiset checksum, after
    asserting it crossed the protocol whole (status ok, every row, a worker not replaced)."""
    batches: list[pa.RecordBatch] = []
    restarts = worker.restarts
    outcome = worker.execute(sql, 60.0, batches.append)
    assert outcome.status == "ok", f"{outcome.error_class}: {outcome.error_message}"
    assert worker.restarts == restarts
    schema = outcome.arrow_schema
    assert schema is not None and schema.names == ["v"]
    table = pa.Table.from_batches(batches, schema=schema)
    assert table.num_rows == outcome.rows_returned
    accumulator = ChecksumAccumulator(schema)
    for batch in batches:
        accumulator.update(batch)
    return schema, table, accumulator.finish().multiset


def _expected_rows(name: str) -> int:
    return 0 if name.startswith("empty") else 1


@pytest.mark.parametrize("release", DUCKDB_RELEASES)
@pytest.mark.parametrize("name", sorted(DUCKDB_CASES))
def test_duckdb_type_crosses_the_protocol(workers, release, name):
    _, table, _ = round_trip(workers(f"duckdb-{release}"), DUCKDB_CASES[name])
    assert table.num_rows == _expected_rows(name)


@pytest.mark.parametrize("release", DUCKDB_RELEASES[1:])
@pytest.mark.parametrize("name", sorted(DUCKDB_SINCE_1_1))
def test_duckdb_newer_type_crosses_the_protocol(workers, release, name):
    _, table, _ = round_trip(workers(f"duckdb-{release}"), DUCKDB_SINCE_1_1[name])
    assert table.num_rows == 1


@pytest.mark.parametrize("name", SAME_ON_EVERY_RELEASE)
def test_duckdb_releases_agree_on_checksums(workers, name):
    checksums = {
        release: round_trip(workers(f"duckdb-{release}"), DUCKDB_CASES[name])[2]
        for release in DUCKDB_RELEASES
    }
    assert len(set(checksums.values())) == 1, checksums


def test_old_duckdb_map_has_the_values_of_the_new_one(workers):
    tables = [
        round_trip(workers(f"duckdb-{release}"), DUCKDB_CASES["map_in_struct"])[1]
        for release in DUCKDB_RELEASES
    ]
    assert all(t.to_pylist() == [{"v": {"m": [("k", "x")]}}] for t in tables)


@pytest.mark.parametrize(
    ("engine", "name"),
    [
        pytest.param(key, name, marks=[pytest.mark.postgres] if key == "postgres" else [])
        for key, (adapter, _, cases) in ENGINES.items()
        if adapter != "duckdb"
        for name in sorted(cases)
    ],
)
def test_adapter_type_crosses_the_protocol(workers, engine, name):
    _, table, _ = round_trip(workers(engine), ENGINES[engine][2][name])
    assert table.num_rows == _expected_rows(name)
