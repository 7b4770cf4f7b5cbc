"""One adapter suite, every built-in adapter (DuckDB, SQLite, DataFusion, PostgreSQL), each
run through a real worker process in its own runtime over a tiny hand-written world."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
import pytest
from adapter_fixtures import DAYS, EVENTS_PER_DAY, adapter_params, read_back, run

from simulator.canonical import checksum_table

pytestmark = pytest.mark.parametrize("adapter", adapter_params())

VERSION_WORDS = {
    "duckdb": "v2.0.1",
    "sqlite": "3.",
    "datafusion": "DataFusion",
    "postgres": "PostgreSQL",
}


def test_version_and_tables(adapter, adapter_worker):
    worker, _ = adapter_worker(adapter)
    assert VERSION_WORDS[adapter] in worker.version
    assert {"archive", "customers", "events"} <= set(worker.list_tables())
    assert worker.table_row_count("events") == len(DAYS) * EVENTS_PER_DAY


def test_select_on_loaded_tables(adapter, adapter_worker):
    worker, _ = adapter_worker(adapter)
    outcome, table = run(
        worker,
        "SELECT e.day, count(*) AS n, count(c.name) AS named FROM events e "
        "JOIN customers c ON c.customer_id = e.customer_id "
        "WHERE e.day IN (SELECT day FROM archive) GROUP BY e.day ORDER BY e.day",
    )
    assert outcome.status == "ok", outcome.error_message
    assert outcome.rows_returned == 3
    assert table.column(0).to_pylist() == list(DAYS)
    assert table.column(1).to_pylist() == [EVENTS_PER_DAY] * 3
    # customer 3 has a NULL name: one or two events a day point at it.
    assert sum(table.column(2).to_pylist()) == 8
    assert [name.lower() for name, _ in outcome.schema] == ["day", "n", "named"]


def test_write_pipeline_reports_what_landed(adapter, adapter_worker):
    worker, _ = adapter_worker(adapter)
    ctas, _ = run(worker, "CREATE TABLE big AS SELECT * FROM events WHERE event_id > 6")
    assert ctas.status == "ok", ctas.error_message
    assert ctas.rows_affected in (None, 6)
    assert worker.table_row_count("big") == 6

    insert, _ = run(worker, "INSERT INTO big SELECT * FROM events WHERE day = '2024-01-01'")
    assert insert.status == "ok", insert.error_message
    assert insert.rows_affected == EVENTS_PER_DAY
    assert worker.table_row_count("big") == 6 + EVENTS_PER_DAY

    delete, _ = run(worker, "DELETE FROM big WHERE day = '2024-01-03'")
    assert delete.status == "ok", delete.error_message
    assert delete.rows_affected == EVENTS_PER_DAY
    post = read_back(worker, "big")
    days = post.column("day").to_pylist()
    assert {day: days.count(day) for day in set(days)} == {"2024-01-01": 4, "2024-01-02": 2}
    assert "big" in worker.list_tables()


def test_engine_errors_are_recorded(adapter, adapter_worker):
    worker, _ = adapter_worker(adapter)
    syntax, _ = run(worker, "SELEC 1 FROM events")
    missing, _ = run(worker, "SELECT * FROM no_such_table")
    for outcome in (syntax, missing):
        assert outcome.status == "error"
        assert outcome.error_class and outcome.error_message
    assert "no_such_table" in missing.error_message.lower()
    follow, table = run(worker, "SELECT count(*) AS n FROM customers")
    assert follow.status == "ok" and table.column(0).to_pylist() == [3]


@pytest.mark.parametrize("name", ["events", "archive", "customers"])
def test_read_table_keeps_every_column(adapter, adapter_worker, name):
    worker, world = adapter_worker(adapter)
    got = read_back(worker, name)
    expected = world.expected(name)
    assert got.num_rows == expected.num_rows
    got = got.select(expected.column_names)
    mine, theirs = checksum_table(got), checksum_table(expected)
    differing = [
        column
        for column, a, b in zip(expected.column_names, mine.columns, theirs.columns, strict=True)
        if a != b
    ]
    assert differing == []
    assert mine.multiset == theirs.multiset


def test_wide_decimal_and_unicode_round_trip(adapter, adapter_worker):
    worker, _ = adapter_worker(adapter)
    outcome, table = run(worker, "SELECT name, balance FROM customers WHERE customer_id = 2")
    assert outcome.status == "ok", outcome.error_message
    assert table.column(0).to_pylist() == ["Zoë 北京"]
    assert table.column(1).to_pylist() == [Decimal("12345678901234567890123456789.123456789")]
    assert pa.types.is_decimal(table.schema.field(1).type)
