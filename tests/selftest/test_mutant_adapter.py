"""The mutant engine in a real DuckDB worker: each class changes what it says it changes,
and says so in the execution's notes (the mutation suite's ground truth)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from simulator.config import EngineSpec
from simulator.engines.runtime import default_root, ensure_runtime
from simulator.engines.worker import EngineWorker
from simulator.selftest.mutants.suite import ADAPTER

pytestmark = pytest.mark.slow

SETUP = (
    "CREATE TABLE ev AS SELECT DATE '2024-01-01' + (i % 3)::INT AS day, i AS x, "
    "CASE WHEN i % 2 = 0 THEN 'ab' END AS s, (i * 1.5)::DOUBLE AS f, "
    "TIMESTAMP '2024-01-01' + INTERVAL (i) HOUR AS ts, (i / 3)::DECIMAL(10, 4) AS dd "
    "FROM range(6) t(i)"
)
SELECT = "SELECT x, x * 2 AS y, s, f, ts, dd FROM ev ORDER BY x"


def _spec(mutation: str) -> EngineSpec:
    return EngineSpec(
        name=f"mutant-{mutation}",
        adapter=ADAPTER,
        requirements=("duckdb==2.0.1",),
        dialect="duckdb",
        settings={"threads": 1, "mutation": mutation},
    )


def _rows(worker: EngineWorker, sql: str) -> tuple[object, pa.Table | None]:
    batches: list[pa.RecordBatch] = []
    outcome = worker.execute(sql, 60.0, batches.append)
    table = pa.Table.from_batches(batches) if batches else None
    return outcome, table


@pytest.fixture(scope="module")
def start(tmp_path_factory: pytest.TempPathFactory):
    workers: list[EngineWorker] = []
    runtime = ensure_runtime(_spec("drop_row"), default_root())

    def begin(mutation: str) -> EngineWorker:
        workspace = tmp_path_factory.mktemp(mutation)
        worker = EngineWorker(_spec(mutation), runtime, Path(workspace), [])
        worker.start()
        workers.append(worker)
        return worker

    yield begin
    for worker in workers:
        worker.close()


def test_an_unknown_mutation_is_refused_at_start(start):
    with pytest.raises(Exception, match="mutation"):
        start("no_such_mutation")


@pytest.mark.parametrize(
    ("mutation", "rows", "changed"),
    [
        ("drop_row", 5, True),
        ("duplicate_row", 7, True),
        ("drop_null_rows", 3, True),
        ("swap_columns", 6, True),  # x and y are both BIGINT and differ
        ("case_fold", 6, True),
        ("float_drift", 6, True),
        ("timestamp_shift", 6, True),
        ("decimal_round", 6, True),
        ("int_off_by_one", 6, True),
        ("null_to_empty", 6, True),
        ("shuffle_rows", 6, True),
    ],
)
def test_result_mutants_change_rows_and_say_so(start, mutation, rows, changed):
    worker = start(mutation)
    assert worker.execute(SETUP, 60.0).status == "ok"
    outcome, table = _rows(worker, SELECT)
    assert outcome.status == "ok"
    assert table is not None and table.num_rows == rows
    assert outcome.notes == {"mutation": mutation, "changed": changed}


def test_lost_partition_loses_one_partition_of_an_insert_and_reports_the_full_count(start):
    worker = start("lost_partition")
    assert worker.execute(SETUP, 60.0).status == "ok"
    before = _rows(worker, "SELECT count(*) FROM ev")[1].column(0)[0].as_py()
    outcome = worker.execute("INSERT INTO ev SELECT * FROM ev", 60.0)
    assert outcome.rows_affected == before
    assert outcome.notes["changed"] is True
    after = _rows(worker, "SELECT count(*) FROM ev")[1].column(0)[0].as_py()
    assert before < after < 2 * before  # one day of the inserted rows never landed


def test_delete_leaves_one_row_behind(start):
    worker = start("delete_leaves_rows")
    assert worker.execute(SETUP, 60.0).status == "ok"
    outcome = worker.execute("DELETE FROM ev WHERE x < 3", 60.0)
    assert outcome.rows_affected == 3 and outcome.notes["changed"] is True
    assert _rows(worker, "SELECT count(*) FROM ev")[1].column(0)[0].as_py() == 4


def test_new_error_fails_a_fixed_share_of_statements(start):
    worker = start("new_error")
    statements = [f"SELECT {i} AS v" for i in range(40)]
    failed = [sql for sql in statements if worker.execute(sql, 60.0).status == "error"]
    assert 4 <= len(failed) <= 20
    # The same statement fails every time: the error is a property of the SQL.
    assert all(worker.execute(sql, 60.0).status == "error" for sql in failed)


@pytest.mark.parametrize(
    ("mutation", "extra_reported", "extra_landed"),
    [("wrong_reported_count", 1, 0), ("extra_row_written", 0, 1)],
)
def test_count_mutants_disagree_with_what_landed(start, mutation, extra_reported, extra_landed):
    worker = start(mutation)
    assert worker.execute(SETUP, 60.0).status == "ok"
    before = _rows(worker, "SELECT count(*) FROM ev")[1].column(0)[0].as_py()
    outcome = worker.execute("INSERT INTO ev SELECT * FROM ev", 60.0)
    assert outcome.rows_affected == before + extra_reported
    assert outcome.notes["changed"] is True
    landed = _rows(worker, "SELECT count(*) FROM ev")[1].column(0)[0].as_py()
    assert landed == 2 * before + extra_landed
