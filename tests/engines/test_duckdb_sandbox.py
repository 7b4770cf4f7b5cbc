"""The DuckDB statement guard lets ordinary replayed SQL through on every release (the
escapes it refuses are in test_sandbox.py), and refuses releases it cannot protect."""

from __future__ import annotations

import pytest
from adapter_fixtures import run

from simulator.engines.adapters.duckdb_sandbox import SandboxViolation, check_release

SETUPS = [("0.10.3", ""), ("1.1.3", ""), ("2.0.1", ""), ("2.0.1", "views"), ("2.0.1", "cache")]


def allowed(archive_file: str) -> list[str]:
    """Statements a customer workload may hold, each wrapping the guard looks into."""
    return [
        "WITH c AS (SELECT customer_id FROM customers) SELECT count(*) FROM c",
        "SELECT (SELECT max(event_id) FROM events) AS m, 'FROM x' AS s -- from 'y'",
        "CREATE MACRO twice(x) AS x * 2; SELECT twice(21) AS v",
        "CREATE MACRO ids() AS TABLE SELECT event_id FROM events; SELECT count(*) FROM ids()",
        "PREPARE q AS SELECT count(*) FROM events WHERE event_id > ?; EXECUTE q(3)",
        "EXPLAIN SELECT * FROM events",
        "EXPLAIN ANALYZE SELECT count(*) FROM archive",
        "CREATE TABLE t2 AS SELECT * FROM range(3); INSERT INTO t2 SELECT range + 5 FROM range(2)",
        "UPDATE t2 SET range = range + 1 WHERE range > 5",
        "BEGIN; DELETE FROM t2; ROLLBACK",
        "CREATE OR REPLACE VIEW v AS SELECT * FROM unnest([1, 2]) AS u(x); SELECT * FROM v",
        "SELECT count(*) FROM duckdb_tables()",
        "DROP TABLE t2",
        f"SELECT count(*) FROM read_parquet(['{archive_file}'], hive_partitioning = false)",
    ]


@pytest.mark.parametrize("release, mode", SETUPS, ids=["-".join(filter(None, s)) for s in SETUPS])
def test_ordinary_statements_pass_the_guard(release, mode, adapter_worker):
    settings = {"read_only_tables": mode} if mode else {}
    worker, world = adapter_worker("duckdb", requirements=(f"duckdb=={release}",), **settings)
    archive_file = world.tables[1].files[0]
    for statement in allowed(archive_file):
        outcome, _ = run(worker, statement)
        if "read_parquet" in statement and mode != "views":
            # Copied tables: external access is off, so the engine itself refuses the read.
            assert outcome.error_class == "PermissionException", outcome.error_message
            continue
        assert outcome.status == "ok", (statement, outcome.error_message)


SEALED = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "allow_persistent_secrets": False,
    "lock_configuration": True,
}


@pytest.mark.parametrize("release", sorted({release for release, _ in SETUPS}))
def test_engine_switches_are_set_at_seal(release, adapter_worker):
    worker, world = adapter_worker("duckdb", requirements=(f"duckdb=={release}",))
    listed = ", ".join(f"current_setting('{name}') AS {name}" for name in SEALED)
    outcome, table = run(worker, f"SELECT {listed}")
    assert outcome.status == "ok", outcome.error_message
    assert table is not None
    assert {key: str(value).lower() for key, value in table.to_pylist()[0].items()} == {
        key: str(value).lower() for key, value in SEALED.items()
    }
    folders = run(worker, "SELECT current_setting('home_directory') AS h")[1]
    assert folders is not None
    assert folders.to_pylist()[0]["h"].startswith(str(world.workspace))


@pytest.mark.parametrize("version", ["0.9.2", "v0.8.1"])
def test_releases_before_0_10_are_refused_in_one_line(version):
    with pytest.raises(SandboxViolation) as info:
        check_release(version)
    assert f"DuckDB {version} cannot be sandboxed" in str(info.value)
    assert "\n" not in str(info.value)
