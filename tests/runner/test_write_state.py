"""Write verification that reads back only what changed, on real DuckDB workers: the
post-state equals the full read bit for bit, only changed partitions are read, and lost,
extra and leftover rows are still named by the write comparison."""

from __future__ import annotations

from pathlib import Path

import pytest
from runner_fixtures import DUCKDB_NEW, DUCKDB_OLD

from simulator.compare.tables import TableStateBuilder
from simulator.compare.writes import compare_table
from simulator.config import EngineSpec
from simulator.engines.runtime import default_root, ensure_runtime
from simulator.engines.worker import EngineWorker
from simulator.results.execution import TableState
from simulator.runner.execute import Statement, execute_statement
from simulator.runner.write_state import VerifiedTable, read_digests
from simulator.workload.classify import only_adds_or_removes_rows, parse_statement

DAYS = 40
ROWS_PER_DAY = 250
# Many day partitions, a string and a float column, and every row twice (duplicates are
# what an XOR of row hashes would cancel).
CREATE = (
    "CREATE TABLE events AS SELECT x % 100 AS id, 'u' || (x % 7) AS name, x * 0.5 AS amount, "
    f"DATE '2024-01-01' + CAST(x % {DAYS} AS INTEGER) AS day "
    f"FROM range({DAYS * ROWS_PER_DAY // 2}) t(x), range(2) d(k)"
)


def _spec(version: str) -> EngineSpec:
    return EngineSpec(
        name=f"duckdb{version}",
        adapter="duckdb",
        requirements=(f"duckdb=={version}",),
        dialect="duckdb",
        settings={"threads": 1},
    )


@pytest.fixture(params=[DUCKDB_OLD, DUCKDB_NEW])
def worker(request: pytest.FixtureRequest, tmp_path: Path) -> EngineWorker:
    spec = _spec(request.param)
    with EngineWorker(spec, ensure_runtime(spec, default_root()), tmp_path / "ws", []) as w:
        w.execute(CREATE, 60.0)
        yield w


def _write(
    worker: EngineWorker, verified: dict[str, VerifiedTable] | None, kind: str, sql: str
) -> TableState:
    statement = Statement(
        index=0,
        query_id="q",
        kind=kind,
        sql=sql,
        tables_written=("events",),
        partition_columns={"events": ("day",)},
        only_adds_or_removes_rows=only_adds_or_removes_rows(parse_statement(sql, "duckdb")),
    )
    record, _ = execute_statement(
        worker, statement, run_id="r", engine="e", tenant="t", verified=verified
    )
    assert record.status == "ok", record.error_message
    return record.writes["events"]


def _full_read(worker: EngineWorker, rows_before: int | None) -> TableState:
    builder = TableStateBuilder("events", ["day"], rows_before=rows_before)
    assert worker.read_table("events", builder.update).status == "ok"
    return builder.finish()


def test_one_changed_partition_is_read_and_the_state_is_the_full_reads(
    worker: EngineWorker,
) -> None:
    verified: dict[str, VerifiedTable] = {}
    assert worker.has_partition_digests  # DuckDB announces the capability at start
    first = _write(worker, verified, "update", "UPDATE events SET id = id WHERE false")
    assert verified["events"].rows_read == DAYS * ROWS_PER_DAY  # nothing verified yet
    assert len(first.partitions) == DAYS
    writes = [
        ("delete", "DELETE FROM events WHERE day = DATE '2024-01-05'", 0),
        (
            "insert",
            "INSERT INTO events SELECT 1, 'new', 2.5, DATE '2024-01-09' FROM range(30)",
            ROWS_PER_DAY + 30,
        ),
        # One duplicate of a row already there: the count and the sums both move.
        (
            "insert",
            "INSERT INTO events SELECT * FROM events WHERE day = DATE '2024-01-11' LIMIT 1",
            ROWS_PER_DAY + 1,
        ),
        # Found by content: its own partition, and the two the INSERTs changed since the
        # last content digest (their content digests are not known).
        (
            "update",
            "UPDATE events SET name = 'z' WHERE day = DATE '2024-01-20' AND id = 19",
            250 + ROWS_PER_DAY + 30 + ROWS_PER_DAY + 1,
        ),
        ("update", "UPDATE events SET name = 'y' WHERE day = DATE '2024-01-21' AND id = 20", 250),
        ("insert", "INSERT INTO events VALUES (1, 'b', 1.0, DATE '2025-06-01')", 1),
        # Rewrites every row, changes nothing: only the partition inserted since is read.
        ("update", "UPDATE events SET id = id", 1),
        ("update", "UPDATE events SET id = id", 0),
        # A DELETE of 50 rows, then an INSERT of 50 like them: the partition's count is
        # back where it was, its row ids are not.
        ("delete", "DELETE FROM events WHERE day = DATE '2024-01-22' AND id = 21", 200),
        (
            "insert",
            "INSERT INTO events SELECT 21, 'u0', 0.5, DATE '2024-01-22' FROM range(50)",
            250,
        ),
    ]
    for kind, sql, rows_read in writes:
        before = _full_read(worker, None).row_count
        state = _write(worker, verified, kind, sql)
        assert state == _full_read(worker, before), sql
        assert verified["events"].rows_read == rows_read, sql


def _pair(
    tmp_path: Path, sql_base: str, sql_cand: str, kind: str
) -> tuple[TableState, TableState, int]:
    states, reads = [], []
    for side, sql in (("base", sql_base), ("cand", sql_cand)):
        spec = _spec(DUCKDB_NEW)
        runtime = ensure_runtime(spec, default_root())
        with EngineWorker(spec, runtime, tmp_path / side, []) as worker:
            worker.execute(CREATE, 60.0)
            verified: dict[str, VerifiedTable] = {}
            _write(worker, verified, "update", "UPDATE events SET id = id WHERE false")
            states.append(_write(worker, verified, kind, sql))
            reads.append(verified["events"].rows_read)
    return states[0], states[1], max(reads)


def test_a_lost_partition_is_named(tmp_path: Path) -> None:
    base, cand, read = _pair(
        tmp_path,
        "INSERT INTO events SELECT 1, 'n', 1.0, DATE '2024-03-01' FROM range(10)",
        "INSERT INTO events SELECT 1, 'n', 1.0, DATE '2024-03-01' FROM range(10) WHERE false",
        "insert",
    )
    diff = compare_table(base, cand)
    assert diff is not None and read <= 10
    assert [e["partition"] for e in diff["missing_partitions"]] == ["day=2024-03-01"]


def test_a_partition_written_that_should_not_have_been_is_named(tmp_path: Path) -> None:
    base, cand, _ = _pair(
        tmp_path,
        "INSERT INTO events SELECT 1, 'n', 1.0, DATE '2024-03-01' FROM range(10)",
        "INSERT INTO events SELECT 1, 'n', 1.0, DATE '2024-03-01' + CAST(x AS INTEGER) "
        "FROM range(2) t(x), range(5)",
        "insert",
    )
    diff = compare_table(base, cand)
    assert diff is not None
    assert [e["partition"] for e in diff["extra_partitions"]] == ["day=2024-03-02"]
    assert [e["partition"] for e in diff["different_partitions"]] == ["day=2024-03-01"]


def test_a_delete_that_left_rows_is_named(tmp_path: Path) -> None:
    base, cand, _ = _pair(
        tmp_path,
        "DELETE FROM events WHERE day = DATE '2024-01-07'",
        "DELETE FROM events WHERE day = DATE '2024-01-07' AND id <> 6",
        "delete",
    )
    diff = compare_table(base, cand)
    assert diff is not None
    assert diff["extra_partitions"] == [
        {"partition": "day=2024-01-07", "baseline_rows": None, "candidate_rows": 50}
    ]


def test_a_same_count_change_is_named(tmp_path: Path) -> None:
    base, cand, read = _pair(
        tmp_path,
        "UPDATE events SET amount = amount WHERE day = DATE '2024-01-12'",
        "UPDATE events SET amount = amount + 1 WHERE day = DATE '2024-01-12' AND id = 11",
        "update",
    )
    diff = compare_table(base, cand)
    assert diff is not None and read == ROWS_PER_DAY
    assert [e["partition"] for e in diff["different_partitions"]] == ["day=2024-01-12"]


def test_an_unpartitioned_table_is_read_only_when_it_changed(tmp_path: Path) -> None:
    spec = _spec(DUCKDB_OLD)
    with EngineWorker(spec, ensure_runtime(spec, default_root()), tmp_path / "ws", []) as w:
        w.execute("CREATE TABLE events AS SELECT x FROM range(100) t(x)", 60.0)
        verified: dict[str, VerifiedTable] = {}
        first = _write(w, verified, "insert", "INSERT INTO events VALUES (1)")
        assert first.partition_columns == [] and verified["events"].rows_read == 101
        _write(w, verified, "delete", "DELETE FROM events WHERE x > 1000")
        assert verified["events"].rows_read == 0
        state = _write(w, verified, "delete", "DELETE FROM events WHERE x = 1")
        assert verified["events"].rows_read == 99 and state.row_count == 99  # both 1s went
        builder = TableStateBuilder("events", [], rows_before=101)
        w.read_table("events", builder.update)
        assert state == builder.finish()


def test_an_engine_without_digests_is_read_back_in_full(tmp_path: Path) -> None:
    spec = EngineSpec(name="lite", adapter="sqlite", dialect="sqlite")
    with EngineWorker(spec, ensure_runtime(spec, default_root()), tmp_path / "ws", []) as w:
        # The worker says so at start: no digest request is ever sent for it.
        assert w.has_partition_digests is False
        w.execute("CREATE TABLE events AS SELECT 1 AS x, '2024-01-01' AS day", 60.0)
        verified: dict[str, VerifiedTable] = {}
        state = _write(w, verified, "insert", "INSERT INTO events VALUES (2, '2024-01-02')")
        assert verified == {} and state.row_count == 2 and len(state.partitions) == 2


def test_partitions_are_read_by_value_exactly_with_nulls_quotes_and_two_columns(
    tmp_path: Path,
) -> None:
    spec = _spec(DUCKDB_NEW)
    with EngineWorker(spec, ensure_runtime(spec, default_root()), tmp_path / "ws", []) as w:
        w.execute(
            "CREATE TABLE t AS SELECT x, CASE WHEN x % 5 = 0 THEN NULL "
            "ELSE DATE '2024-01-01' + CAST(x % 3 AS INTEGER) END AS day, "
            "CASE WHEN x % 2 = 0 THEN 'it''s' ELSE 'b' END AS k FROM range(60) t(x)",
            60.0,
        )
        for columns in (["day"], ["k", "day"]):
            digests = read_digests(w, "t", columns, 60.0, by_row_identity=True)
            assert digests is not None and sum(d.rows for d in digests.values()) == 60
            for key, digest in digests.items():
                builder = TableStateBuilder("t", columns, rows_before=None)
                outcome = w.read_partitions("t", columns, [digest.partition_id], builder.update)
                assert outcome.status == "ok"
                state = builder.finish()
                assert list(state.partitions) == [key]
                assert state.row_count == digest.rows, key
