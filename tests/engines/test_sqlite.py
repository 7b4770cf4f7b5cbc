"""The SQLite adapter in-process (stdlib only): its storage mapping, type inference for
computed columns, the authorizer, and a workspace that survives a worker restart."""

from __future__ import annotations

import math
import re
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from adapter_fixtures import DAYS, EVENTS_PER_DAY, read_back, run, write_world

from simulator.canonical import checksum_table
from simulator.engines.adapters.sqlite import ENGINE_ERRORS, SQLiteAdapter
from simulator.engines.contract import TableSpec


def rows(adapter: SQLiteAdapter, sql: str) -> pa.Table:
    result = adapter.execute(sql)
    return pa.Table.from_batches(list(result.batches), result.schema)


@pytest.fixture
def sqlite(tmp_path):
    world = write_world(tmp_path)
    adapter = SQLiteAdapter()
    adapter.open(str(world.workspace), {})
    adapter.load_tables(world.tables)
    adapter.seal()
    yield adapter, world
    adapter.close()


def test_decimals_are_real_when_exact_and_text_when_wide(sqlite):
    adapter, _ = sqlite
    table = rows(
        adapter, "SELECT amount, typeof(amount) AS kind FROM events WHERE day = '2024-01-01'"
    )
    assert table.column("kind").to_pylist() == ["real", "real", "null", "text"]
    assert table.column("amount").to_pylist() == [
        Decimal("10.50"),
        Decimal("-3.07"),
        None,
        Decimal("9999999999999999.99"),
    ]
    assert table.schema.field("amount").type == pa.decimal128(18, 2)
    # REAL storage keeps numeric comparison semantics for ordinary values.
    assert rows(adapter, "SELECT count(*) FROM events WHERE amount > 10").column(0)[0].as_py() == 6


def test_timestamps_are_fixed_width_utc_text(sqlite):
    adapter, _ = sqlite
    table = rows(adapter, "SELECT time, CAST(time AS TEXT) AS raw FROM events WHERE event_id = 2")
    assert table.column("raw").to_pylist() == ["2024-01-01 01:00:00.000007+00:00"]
    assert table.schema.field("time").type == pa.timestamp("us", "UTC")
    after = rows(adapter, "SELECT count(*) FROM events WHERE time >= '2024-01-02'")
    assert after.column(0)[0].as_py() == 2 * (EVENTS_PER_DAY - 1)


def test_computed_columns_take_their_type_from_the_values(sqlite):
    adapter, _ = sqlite
    table = rows(
        adapter,
        "SELECT count(*) AS n, avg(score) AS mean, 'x' || day AS label, NULL AS empty, "
        "tags FROM events GROUP BY day ORDER BY day",
    )
    assert table.schema.types[:4] == [pa.int64(), pa.float64(), pa.string(), pa.null()]
    # A plain column reference keeps its declared type, even through GROUP BY.
    assert table.schema.field("tags").type == pa.list_(pa.string())
    assert table.column("label").to_pylist() == [f"x{day}" for day in DAYS]


def test_a_column_changing_storage_class_mid_result_is_an_engine_error(tmp_path):
    world = write_world(tmp_path)
    adapter = SQLiteAdapter()
    adapter.open(str(world.workspace), {"batch_rows": 2})
    adapter.load_tables(world.tables)
    adapter.seal()
    result = adapter.execute("SELECT CASE WHEN event_id < 3 THEN 1 ELSE 'x' END AS v FROM events")
    with pytest.raises(ValueError, match="column 'v' changed storage class"):
        list(result.batches)


def test_nan_becomes_null(tmp_path):
    path = tmp_path / "floats" / "part-0.parquet"
    path.parent.mkdir()
    pq.write_table(pa.table({"x": pa.array([math.nan, math.inf, 1.5])}), path)
    spec = TableSpec("floats", (str(path),), pa.schema([("x", pa.float64())]))
    adapter = SQLiteAdapter()
    adapter.open(str(tmp_path), {})
    adapter.load_tables([spec])
    got = pa.Table.from_batches(list(adapter.read_table("floats").batches))
    assert got.column("x").to_pylist() == [None, math.inf, 1.5]


def test_authorizer_allows_introspection_and_refuses_the_rest(sqlite):
    adapter, _ = sqlite
    assert rows(adapter, "PRAGMA table_info(customers)").num_rows == 4
    for refused in ("PRAGMA journal_mode = WAL", "ATTACH ':memory:' AS m", "DETACH main"):
        with pytest.raises(ENGINE_ERRORS, match=r"not authorized|authorization denied"):
            adapter.execute(refused)


def test_writes_survive_a_new_adapter_over_the_same_workspace(sqlite):
    adapter, world = sqlite
    deleted = adapter.execute("DELETE FROM events WHERE day = '2024-01-01'")
    assert deleted.rows_affected == EVENTS_PER_DAY
    adapter.execute("CREATE TABLE kept AS SELECT * FROM customers")
    adapter.close()
    again = SQLiteAdapter()
    again.open(str(world.workspace), {})
    again.load_tables(world.tables)
    again.seal()
    assert again.table_row_count("events") == 2 * EVENTS_PER_DAY
    assert again.list_tables() == ["archive", "customers", "events", "kept"]
    again.close()


def test_bad_settings_and_tables_are_refused(tmp_path, sqlite):
    with pytest.raises(ValueError, match="is not a pragma"):
        SQLiteAdapter().open(str(tmp_path), {"cache_size; DROP TABLE x": 1})
    adapter, _ = sqlite
    with pytest.raises(ValueError, match="no table 'missing'"):
        adapter.read_table("missing")


def test_apsw_in_the_requirements_pins_the_sqlite_release(adapter_worker):
    worker, world = adapter_worker("sqlite", requirements=("apsw==3.54.1.0",))
    assert worker.version == "3.54.1"
    for name in ("events", "customers"):
        assert checksum_table(read_back(worker, name)) == checksum_table(world.expected(name))
    empty, _ = run(worker, "SELECT amount FROM events WHERE 0")
    assert empty.schema == [["amount", "decimal128(18, 2)"]]
    deleted, _ = run(worker, "DELETE FROM events WHERE day = '2024-01-01'")
    assert deleted.rows_affected == EVENTS_PER_DAY
    for escape in ("ATTACH ':memory:' AS m", "VACUUM INTO 'x.db'", "SELECT load_extension('x')"):
        outcome, _ = run(worker, escape)
        assert outcome.status == "error"
        assert re.search(r"not authorized|authorization denied", outcome.error_message)
