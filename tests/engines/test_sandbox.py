"""Sandbox escapes, tried through real workers on every adapter: each must fail, no file may
appear outside the workspace, and the generation's files must stay byte-identical."""

from __future__ import annotations

from pathlib import Path

import pytest
from adapter_fixtures import World, adapter_params, run

PASSWD_MARK = "root:"


def escapes(adapter: str, world: World, outside: Path) -> list[str]:
    """The statements that try to reach outside the workspace on ``adapter``."""
    day_file = Path(world.tables[0].files[0])
    generation_day = world.generation / "t01" / "events" / "day=2024-01-01"
    other_tenant = world.generation / "t02" / "customers" / "part-0.parquet"
    common = [
        f"COPY (SELECT 1 AS x) TO '{outside / 'copy.csv'}'",
        f"COPY customers TO '{outside / 'table.csv'}'",
        f"COPY (SELECT 1 AS x) TO '{generation_day / 'evil.parquet'}'",
    ]
    per_engine = {
        "duckdb": [
            "SELECT * FROM read_csv('/etc/passwd')",
            "SELECT * FROM read_csv_auto('/etc/passwd')",
            "SELECT * FROM read_text('/etc/passwd')",
            "SELECT * FROM read_blob('/etc/passwd')",
            "SELECT * FROM read_json('/etc/passwd')",
            f"SELECT * FROM read_parquet('{other_tenant}')",
            "SELECT * FROM glob('/etc/*')",
            "SELECT * FROM '/etc/passwd'",
            f"ATTACH '{outside / 'attached.db'}' AS other",
            "INSTALL httpfs",
            "LOAD httpfs",
            "SET enable_external_access = true",
            f"COPY (SELECT 1 AS x) TO '{day_file.parent / 'landed.parquet'}'",
        ],
        "sqlite": [
            "SELECT readfile('/etc/passwd')",
            f"SELECT writefile('{outside / 'written.txt'}', 'x')",
            "SELECT load_extension('/usr/lib/x86_64-linux-gnu/libz.so')",
            f"ATTACH '{outside / 'attached.db'}' AS other",
            f"ATTACH '{other_tenant}' AS generation",
            f"VACUUM INTO '{outside / 'vacuumed.db'}'",
            f"PRAGMA temp_store_directory = '{outside}'",
            "PRAGMA writable_schema = ON",
            "CREATE VIRTUAL TABLE v USING fts5(x)",
        ],
        "datafusion": [
            "CREATE EXTERNAL TABLE passwd STORED AS CSV LOCATION '/etc/passwd'",
            f"CREATE EXTERNAL TABLE gen STORED AS PARQUET LOCATION '{generation_day}'",
            "SELECT * FROM '/etc/passwd'",
            "SELECT * FROM read_csv('/etc/passwd')",
            f"SELECT * FROM read_parquet('{other_tenant}')",
            f"EXPLAIN ANALYZE COPY (SELECT 1 AS x) TO '{outside / 'explained.csv'}'",
            "INSERT INTO customers VALUES (9, 'x', 1.5, DATE '2020-01-01')",
            "SET datafusion.catalog.information_schema = false",
        ],
        "postgres": [
            "SELECT pg_read_file('/etc/passwd')",
            "SELECT pg_read_binary_file('/etc/passwd')",
            "SELECT pg_ls_dir('/')",
            "SELECT lo_import('/etc/passwd')",
            "CREATE TABLE passwd (line text)",
            "COPY passwd FROM '/etc/passwd'",
            f"COPY passwd TO PROGRAM 'touch {outside / 'program.txt'}'",
            "CREATE EXTENSION file_fdw",
            "CREATE EXTENSION dblink",
            "ALTER SYSTEM SET log_directory = '/tmp'",
            "SET ROLE qsim_admin",
        ],
    }
    return common + per_engine[adapter]


@pytest.mark.slow
@pytest.mark.parametrize("adapter", adapter_params())
def test_escapes_fail(adapter, adapter_worker, tmp_path):
    worker, world = adapter_worker(adapter)
    outside = tmp_path / "outside"
    outside.mkdir()
    before = world.generation_digest()
    landed = []
    for statement in escapes(adapter, world, outside):
        outcome, table = run(worker, statement)
        if statement == "CREATE TABLE passwd (line text)":
            assert outcome.status == "ok", outcome.error_message
            continue
        leaked = table is not None and PASSWD_MARK in str(table.to_pylist())
        # PostgreSQL must refuse by privilege, not by some accident of syntax.
        wrong_reason = adapter == "postgres" and outcome.error_class != "InsufficientPrivilege"
        if outcome.status != "error" or leaked or wrong_reason:
            landed.append(f"{statement} -> {outcome.status} {outcome.error_message}")
    assert landed == []
    assert sorted(path.name for path in outside.iterdir()) == []
    assert world.generation_digest() == before
    # The worker is still serving after every refusal.
    assert worker.table_row_count("customers") == 3


@pytest.mark.parametrize("adapter", adapter_params())
def test_writes_never_reach_the_generation(adapter, adapter_worker):
    worker, world = adapter_worker(adapter)
    before = world.generation_digest()
    for statement in (
        "INSERT INTO events SELECT * FROM events",
        "DELETE FROM events WHERE day = '2024-01-02'",
        "CREATE TABLE copied AS SELECT * FROM customers",
        "DELETE FROM customers",
        "INSERT INTO archive SELECT * FROM events",
        "DELETE FROM archive",
        "DROP TABLE archive",
    ):
        run(worker, statement)
    assert world.generation_digest() == before
    assert worker.table_row_count("events") == 16
