"""The PostgreSQL adapter through real workers: DSN errors, refusing a privileged role,
streaming, type mapping, restarts and session settings."""

from __future__ import annotations

from decimal import Decimal

import psycopg
import pyarrow as pa
import pytest
from adapter_fixtures import EVENTS_PER_DAY, run

from simulator.engines.postgres_server import check_reachable, redact_dsn
from simulator.errors import EngineError

pytestmark = pytest.mark.postgres


def test_unreachable_server_is_one_line_naming_engine_and_dsn(adapter_worker):
    dsn = "host=/nonexistent-qsim port=5432 dbname=x user=u password=secret"
    with pytest.raises(EngineError) as caught:
        adapter_worker("postgres", dsn=dsn)
    message = str(caught.value)
    assert "\n" not in message
    assert "postgres-suite" in message and "/nonexistent-qsim" in message
    assert "secret" not in message and "password=***" in message
    with pytest.raises(EngineError, match=r"engine cand: PostgreSQL at .*nonexistent-qsim"):
        check_reachable(dsn, "cand")
    assert redact_dsn("postgresql://u:pw@h/db") == "postgresql://u:***@h/db"


def test_a_privileged_role_is_refused(adapter_worker, local_postgres):
    with pytest.raises(EngineError, match=r"superuser.*unprivileged role"):
        adapter_worker("postgres", dsn=local_postgres.admin_dsn)


def test_rows_stream_in_batches_from_a_server_side_cursor(adapter_worker):
    worker, _ = adapter_worker("postgres", batch_rows=5)
    batches: list[pa.RecordBatch] = []
    outcome = worker.execute("SELECT * FROM events ORDER BY event_id", 30.0, batches.append)
    assert outcome.status == "ok", outcome.error_message
    assert [batch.num_rows for batch in batches] == [5, 5, 2]


def test_computed_numerics_and_arrays_map_to_arrow(adapter_worker):
    worker, _ = adapter_worker("postgres")
    outcome, table = run(
        worker,
        "SELECT sum(amount) AS total, array_agg(note ORDER BY event_id) AS notes, "
        "min(time) AS first FROM events WHERE day = '2024-01-01'",
    )
    assert outcome.status == "ok", outcome.error_message
    assert table.schema.field("total").type == pa.decimal128(38, 2)
    assert table.column("total").to_pylist() == [Decimal("10000000000000007.42")]
    assert table.schema.field("notes").type == pa.list_(pa.string())
    assert table.column("notes").to_pylist()[0][1] == "ünïcødé ✓"
    assert table.schema.field("first").type == pa.timestamp("us", "UTC")


def test_data_modifying_with_and_a_restart_keep_writes(adapter_worker):
    worker, _ = adapter_worker("postgres")
    outcome, table = run(
        worker,
        "WITH gone AS (DELETE FROM events WHERE day = '2024-01-01' RETURNING event_id) "
        "SELECT count(*) AS n FROM gone",
    )
    assert outcome.status == "ok", outcome.error_message
    assert table.column("n").to_pylist() == [EVENTS_PER_DAY]
    worker.restart()
    assert worker.table_row_count("events") == 2 * EVENTS_PER_DAY
    vacuum, _ = run(worker, "VACUUM events")
    assert vacuum.status == "ok", vacuum.error_message


def test_a_timed_out_statement_does_not_outlive_its_worker(adapter_worker, local_postgres):
    worker, _ = adapter_worker("postgres")
    hung = worker.execute("SELECT count(*) FROM events, pg_sleep(60)", 1.0)
    assert hung.status == "timeout"
    # The replacement worker ends the old session, so its locks cannot block the next write.
    deleted, _ = run(worker, "DELETE FROM events WHERE day = '2024-01-01'")
    assert deleted.status == "ok" and deleted.rows_affected == EVENTS_PER_DAY
    with psycopg.connect(local_postgres.admin_dsn) as conn:
        sleeping = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' "
            "AND pid <> pg_backend_pid()"
        ).fetchone()[0]
    assert sleeping == 0


def test_session_settings_apply(adapter_worker):
    worker, _ = adapter_worker("postgres", statement_timeout="200ms")
    outcome, _ = run(worker, "SELECT pg_sleep(2)")
    assert outcome.status == "error"
    assert outcome.error_class == "QueryCanceled"


def test_loaded_tables_have_planner_statistics(adapter_worker):
    # A deployment analyzes what it bulk-loads; without it the planner guesses row counts
    # (a TPC-DS query took 120 s instead of 0.43 s).
    worker, _ = adapter_worker("postgres")
    outcome, table = run(
        worker,
        "SELECT c.relname, c.reltuples, "
        "(SELECT count(*) FROM pg_stats s WHERE s.schemaname = n.nspname "
        "AND s.tablename = c.relname) AS stats "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relkind = 'r' ORDER BY c.relname",
    )
    assert outcome.status == "ok", outcome.error_message
    rows = {row["relname"]: row for row in table.to_pylist()}
    assert set(rows) == {"archive", "customers", "events"}
    assert rows["events"]["reltuples"] == 3 * EVENTS_PER_DAY
    assert rows["customers"]["reltuples"] == 3
    assert all(row["stats"] > 0 for row in rows.values())
