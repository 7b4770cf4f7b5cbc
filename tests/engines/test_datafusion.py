"""The DataFusion adapter through real workers (datafusion lives only in its runtime):
DML counts on in-memory tables, read-only views, unsupported statements as engine errors,
settings, and the listing fallback when a folder holds files a table does not list."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest
from adapter_fixtures import EVENTS_PER_DAY, customers_rows, read_back, run

from simulator.errors import EngineError


def test_update_and_delete_report_counts_on_writable_tables(adapter_worker):
    worker, _ = adapter_worker("datafusion")
    update, _ = run(worker, "UPDATE events SET note = 'seen' WHERE customer_id = 1")
    assert update.status == "ok", update.error_message
    post = read_back(worker, "events")
    assert update.rows_affected == post.column("note").to_pylist().count("seen") == 4
    delete, _ = run(worker, "DELETE FROM events WHERE flag IS NULL")
    assert delete.rows_affected == 3
    assert worker.table_row_count("events") == 3 * EVENTS_PER_DAY - 3


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO customers SELECT * FROM customers",
        "DELETE FROM customers",
        "UPDATE customers SET name = 'x'",
        "MERGE INTO events USING customers c ON events.customer_id = c.customer_id "
        "WHEN MATCHED THEN DELETE",
        "TRUNCATE TABLE events",
        "ALTER TABLE events ADD COLUMN extra INT",
    ],
)
def test_unsupported_statements_are_engine_errors(adapter_worker, statement):
    worker, _ = adapter_worker("datafusion")
    outcome, _ = run(worker, statement)
    assert outcome.status == "error"
    assert "not implemented" in outcome.error_message or "not supported" in outcome.error_message
    assert worker.table_row_count("customers") == 3


def test_ctas_keeps_arrow_types(adapter_worker):
    worker, world = adapter_worker("datafusion")
    ctas, _ = run(worker, "CREATE TABLE copy AS SELECT * FROM events")
    assert ctas.status == "ok", ctas.error_message
    assert read_back(worker, "copy").schema == world.expected("events").schema


def test_a_folder_with_unlisted_files_is_read_from_the_listed_files_only(adapter_worker):
    worker, world = adapter_worker("datafusion")
    folder = world.generation / "t01" / "customers"
    worker.close()
    pq.write_table(customers_rows(), folder / "stray.parquet")
    worker.restart()
    assert worker.table_row_count("customers") == 3


def test_settings_are_applied_or_refused(adapter_worker):
    worker, _ = adapter_worker("datafusion", target_partitions=1, memory_limit="64MB")
    outcome, table = run(
        worker,
        "SELECT value FROM information_schema.df_settings "
        "WHERE name = 'datafusion.execution.target_partitions'",
    )
    assert outcome.status == "ok", outcome.error_message
    assert table.column(0).to_pylist() == ["1"]
    with pytest.raises(EngineError, match="unknown setting 'threads_per_core'"):
        adapter_worker("datafusion", threads_per_core=2)


def test_writes_survive_a_worker_restart_through_the_redo_log(adapter_worker):
    worker, _ = adapter_worker("datafusion")
    for statement in (
        "DELETE FROM events WHERE day = '2024-01-01'",
        "CREATE TABLE kept AS SELECT * FROM customers WHERE customer_id < 3",
        "EXPLAIN ANALYZE INSERT INTO kept SELECT * FROM customers WHERE customer_id = 3",
        "SELECT count(*) FROM events",
        "INSERT INTO customers SELECT * FROM customers",
    ):
        run(worker, statement)
    worker.restart()
    assert worker.table_row_count("events") == 2 * EVENTS_PER_DAY
    assert worker.table_row_count("kept") == 3
    assert worker.table_row_count("customers") == 3
