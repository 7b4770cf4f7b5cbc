"""DuckDB adapter across releases (0.10, 1.1, 2.0) in real workers: tables, settings,
counts, and the sandbox holding on each release."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from engine_fixtures import DUCKDB_NEW, DUCKDB_OLD, ROWS_PER_DAY, duckdb_spec, write_events

from simulator.engines.contract import TableSpec
from simulator.engines.worker import EngineWorker
from simulator.errors import EngineError

RELEASES = ("0.10.3", DUCKDB_OLD, DUCKDB_NEW)
# (release, read_only_tables): every release copies read-only tables by default; views over
# Parquet are tested where the release can sandbox them (allowed_paths, >= 1.3).
WORKER_MODES = [(release, "copy") for release in RELEASES] + [(DUCKDB_NEW, "views")]


def digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            h.update(str(path).encode() + path.read_bytes())
    return h.hexdigest()


def rows(worker: EngineWorker, sql: str) -> list[dict]:
    batches: list[pa.RecordBatch] = []
    outcome = worker.execute(sql, 30, batches.append)
    assert outcome.status == "ok", outcome
    return pa.Table.from_batches(batches).to_pylist() if batches else []


@pytest.fixture(scope="module")
def shared_world(tmp_path_factory):
    """One generation for the module's workers (the escape tests only read it)."""
    root = tmp_path_factory.mktemp("duckdb-world")
    events = write_events(root / "generation")
    return {"tables": [events], "generation": root / "generation", "root": root}


@pytest.fixture(scope="module", params=WORKER_MODES, ids=["-".join(m) for m in WORKER_MODES])
def worker(request, runtime_for, shared_world):
    release, mode = request.param
    spec = duckdb_spec(release, threads=2, memory_limit="512MB", read_only_tables=mode)
    workspace = shared_world["root"] / f"ws-{release}-{mode}"
    with EngineWorker(spec, runtime_for(spec), workspace, shared_world["tables"]) as started:
        started.read_only_mode = mode
        yield started


def test_tables_settings_and_version(worker):
    assert worker.version.startswith("v")
    assert "events" in worker.list_tables()
    kind = rows(
        worker, "SELECT table_type FROM information_schema.tables WHERE table_name = 'events'"
    )
    expected = "VIEW" if worker.read_only_mode == "views" else "BASE TABLE"
    assert kind == [{"table_type": expected}]
    settings = rows(worker, "SELECT current_setting('threads') AS t")
    assert settings == [{"t": 2}]
    got = rows(worker, "SELECT day, count(*) AS n FROM events GROUP BY day ORDER BY day")
    assert [r["n"] for r in got] == [ROWS_PER_DAY] * 3
    assert worker.table_row_count("events") == 3 * ROWS_PER_DAY


ESCAPES = [
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_csv_auto('/etc/passwd')",
    "SELECT * FROM read_json_auto('/etc/passwd')",
    "SELECT * FROM read_parquet('{generation}/events/*/*.parquet')",
    "SELECT * FROM '/etc/passwd'",
    "COPY events TO '{generation}/events/day=2024-01-01/part-0.parquet' (FORMAT parquet)",
    "COPY (SELECT 1) TO '{generation}/events/day=2024-01-01/part-0.parquet' "
    "(FORMAT parquet, USE_TMP_FILE false)",
    "COPY (SELECT 1) TO '/tmp/qsim-escape.csv'",
    "EXPORT DATABASE '/tmp/qsim-escape-export'",
    "ATTACH '/tmp/qsim-escape.duckdb' AS other",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET enable_external_access = true",
    "SET allowed_paths = ['/etc/passwd']",
]


@pytest.mark.parametrize("escape", ESCAPES)
def test_sandbox_refuses_escapes_and_generation_stays_intact(worker, shared_world, escape):
    generation = shared_world["generation"]
    before = digest(generation)
    outcome = worker.execute(escape.format(generation=generation), 30)
    assert outcome.status == "error", (escape, outcome)
    assert digest(generation) == before
    assert not Path("/tmp/qsim-escape.csv").exists()
    # The views over the generation still work once the escape is refused.
    assert worker.execute("SELECT count(*) FROM events", 30).status == "ok"


def test_partition_column_types_and_empty_tables(runtime_for, tmp_path):
    files = []
    for bucket in (1, 2):
        path = tmp_path / "gen" / "t" / f"bucket={bucket}" / "part-0.parquet"
        path.parent.mkdir(parents=True)
        pq.write_table(pa.table({"x": pa.array([bucket * 10], pa.int64())}), path)
        files.append(str(path))
    typed = TableSpec(
        "t", tuple(files), pa.schema([("x", pa.int64()), ("bucket", pa.int32())]), ("bucket",)
    )
    empty = TableSpec("e", (), pa.schema([("a", pa.string())]), (), True)
    spec = duckdb_spec(DUCKDB_NEW)
    with EngineWorker(spec, runtime_for(spec), tmp_path / "ws", [typed, empty]) as worker:
        outcome = worker.execute("SELECT bucket, x FROM t ORDER BY bucket", 30)
        assert outcome.schema == [["bucket", "int32"], ["x", "int64"]]
        assert worker.table_row_count("e") == 0
        assert worker.execute("INSERT INTO e VALUES ('a'), ('b')", 30).rows_affected == 2


def test_multi_statement_sql_returns_the_last_result(runtime_for, world):
    spec = duckdb_spec(DUCKDB_NEW)
    with EngineWorker(spec, runtime_for(spec), world["workspace"], world["tables"]) as worker:
        got = rows(worker, "CREATE TABLE a AS SELECT 1 AS v; SELECT v + 1 AS w FROM a")
        assert got == [{"w": 2}]
        failed = worker.execute("SELECT * FROM no_such_table", 30)
        assert (failed.status, failed.error_class) == ("error", "CatalogException")


def test_enum_results_cross_the_protocol_as_strings(runtime_for, world):
    spec = duckdb_spec(DUCKDB_NEW)
    with EngineWorker(spec, runtime_for(spec), world["workspace"], world["tables"]) as worker:
        got = rows(worker, "CREATE TYPE mood AS ENUM ('sad', 'ok'); SELECT 'ok'::mood AS m")
        assert got == [{"m": "ok"}]


def test_unknown_read_only_tables_mode_fails_start_with_one_line(
    runtime_for, shared_world, tmp_path
):
    spec = duckdb_spec(DUCKDB_NEW, read_only_tables="mirror")
    worker = EngineWorker(spec, runtime_for(spec), tmp_path / "ws", shared_world["tables"])
    with pytest.raises(EngineError) as info:
        worker.start()
    worker.close()
    assert "read_only_tables: expected one of cache, copy, views, got 'mirror'" in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("release", RELEASES)
def test_partition_digests_move_with_any_row_and_name_what_read_partitions_reads(
    release, runtime_for, tmp_path
):
    spec = duckdb_spec(release)
    with EngineWorker(spec, runtime_for(spec), tmp_path / "ws", []) as worker:
        worker.execute(
            "CREATE TABLE w AS SELECT x, CASE WHEN x < 6 THEN x % 3 END AS part FROM range(8) t(x)",
            30,
        )

        def digests(columns: list[str]) -> dict:
            batches: list[pa.RecordBatch] = []
            assert worker.partition_digests("w", columns, batches.append).status == "ok"
            got = pa.Table.from_batches(batches).to_pylist()
            return {row.get("part", "all"): row for row in got}

        before = digests(["part"])
        assert {k: v["__qsim_rows"] for k, v in before.items()} == {0: 2, 1: 2, 2: 2, None: 2}
        whole = digests([])["all"]
        assert (whole["__qsim_partition_id"], whole["__qsim_rows"]) == (0, 8)
        # A duplicate of a row already there moves the count and both sums of its partition.
        worker.execute("INSERT INTO w SELECT * FROM w WHERE x = 4", 30)
        after = digests(["part"])
        assert [k for k in before if before[k] != after[k]] == [1]
        changed = after[1]
        assert all(changed[c] != before[1][c] for c in ("__qsim_hash_a", "__qsim_hash_b"))
        read: list[pa.RecordBatch] = []
        ids = [changed["__qsim_partition_id"], after[None]["__qsim_partition_id"]]
        assert worker.read_partitions("w", ["part"], ids, read.append).status == "ok"
        assert sorted(pa.Table.from_batches(read).column("x").to_pylist()) == [1, 4, 4, 6, 7]
        assert worker.read_partitions("w", ["part"], [], read.append).status == "ok"
