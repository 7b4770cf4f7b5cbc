"""Fault injection through a real DuckDB worker: lost writes, errors, latency, refusal."""

from __future__ import annotations

import time
from dataclasses import replace

import pyarrow as pa
import pytest
from engine_fixtures import DUCKDB_NEW, ROWS_PER_DAY, duckdb_spec

from simulator.config import FaultsSection, LatencyFault, LostWriteFault, MemoryFault
from simulator.engines.faults import (
    FaultInjector,
    check_faults,
    statement_kind,
    statement_tables,
    wrap,
)
from simulator.engines.worker import EngineWorker
from simulator.errors import ConfigError


def faulty(runtime_for, world, in_flight=lambda: 0, **faults):
    spec = replace(duckdb_spec(DUCKDB_NEW), faults=FaultsSection(enabled=True, **faults))
    worker = EngineWorker(spec, runtime_for(spec), world["workspace"], world["tables"])
    injector = wrap(worker, spec, in_flight, world["tables"])
    assert isinstance(injector, FaultInjector)
    injector.start()
    return injector


def lost(**kwargs):
    return LostWriteFault(rate=1.0, **kwargs)


def test_insert_reports_full_count_while_a_partition_never_lands(runtime_for, world):
    with faulty(runtime_for, world, lost_writes=lost()) as engine:
        outcome = engine.execute("INSERT INTO sink SELECT * FROM events", 30)
        assert outcome.status == "ok"
        assert outcome.rows_affected == 3 * ROWS_PER_DAY
        assert outcome.fault.startswith("lost_writes:insert:day=2024-01-0")
        assert outcome.fault.endswith(f":{ROWS_PER_DAY} rows not applied")
        # 15 rows were there, 15 reported inserted, only 10 landed.
        assert engine.table_row_count("sink") == 3 * ROWS_PER_DAY + 2 * ROWS_PER_DAY
        lost_day = outcome.fault.split("=")[1].split(":")[0]
        batches: list[pa.RecordBatch] = []
        engine.read_table("sink", batches.append)
        days = pa.Table.from_batches(batches).column("day").to_pylist()
        assert days.count(lost_day) == ROWS_PER_DAY
        assert all(days.count(day) == 2 * ROWS_PER_DAY for day in set(days) - {lost_day})


def test_ctas_loses_partitions_of_its_day_column(runtime_for, world):
    with faulty(runtime_for, world, lost_writes=lost(partitions=2)) as engine:
        outcome = engine.execute("CREATE TABLE copy AS SELECT note, day FROM events", 30)
        assert (outcome.status, outcome.rows_affected) == ("ok", 3 * ROWS_PER_DAY)
        assert engine.table_row_count("copy") == ROWS_PER_DAY
        assert outcome.fault.startswith("lost_writes:ctas:day=")


def test_delete_reports_success_while_matching_rows_stay(runtime_for, world):
    with faulty(runtime_for, world, lost_writes=lost(kinds=("delete",))) as engine:
        outcome = engine.execute("DELETE FROM sink WHERE amount > 0", 30)
        assert (outcome.status, outcome.rows_affected) == ("ok", 3 * ROWS_PER_DAY)
        assert engine.table_row_count("sink") == ROWS_PER_DAY
        assert outcome.fault.startswith("lost_writes:delete:day=")


def test_only_under_load_fires_only_with_executions_in_flight(runtime_for, world):
    in_flight = [0]
    with faulty(
        runtime_for, world, lambda: in_flight[0], lost_writes=lost(only_under_load=True)
    ) as engine:
        quiet = engine.execute("INSERT INTO sink SELECT * FROM events", 30)
        assert (quiet.rows_affected, quiet.fault) == (3 * ROWS_PER_DAY, "")
        assert engine.table_row_count("sink") == 6 * ROWS_PER_DAY
        in_flight[0] = 3
        loaded = engine.execute("INSERT INTO sink SELECT * FROM events", 30)
        assert loaded.rows_affected == 3 * ROWS_PER_DAY
        assert engine.table_row_count("sink") == 8 * ROWS_PER_DAY
        assert loaded.fault.startswith("lost_writes:insert:")


def test_injected_errors_only_for_their_kinds(runtime_for, world):
    with faulty(runtime_for, world, error_rate=1.0, error_kinds=("select",)) as engine:
        refused = engine.execute("SELECT count(*) FROM events", 30)
        assert (refused.status, refused.error_class, refused.fault) == (
            "error",
            "InjectedFault",
            "error",
        )
        written = engine.execute("INSERT INTO sink SELECT * FROM events", 30)
        assert (written.status, written.rows_affected, written.fault) == ("ok", 15, "")


def test_latency_is_really_waited_and_added_to_wall_time(runtime_for, world):
    latency = LatencyFault(kinds=("select",), fixed_ms=80.0)
    with faulty(runtime_for, world, latency=latency) as engine:
        began = time.perf_counter()
        slow = engine.execute("SELECT count(*) FROM events", 30)
        waited_ms = (time.perf_counter() - began) * 1000
        assert slow.status == "ok"
        assert slow.wall_ms >= 80.0
        assert waited_ms >= 80.0
        assert slow.fault == "latency:+80.0ms"
        # It stands for a slower engine: CPU time grows in proportion to wall time.
        assert slow.cpu_ms is not None and slow.cpu_ms > 0
        assert engine.execute("DELETE FROM sink WHERE day = 'none'", 30).fault == ""


def test_latency_limited_to_tables_slows_only_statements_naming_them(runtime_for, world):
    latency = LatencyFault(kinds=("select",), tables=("SINK",), fixed_ms=60.0)
    with faulty(runtime_for, world, latency=latency) as engine:
        slowed = engine.execute("SELECT count(*) FROM events JOIN sink USING (day)", 30)
        untouched = engine.execute("SELECT count(*) FROM events", 30)
        assert slowed.fault == "latency:+60.0ms" and slowed.wall_ms >= 60.0
        assert (untouched.status, untouched.fault) == ("ok", "")
        assert untouched.wall_ms < 60.0


def test_memory_fault_really_grows_the_peak_rss_of_matching_statements_only(runtime_for, world):
    memory = MemoryFault(kinds=("select",), tables=("sink",), factor=1.5)
    with faulty(runtime_for, world, memory=memory) as engine:
        sql_hungry = "SELECT count(*) FROM events JOIN sink USING (day)"
        plain = [engine.execute("SELECT count(*) FROM events", 30) for _ in range(3)]
        hungry = [engine.execute(sql_hungry, 30) for _ in range(3)]
        after = engine.execute("SELECT count(*) FROM events", 30)
    assert {o.fault for o in plain} == {""} and after.fault == ""
    assert {o.fault for o in hungry} == {"memory:x1.5"}
    assert all(o.status == "ok" and o.rss_source == "vmhwm" for o in [*plain, *hungry])
    base = max(o.peak_rss_mb for o in plain)
    # Real memory in the worker: the mark over each hungry statement is ~1.5x, not more.
    for outcome in hungry:
        assert 1.4 * base <= outcome.peak_rss_mb <= 1.6 * base
    # The ballast is freed after the statement and never counted as engine time.
    assert after.peak_rss_mb < 1.1 * base
    assert max(o.cpu_ms for o in hungry) < 50


def test_a_small_memory_growth_is_given_back_to_the_kernel_after_each_statement(runtime_for, world):
    # A ballast of a few MiB from malloc would stay in the heap and lift every later
    # statement's peak; the fault's own mapping is unmapped instead.
    memory = MemoryFault(kinds=("select",), tables=("sink",), factor=1.1)
    with faulty(runtime_for, world, memory=memory) as engine:
        before = [engine.execute("SELECT count(*) FROM events", 30) for _ in range(3)]
        hungry = [engine.execute("SELECT count(*) FROM sink", 30) for _ in range(5)]
        after = [engine.execute("SELECT count(*) FROM events", 30) for _ in range(3)]
    base = max(o.peak_rss_mb for o in before)
    assert all(o.fault == "memory:x1.1" and o.peak_rss_mb >= 1.08 * base for o in hungry)
    assert max(o.peak_rss_mb for o in after) < 1.02 * base


def test_memory_fault_factor_below_one_is_refused(tmp_path):
    from simulator.config import parse_config

    data = {
        "run": {"baseline": "a", "candidates": ["b"]},
        "engines": {
            "a": {"adapter": "duckdb"},
            "b": {"adapter": "duckdb", "faults": {"enabled": True, "memory": {"factor": 0.5}}},
        },
    }
    with pytest.raises(
        ConfigError, match=r"engines\.b\.faults\.memory\.factor: must be at least 1"
    ):
        parse_config(data, "x.toml")


def test_statement_tables_names_every_table_lower_cased():
    sql = "INSERT INTO Sink SELECT * FROM events e JOIN (SELECT * FROM Customers) c ON true"
    assert statement_tables(sql, "duckdb") == {"sink", "events", "customers"}
    assert statement_tables("SELEC nonsense (", "duckdb") == set()


def test_faults_are_never_on_by_accident(runtime_for, world):
    spec = duckdb_spec(DUCKDB_NEW, name="cand")
    worker = EngineWorker(spec, runtime_for(spec), world["workspace"], world["tables"])
    assert wrap(worker, spec) is worker
    sneaky = replace(spec, faults=FaultsSection(error_rate=0.5))
    with pytest.raises(ConfigError, match=r"^engines\.cand\.faults: fault settings given without"):
        check_faults(sneaky)
    with pytest.raises(ConfigError):
        wrap(worker, sneaky)
    with pytest.raises(ConfigError, match="enabled = true is required"):
        FaultInjector(worker, spec)


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("SELECT 1", "select"),
        ("WITH a AS (SELECT 1) SELECT * FROM a", "select"),
        ("INSERT INTO t SELECT * FROM s", "insert"),
        ("CREATE TABLE t AS SELECT 1", "ctas"),
        ("CREATE VIEW v AS SELECT 1", "ddl"),
        ("DELETE FROM t WHERE a = 1", "delete"),
        ("UPDATE t SET a = 1", "update"),
        ("DROP TABLE t", "ddl"),
        ("SELECT 1; SELECT 2", "other"),
        ("SELEC FROM WHERE (", "unparseable"),
    ],
)
def test_statement_kind(sql, kind):
    assert statement_kind(sql, "duckdb") == kind


def test_config_loading_refuses_fault_settings_without_enabled():
    from simulator.config import parse_config

    data = {
        "run": {"baseline": "base", "candidates": ["cand"]},
        "engines": {
            "base": {"adapter": "duckdb"},
            "cand": {"adapter": "duckdb", "faults": {"lost_writes": {"rate": 0.5}}},
        },
    }
    with pytest.raises(ConfigError, match=r"^run\.toml: engines\.cand\.faults: fault settings"):
        parse_config(data, "run.toml")
    data["engines"]["cand"]["faults"]["enabled"] = True
    assert parse_config(data, "run.toml").engines["cand"].faults.lost_writes.rate == 0.5
    data["engines"]["cand"]["faults"] = {"enabled": False}
    assert not parse_config(data, "run.toml").faults_enabled
