"""EngineWorker against real DuckDB releases and fake plugins in real worker processes."""

from __future__ import annotations

import contextlib
import os
import signal
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pytest
from engine_fixtures import DUCKDB_NEW, DUCKDB_OLD, ROWS_PER_DAY, duckdb_spec, fake_spec

from simulator.engines.worker import EngineWorker
from simulator.errors import EngineError

# Never ends in practice (1e11 rows, a filter that defeats count shortcuts): only a timeout
# stops it.
ENDLESS = "SELECT count(*) FROM range(100000000000) t(x) WHERE x % 7 = 3"


def collect(outcome_rows: list[pa.RecordBatch]) -> pa.Table:
    return pa.Table.from_batches(outcome_rows)


def test_two_duckdb_releases_side_by_side_report_their_versions(runtime_for, world):
    sql = "SELECT day, count(*) AS n, sum(amount) AS total FROM events GROUP BY day ORDER BY day"
    with contextlib.ExitStack() as stack:
        workers = {}
        for version in (DUCKDB_OLD, DUCKDB_NEW):
            spec = duckdb_spec(version)
            worker = EngineWorker(
                spec, runtime_for(spec), world["workspace"] / version, world["tables"]
            )
            workers[version] = stack.enter_context(worker)
        # Both engines are alive at once, each in its own process and runtime.
        assert workers[DUCKDB_OLD].pid != workers[DUCKDB_NEW].pid
        results = {}
        for version, worker in workers.items():
            assert worker.version == f"v{version}"
            batches: list[pa.RecordBatch] = []
            outcome = worker.execute(sql, 30, batches.append)
            assert outcome.status == "ok", outcome
            assert outcome.rows_returned == 3
            assert outcome.schema == [["day", "string"], ["n", "int64"], ["total", "double"]]
            assert 0 < outcome.wall_ms < 5000
            results[version] = collect(batches)
    assert results[DUCKDB_OLD].equals(results[DUCKDB_NEW])
    assert results[DUCKDB_NEW].column("n").to_pylist() == [ROWS_PER_DAY] * 3


@pytest.mark.parametrize("version", [DUCKDB_OLD, DUCKDB_NEW])
def test_writes_report_counts_and_survive_a_timeout(runtime_for, world, version):
    spec = duckdb_spec(version, threads=1)
    with EngineWorker(spec, runtime_for(spec), world["workspace"], world["tables"]) as worker:
        inserted = worker.execute(
            "INSERT INTO sink SELECT * FROM events WHERE day = '2024-01-02'", 30
        )
        assert (inserted.status, inserted.rows_affected) == ("ok", ROWS_PER_DAY)
        ctas = worker.execute("CREATE TABLE big AS SELECT * FROM events WHERE event_id > 3", 30)
        assert (ctas.status, ctas.rows_affected) == ("ok", 12)
        deleted = worker.execute("DELETE FROM big WHERE day = '2024-01-01'", 30)
        assert (deleted.status, deleted.rows_affected) == ("ok", 2)
        updated = worker.execute("UPDATE big SET note = 'x' WHERE day = '2024-01-03'", 30)
        assert (updated.status, updated.rows_affected) == ("ok", ROWS_PER_DAY)
        first_pid = worker.pid

        hung = worker.execute(ENDLESS, 1.0)
        assert hung.status == "timeout"
        assert 1000 <= hung.wall_ms < 4000
        assert worker.pid is None

        # The replacement worker sees every write made before the timeout.
        assert worker.table_row_count("sink") == 4 * ROWS_PER_DAY
        assert worker.table_row_count("big") == 10
        assert worker.pid not in (None, first_pid)
        assert sorted(worker.list_tables()) == ["big", "events", "sink"]


def test_segfault_is_a_crash_with_its_signal_and_the_next_call_works(runtime_for, world):
    spec = duckdb_spec(DUCKDB_NEW)
    with EngineWorker(spec, runtime_for(spec), world["workspace"], world["tables"]) as worker:
        os.kill(worker.pid, signal.SIGSEGV)
        crashed = worker.execute("SELECT 1", 10)
        assert (crashed.status, crashed.signal) == ("crash", signal.SIGSEGV)
        assert "signal 11 (SIGSEGV)" in crashed.error_message
        again = worker.execute("SELECT count(*) FROM events", 10)
        assert (again.status, again.rows_returned) == ("ok", 1)
        assert worker.restarts == 1


def test_adapter_abort_is_a_crash_and_worker_is_replaced(runtime_for, tmp_path):
    spec = fake_spec("FakeCrashAdapter")
    with EngineWorker(spec, runtime_for(spec), tmp_path, []) as worker:
        assert worker.version == "fake-1.0"
        crashed = worker.execute("please crash", 10)
        assert (crashed.status, crashed.signal) == ("crash", signal.SIGABRT)
        batches: list[pa.RecordBatch] = []
        fine = worker.execute("SELECT 1", 10, batches.append)
        assert fine.status == "ok"
        assert collect(batches).column("n").to_pylist() == [len("SELECT 1")]


def test_garbage_on_the_protocol_stream_is_a_crash_then_recovery(runtime_for, tmp_path):
    spec = fake_spec("FakeGarbageAdapter")
    with EngineWorker(spec, runtime_for(spec), tmp_path, []) as worker:
        broken = worker.execute("emit garbage", 10)
        assert (broken.status, broken.error_class) == ("crash", "ProtocolError")
        assert "garbage on its protocol stream" in broken.error_message
        assert "bad frame magic" in broken.error_message
        assert worker.execute("SELECT 1", 10).status == "ok"


def test_a_result_qsim_cannot_carry_is_a_harness_error_and_the_worker_stays(runtime_for, tmp_path):
    spec = fake_spec("FakeHarnessAdapter")
    with EngineWorker(spec, runtime_for(spec), tmp_path, []) as worker:
        pid = worker.pid
        undecodable = worker.execute("SELECT undecodable", 10)
        assert (undecodable.status, undecodable.error_class) == (
            "harness_error",
            "HarnessDecodeError",
        )
        assert "Map's keys must be non-nullable" in undecodable.error_message
        unencodable = worker.execute("SELECT unencodable", 10)
        assert (unencodable.status, unencodable.error_class) == (
            "harness_error",
            "HarnessEncodeError",
        )
        assert "struct<x: int64>" in unencodable.error_message
        assert "list<item: int64>" in unencodable.error_message
        # The stream stayed in step: same worker, next statement fine.
        assert worker.execute("SELECT 1", 10).status == "ok"
        assert (worker.pid, worker.restarts) == (pid, 0)


def test_prints_to_stdout_go_to_the_log_not_the_protocol(runtime_for, tmp_path):
    spec = fake_spec("FakeChattyAdapter")
    with EngineWorker(spec, runtime_for(spec), tmp_path, []) as worker:
        for _ in range(3):
            assert worker.execute("SELECT 1", 10).status == "ok"
        assert worker.restarts == 0
    assert "chatty engine says hello" in (tmp_path / "worker.log").read_text()


def test_adapter_failing_to_open_is_one_engine_error_line(runtime_for, tmp_path):
    spec = fake_spec("FakeFailingOpenAdapter", name="flaky")
    worker = EngineWorker(spec, runtime_for(spec), tmp_path, [])
    with pytest.raises(EngineError) as err:
        worker.start()
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("engine flaky: ")
    assert "failed in open: RuntimeError: fake engine refuses to open" in message
    assert worker.pid is None


def test_statement_allocating_until_killed_is_recorded_and_worker_goes_on(runtime_for, world):
    spec = duckdb_spec(DUCKDB_NEW, threads=1, max_memory_mb=1024)
    with EngineWorker(spec, runtime_for(spec), world["workspace"], world["tables"]) as worker:
        hog = worker.execute(
            "SELECT max(length(s)) FROM "
            "(SELECT string_agg(x::VARCHAR, ',') AS s FROM range(300000000) t(x))",
            60,
        )
        assert hog.status in ("error", "crash"), hog
        assert "memory" in hog.error_message.lower() or hog.signal is not None
        assert worker.execute("SELECT 42", 10).status == "ok"


def test_large_result_streams_in_batches(runtime_for, world):
    spec = duckdb_spec(DUCKDB_NEW)
    sizes: list[int] = []
    with EngineWorker(spec, runtime_for(spec), world["workspace"], world["tables"]) as worker:
        outcome = worker.execute(
            "SELECT x, x * 2 AS y FROM range(1000000) t(x)", 60, lambda b: sizes.append(b.num_rows)
        )
    assert outcome.status == "ok"
    assert outcome.rows_returned == sum(sizes) == 1_000_000
    assert len(sizes) > 1


def test_workspace_holds_the_log(tmp_path: Path, runtime_for):
    spec = fake_spec("FakeEngineAdapter")
    with EngineWorker(spec, runtime_for(spec), tmp_path / "ws", []) as worker:
        assert worker.list_tables() == []
    assert (tmp_path / "ws" / "worker.log").exists()


def test_sink_failure_propagates_and_the_worker_is_replaced(runtime_for, world):
    spec = duckdb_spec(DUCKDB_NEW)
    with EngineWorker(spec, runtime_for(spec), world["workspace"], world["tables"]) as worker:

        def full_disk_sink(batch: pa.RecordBatch) -> None:
            raise OSError("FakeFullDisk: no space left for result files")

        with pytest.raises(OSError, match="FakeFullDisk"):
            worker.execute("SELECT * FROM range(1000000)", 30, full_disk_sink)
        assert worker.pid is None
        assert worker.execute("SELECT 1", 10).status == "ok"


def test_missing_runtime_python_is_one_engine_error_line(runtime_for, tmp_path):
    spec = fake_spec("FakeEngineAdapter", name="gone")
    runtime = runtime_for(spec)
    moved = replace(runtime, python=tmp_path / "no-such-python")
    with pytest.raises(EngineError, match=r"^engine gone: cannot start a worker with "):
        EngineWorker(spec, moved, tmp_path, []).start()
