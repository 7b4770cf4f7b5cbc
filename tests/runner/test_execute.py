"""One statement on a real engine worker: checksums computed in the worker, kept results,
write post-states per partition, and data qsim cannot checksum recorded, not raised."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pyarrow as pa
import pyarrow.ipc
import pytest
from runner_fixtures import DUCKDB_NEW

from simulator.compare.diff_sample import is_sub_multiset
from simulator.compare.judge import judge_query
from simulator.compare.results import compare_results
from simulator.config import CompareSection, EngineSpec
from simulator.engines.protocol import ResultRequest
from simulator.engines.runtime import default_root, ensure_runtime
from simulator.engines.worker import EngineWorker
from simulator.engines.worker_checksums import ResultDigest
from simulator.results.execution import Execution
from simulator.runner.execute import Statement, execute_statement

SPEC = EngineSpec(
    name="cand",
    adapter="duckdb",
    requirements=(f"duckdb=={DUCKDB_NEW}",),
    dialect="duckdb",
    settings={"threads": 1},
)


@pytest.fixture
def worker(tmp_path: Path) -> EngineWorker:
    with EngineWorker(SPEC, ensure_runtime(SPEC, default_root()), tmp_path / "ws", []) as w:
        yield w


def _run(worker: EngineWorker, index: int, kind: str, sql: str, **extra: object):
    statement = Statement(index=index, query_id=f"q{index}", kind=kind, sql=sql, **extra)
    return execute_statement(
        worker, statement, run_id="r", engine="cand", tenant="t01", keep_result_rows=10
    )


def test_select_is_checksummed_and_a_small_float_result_kept(worker: EngineWorker) -> None:
    record, kept = _run(worker, 0, "select", "SELECT x, x / 3 AS third FROM range(5) t(x)")
    assert record.status == "ok" and record.rows_returned == 5
    assert record.result is not None and record.result["row_count"] == 5
    assert record.result["column_names"] == ["x", "third"]
    assert record.execution_id == "load:cand:t01:q0:0" and record.engine_version.startswith("v")
    table = pa.ipc.open_file(pa.BufferReader(kept)).read_all()
    assert table.num_rows == 5
    _, not_kept = _run(worker, 1, "select", "SELECT x FROM range(5) t(x)")
    assert not_kept is None  # no float or decimal column: nothing to compare tolerantly


def test_write_post_state_is_read_back_per_day_partition(worker: EngineWorker) -> None:
    create = "CREATE TABLE stage AS SELECT x, '2024-03-0' || (x % 2 + 1) AS day FROM range(6) t(x)"
    record, _ = _run(worker, 0, "ctas", create, tables_written=("stage",))
    state = record.writes["stage"]
    assert state.rows_before is None and state.row_count == 6
    assert state.partition_columns == ["day"]
    assert {k: p.row_count for k, p in state.partitions.items()} == {
        "day=2024-03-01": 3,
        "day=2024-03-02": 3,
    }
    record, _ = _run(
        worker, 1, "delete", "DELETE FROM stage WHERE day = '2024-03-01'", tables_written=("stage",)
    )
    state = record.writes["stage"]
    assert (state.rows_before, state.row_count) == (6, 3)
    assert list(state.partitions) == ["day=2024-03-02"]
    dropped, _ = _run(worker, 2, "ddl", "DROP TABLE stage", tables_written=("stage",))
    assert dropped.writes["stage"].exists is False


def test_engine_errors_are_records_and_unparseable_sql_is_skipped(worker: EngineWorker) -> None:
    record, _ = _run(worker, 0, "select", "SELECT * FROM no_such_table")
    assert record.status == "error" and record.error_class
    skipped, _ = execute_statement(
        worker,
        Statement(index=1, query_id="q1", kind="select", sql=None, skip_reason="unparseable"),
        run_id="r",
        engine="cand",
        tenant="t01",
    )
    assert (skipped.status, skipped.error_message) == ("skipped", "unparseable")


def test_a_result_qsim_cannot_checksum_is_kept_as_an_error_not_raised() -> None:
    request = ResultRequest(checksum=True, keep_rows=10, limited=True)
    digest = ResultDigest(request, pa.schema([("x", pa.int64())]))
    digest.add(pa.record_batch({"x": pa.array([1], pa.int64())}))
    digest.add(pa.record_batch({"x": pa.array(["a"], pa.string())}))  # type changes mid-stream
    fields, frames = digest.finish()
    assert "column 0" in str(fields["checksum_error"]) and "checksum" not in fields
    assert frames == []  # nor are its rows sent


EMPTY_TYPED = (
    "SELECT 1.5::DECIMAL(18, 3) AS amount, TIMESTAMPTZ '2024-01-01 00:00:00+00' AS at, "
    "[1, 2] AS ids FROM range(3) WHERE false"
)


def test_an_empty_result_keeps_its_column_types(worker: EngineWorker) -> None:
    record, _ = _run(worker, 0, "select", EMPTY_TYPED)
    assert record.status == "ok" and record.rows_returned == 0
    assert record.result is not None and record.result["row_count"] == 0
    typed, _ = _run(worker, 1, "select", EMPTY_TYPED.replace("WHERE false", ""))
    assert record.result["column_types"] == typed.result["column_types"]
    assert "null" not in record.result["column_types"]


def _select_facts(query_id: str) -> SimpleNamespace:
    """What the comparison reads about a plain SELECT without ORDER BY or LIMIT."""
    return SimpleNamespace(
        query_id=query_id,
        tenant="t01",
        pattern_id="p",
        kind="select",
        order_by=False,
        order_keys=(),
        limit=None,
        nondeterministic=(),
        tables_written=(),
        weight=1.0,
    )


def test_a_type_difference_on_an_empty_result_is_a_schema_mismatch(worker: EngineWorker) -> None:
    facts = _select_facts("q")
    for where in ("WHERE false", ""):
        numeric, _ = _run(worker, 0, "select", f"SELECT 1.5::DECIMAL(18, 3) AS v {where}")
        double, _ = _run(worker, 1, "select", f"SELECT 1.5::DOUBLE AS v {where}")
        outcome = compare_results(facts, numeric, double, CompareSection())
        assert (outcome.verdict, outcome.reason) == ("result_mismatch", "schema_mismatch")


def test_a_map_from_duckdb_0_10_is_judged_like_the_same_map_from_the_newest(tmp_path: Path):
    # DuckDB 0.10 declares map keys nullable: this query was baseline_error ("garbage").
    old = EngineSpec(name="old", adapter="duckdb", requirements=("duckdb==0.10.3",))
    sql = "SELECT map(['a', 'b'], [1, NULL]) AS m, {'l': [map(['k'], [2.5])]} AS s"
    facts = _select_facts("q0")
    records = []
    for spec in (old, SPEC):
        runtime = ensure_runtime(spec, default_root())
        with EngineWorker(spec, runtime, tmp_path / spec.name, []) as worker:
            records.append(_run(worker, 0, "select", sql)[0])
    assert [record.status for record in records] == ["ok", "ok"]
    verdict = judge_query(facts, [records[0]], records[1], CompareSection(), "cand", "r")
    assert (verdict.verdict, verdict.reason) == ("match", "")


def test_a_result_qsim_cannot_checksum_is_a_harness_error_naming_the_type(tmp_path: Path):
    # pyarrow has no array class for DataFusion's year-month intervals: qsim's limit, not
    # the engine's error.
    spec = EngineSpec(name="df", adapter="datafusion", requirements=("datafusion==55.0.0",))
    sql = "SELECT arrow_cast('1 month', 'Interval(YearMonth)') AS v"
    with EngineWorker(spec, ensure_runtime(spec, default_root()), tmp_path, []) as worker:
        record, _ = _run(worker, 0, "select", sql)
        assert (record.status, record.error_class) == ("harness_error", "HarnessChecksumError")
        assert "month_interval" in record.error_message
        assert _run(worker, 1, "select", "SELECT 1 AS v")[0].status == "ok"


def test_engine_notes_from_the_adapter_reach_the_execution_record(tmp_path: Path) -> None:
    spec = EngineSpec(
        name="cand",
        adapter="tests.engines.plugin_adapters:NotingDuckDBAdapter",
        requirements=(f"duckdb=={DUCKDB_NEW}",),
        dialect="duckdb",
        settings={"threads": 1},
    )
    with EngineWorker(spec, ensure_runtime(spec, default_root()), tmp_path / "ws", []) as w:
        record, _ = _run(w, 0, "select", "SELECT 1 AS a; SELECT 2 AS b")
    assert record.status == "ok"
    assert record.engine_notes == {"statements": 2, "adapter": "noting"}
    assert Execution.from_dict(record.to_dict()).engine_notes == record.engine_notes
    old = record.to_dict()
    del old["engine_notes"]  # a record written before the field existed still reads
    assert Execution.from_dict(old).engine_notes == {}


def test_rows_are_kept_for_every_result_whose_comparison_can_use_them(
    worker: EngineWorker,
) -> None:
    def kept(index: int, sql: str, **facts: object) -> bool:
        return _run(worker, index, "select", sql, **facts)[1] is not None

    ties = "SELECT x % 2 AS k, x FROM range(6) t(x) ORDER BY k"
    assert kept(0, ties, ordered=True, order_keys=("k",))  # tie groups need the rows
    total = "SELECT x % 2 AS k, x FROM range(6) t(x) ORDER BY k, x"
    assert not kept(1, total, ordered=True, order_keys=("k", "x"))  # ordered digest decides
    assert kept(2, "SELECT x FROM range(6) t(x) LIMIT 3", limit=3)
    assert not kept(5, total + " LIMIT 3", ordered=True, order_keys=("k", "x"), limit=3)
    assert not kept(3, "SELECT x FROM range(6) t(x)")
    assert not kept(4, "SELECT x FROM range(60) t(x) LIMIT 30", limit=30)  # past the bound


def test_the_unlimited_run_keeps_row_hashes_up_to_its_cap(worker: EngineWorker) -> None:
    unlimited = Statement(
        index=0, query_id="q0", kind="select", sql="SELECT x, x / 2 AS h FROM range(5) t(x)"
    )

    def run(cap: int):
        return execute_statement(
            worker,
            unlimited,
            run_id="r",
            engine="base",
            tenant="t01",
            phase="unlimited",
            row_hash_cap=cap,
        )

    record, hashes = run(5)
    assert record.execution_id == "unlimited:base:t01:q0:0" and record.rows_returned == 5
    table = pa.ipc.open_file(pa.BufferReader(hashes)).read_all()
    assert table.num_rows == 5 and table.schema.metadata[b"columns"] == b"0"  # float left out
    limited = pa.table({"x": [3, 4], "h": [9.0, 9.0]})  # floats differ: tolerance decides them
    path = worker.workspace / "hashes.arrow"
    path.write_bytes(hashes)
    rows = worker.workspace / "rows.arrow"
    with pa.ipc.new_file(str(rows), limited.schema) as writer:
        writer.write_table(limited)
    assert is_sub_multiset(rows, path)
    record, hashes = run(4)
    assert record.status == "ok" and record.rows_returned == 5 and hashes is None
