"""Sandbox escapes, tried through real workers on every adapter and DuckDB release: each
must fail without leaking a file's content, and after each one no file outside the workspace
may be created or changed (generation files by size, mtime and hash; the worker's $HOME; the
escape targets in /tmp and in a folder outside the workspace). One worker per engine setup
serves every attempt, so the suite stays fast.

``escapes`` is the list docs/engines.md counts ("tried / succeeded" per setup).
"""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from adapter_fixtures import World, adapter_params, run

PASSWD_MARK = "root:"
# Statements some attempts need first; they must succeed and are not attempts.
PREPARATION = ("CREATE TABLE passwd (line text)",)
TMP = Path("/tmp")


@dataclass(frozen=True)
class Setup:
    """One engine setup the suite attacks: adapter, requirements and settings."""

    adapter: str
    requirements: tuple[str, ...] | None = None
    read_only_tables: str = ""

    @property
    def id(self) -> str:
        package, _, release = (
            self.requirements[0].partition("==") if self.requirements else ("", "", "")
        )
        client = "" if package in (self.adapter, "") else package
        parts = (self.adapter, client, release, self.read_only_tables)
        return "-".join(part for part in parts if part)


SETUPS = [
    Setup("duckdb", ("duckdb==0.10.3",)),
    Setup("duckdb", ("duckdb==1.1.3",)),
    Setup("duckdb", ("duckdb==2.0.1",)),
    Setup("duckdb", ("duckdb==2.0.1",), "views"),
    Setup("duckdb", ("duckdb==1.1.3",), "cache"),
    Setup("duckdb", ("duckdb==2.0.1",), "cache"),
    Setup("sqlite"),
    Setup("sqlite", ("apsw==3.54.1.0",)),
    Setup("datafusion"),
    Setup("postgres"),
]


def setup_params() -> list[object]:
    """``SETUPS`` as pytest params, PostgreSQL marked ``postgres``."""
    marks = {"postgres": [pytest.mark.postgres]}
    return [pytest.param(s, id=s.id, marks=marks.get(s.adapter, [])) for s in SETUPS]


def duckdb_escapes(world: World, outside: Path, tmp_mark: str) -> list[str]:
    """DuckDB: files, COPY in every wrapping, databases, extensions, settings, secrets."""
    archive_file = world.tables[1].files[0]  # read-only: a generation file (views read it)
    other_tenant = world.generation / "t02" / "customers" / "part-0.parquet"
    # From another table than the file's own (DuckDB refuses to overwrite a file it reads),
    # in place (a temporary file beside it is outside allowed_paths).
    overwrite = f"COPY customers TO '{archive_file}' (FORMAT parquet, USE_TMP_FILE false)"
    return [
        overwrite,
        f"EXPLAIN ANALYZE {overwrite}",
        f"EXPLAIN {overwrite}",
        f"PREPARE p AS {overwrite}; EXECUTE p",
        f"PREPARE p2 AS /* c */ {overwrite}",
        f"EXPLAIN (ANALYZE, FORMAT json) {overwrite}",
        f"EXPLAIN /* c */ ANALYZE -- c\n {overwrite}",
        f"WITH x AS (SELECT 1) {overwrite}",
        f"COPY customers TO '/tmp/{tmp_mark}.csv'",
        "COPY customers FROM '/etc/passwd'",
        f"EXPORT DATABASE '{outside / 'export'}'",
        "IMPORT DATABASE '/etc'",
        f"ATTACH '{outside / 'a.db'}' AS other; COPY FROM DATABASE main TO other",
        f"ATTACH DATABASE '{outside / 'b.db'}'",
        f"ATTACH IF NOT EXISTS '{outside / 'c.db'}' AS c (TYPE sqlite)",
        "ATTACH ':memory:' AS m",
        "DETACH DATABASE main",
        "INSTALL httpfs",
        "FORCE INSTALL httpfs FROM 'http://127.0.0.1:9/'",
        "LOAD httpfs",
        f"LOAD '{outside / 'evil.duckdb_extension'}'",
        "SET enable_external_access = true",
        "SET allowed_paths = ['/etc/passwd']",
        "RESET lock_configuration",
        "SET GLOBAL home_directory = '/tmp'",
        f"PRAGMA profiling_output = '{outside / 'profile.json'}'",
        "PRAGMA enable_profiling",
        "CALL pragma_version()",
        "SELECT * FROM sniff_csv('/etc/passwd')",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_csv_auto(['/etc/passwd'])",
        "SELECT * FROM read_text('/etc/passwd')",
        "SELECT * FROM read_blob('/etc/passwd')",
        "SELECT * FROM read_json('/etc/passwd')",
        f"SELECT * FROM read_parquet('{other_tenant}')",
        f"SELECT * FROM read_parquet('{world.generation}/t01/*/*/*.parquet')",
        f"SELECT * FROM parquet_metadata('{other_tenant}')",
        "SELECT * FROM parquet_schema('/etc/passwd')",
        "SELECT * FROM glob('/*')",
        "SELECT * FROM '/etc/passwd'",
        "SELECT * FROM /* c */ '/etc/passwd'",
        'SELECT * FROM "/etc/passwd"',
        "SELECT * FROM events JOIN '/etc/passwd' ON true",
        "SELECT * FROM events, '/etc/passwd'",
        "SELECT * FROM events, read_text('/etc/passwd')",
        "TABLE '/etc/passwd'",
        "PIVOT '/etc/passwd' ON column0",
        "DESCRIBE TABLE '/etc/passwd'",
        "DESCRIBE '/etc/passwd'",
        "SUMMARIZE '/etc/passwd'",
        "SELECT * FROM (FROM '/etc/passwd')",
        "SELECT * FROM 'https://127.0.0.1:9/x.csv'",
        "SELECT * FROM read_parquet('s3://bucket/x.parquet')",
        "SELECT * FROM read_csv(concat('/etc/', 'passwd'))",
        "SELECT * FROM \"sniff_csv\"('/etc/passwd')",
        "SELECT * FROM main.sniff_csv /* spaced */ ('/etc/passwd')",
        "SELECT * FROM SNIFF_CSV($$/etc/passwd$$)",
        "WITH x AS (SELECT * FROM sniff_csv('/etc/passwd')) SELECT * FROM x",
        "SELECT (SELECT count(*) FROM read_text('/etc/passwd')) AS n",
        "CREATE MACRO m(p) AS TABLE SELECT * FROM read_csv(p)",
        "CREATE TABLE stolen AS SELECT * FROM sniff_csv('/etc/passwd')",
        "CREATE VIEW stolen_view AS SELECT * FROM read_blob('/etc/passwd')",
        "INSERT INTO events (note) SELECT content FROM read_text('/etc/passwd')",
        "EXPLAIN ANALYZE SELECT * FROM sniff_csv('/etc/passwd')",
        "PREPARE q AS SELECT * FROM sniff_csv(?); EXECUTE q('/etc/passwd')",
        f"PREPARE r AS SELECT * FROM read_parquet(['{archive_file}', $1]); "
        "EXECUTE r('/etc/passwd')",
        "SET VARIABLE target = '/etc/passwd'",
        "SELECT * FROM read_text(getvariable('target'))",
        f"SELECT * FROM read_parquet('{archive_file}', filename := '/etc/passwd')",
        "SELECT * FROM query('SELECT * FROM sniff_csv(''/etc/passwd'')')",
        "SELECT * FROM json_execute_serialized_sql("
        "json_serialize_sql('SELECT * FROM sniff_csv(''/etc/passwd'')'))",
        f"SELECT * FROM sqlite_scan('{outside / 'x.db'}', 't')",
        "SELECT * FROM duckdb_extensions()",
        "SELECT * FROM duckdb_secrets()",
        "CREATE SECRET (TYPE S3, KEY_ID 'k', SECRET 's')",
        "CREATE PERSISTENT SECRET s2 (TYPE S3, KEY_ID 'k', SECRET 's')",
        "SELECT getenv('HOME')",
    ]


def cache_escapes(database: Path) -> list[str]:
    """DuckDB with ``read_only_tables = "cache"``: write, detach, re-attach or read the
    attached read-only cache entry (``qsim_read_only``) as a file."""
    overwrite = f"COPY customers TO '{database}' (FORMAT parquet, USE_TMP_FILE false)"
    return [
        "INSERT INTO qsim_read_only.customers SELECT * FROM customers",
        "INSERT INTO customers SELECT * FROM customers",
        "DELETE FROM qsim_read_only.main.archive",
        "DELETE FROM archive",
        "UPDATE qsim_read_only.customers SET name = 'x'",
        "CREATE TABLE qsim_read_only.main.planted AS SELECT 1 AS x",
        "CREATE VIEW qsim_read_only.planted_view AS SELECT 1 AS x",
        "CREATE MACRO qsim_read_only.planted_macro(x) AS x",
        "DROP TABLE qsim_read_only.customers",
        "ALTER TABLE qsim_read_only.customers ADD COLUMN z INTEGER",
        "CREATE INDEX planted_index ON qsim_read_only.customers (customer_id)",
        "CREATE SCHEMA qsim_read_only.planted_schema",
        "DETACH qsim_read_only",
        "DETACH DATABASE IF EXISTS qsim_read_only",
        "USE qsim_read_only",
        "CHECKPOINT qsim_read_only",
        "FORCE CHECKPOINT qsim_read_only",
        f"ATTACH '{database}' AS writable_again",
        f"ATTACH '{database}' AS again (READ_ONLY)",
        f"ATTACH DATABASE '{database}' (READ_WRITE)",
        "COPY FROM DATABASE main TO qsim_read_only",
        "COPY FROM DATABASE qsim_read_only TO main",
        overwrite,
        f"EXPLAIN ANALYZE {overwrite}",
        f"SELECT * FROM read_blob('{database}')",
        f"SELECT * FROM read_text('{database}')",
        f"SELECT * FROM read_csv('{database}')",
        f"SELECT * FROM '{database}'",
        f"SELECT * FROM glob('{database.parent}/*')",
    ]


def escapes(adapter: str, world: World, outside: Path, tmp_mark: str) -> list[str]:
    """The statements that try to reach outside the workspace on ``adapter``."""
    day_file = Path(world.tables[0].files[0])
    generation_day = world.generation / "t01" / "events" / "day=2024-01-01"
    other_tenant = world.generation / "t02" / "customers" / "part-0.parquet"
    common = [
        f"COPY (SELECT 1 AS x) TO '{outside / 'copy.csv'}'",
        f"COPY customers TO '{outside / 'table.csv'}'",
        f"COPY (SELECT 1 AS x) TO '{generation_day / 'evil.parquet'}'",
        f"COPY (SELECT 1 AS x) TO '{day_file.parent / 'landed.parquet'}'",
    ]
    per_engine = {
        "sqlite": [
            "SELECT readfile('/etc/passwd')",
            f"SELECT writefile('{outside / 'written.txt'}', 'x')",
            "SELECT load_extension('/usr/lib/x86_64-linux-gnu/libz.so')",
            f"ATTACH '{outside / 'attached.db'}' AS other",
            f"ATTACH DATABASE 'file:{outside / 'uri.db'}?mode=rwc' AS other",
            f"ATTACH '{other_tenant}' AS generation",
            f"VACUUM INTO '{outside / 'vacuumed.db'}'",
            f"PRAGMA temp_store_directory = '{outside}'",
            "PRAGMA writable_schema = ON",
            "PRAGMA main.journal_mode = OFF",
            "CREATE VIRTUAL TABLE v USING fts5(x)",
        ],
        "datafusion": [
            "CREATE EXTERNAL TABLE passwd STORED AS CSV LOCATION '/etc/passwd'",
            "CREATE EXTERNAL TABLE pj STORED AS JSON LOCATION '/etc/passwd'",
            f"CREATE EXTERNAL TABLE gen STORED AS PARQUET LOCATION '{generation_day}'",
            f"CREATE EXTERNAL TABLE t2 STORED AS PARQUET LOCATION '{other_tenant}'",
            "SELECT * FROM '/etc/passwd'",
            "SELECT * FROM read_csv('/etc/passwd')",
            f"SELECT * FROM read_parquet('{other_tenant}')",
            f"EXPLAIN ANALYZE COPY (SELECT 1 AS x) TO '{outside / 'explained.csv'}'",
            f"EXPLAIN COPY (SELECT 1 AS x) TO '{outside / 'plan.csv'}'",
            f"COPY customers TO '/tmp/{tmp_mark}.parquet' STORED AS PARQUET",
            "INSERT INTO customers VALUES (9, 'x', 1.5, DATE '2020-01-01')",
            "SET datafusion.catalog.information_schema = false",
            "SET datafusion.execution.spill_path = '/tmp'",
        ],
        "postgres": [
            "SELECT pg_read_file('/etc/passwd')",
            "SELECT pg_read_file('/etc/passwd', 0, 100, true)",
            "SELECT pg_read_binary_file('/etc/passwd')",
            "SELECT pg_ls_dir('/')",
            "SELECT * FROM pg_stat_file('/etc/passwd')",
            "SELECT lo_import('/etc/passwd')",
            f"SELECT lo_export(1, '{outside / 'lo.bin'}')",
            "CREATE TABLE passwd (line text)",
            "COPY passwd FROM '/etc/passwd'",
            f"COPY passwd TO '/tmp/{tmp_mark}.txt'",
            f"COPY passwd TO PROGRAM 'touch {outside / 'program.txt'}'",
            "COPY passwd FROM PROGRAM 'cat /etc/passwd'",
            "CREATE EXTENSION file_fdw",
            "CREATE EXTENSION dblink",
            "ALTER SYSTEM SET log_directory = '/tmp'",
            "SET ROLE qsim_admin",
            "SET SESSION AUTHORIZATION qsim_admin",
            "CREATE ROLE intruder SUPERUSER",
            "SELECT current_setting('data_directory')",
        ],
    }
    if adapter == "duckdb" and world.read_only_database is not None:
        return (
            common
            + duckdb_escapes(world, outside, tmp_mark)
            + cache_escapes(world.read_only_database)
        )
    if adapter == "duckdb":
        return common + duckdb_escapes(world, outside, tmp_mark)
    return common + per_engine[adapter]


def outside_state(world: World, home: Path, outside: Path, tmp_mark: str) -> dict[str, object]:
    """Everything an escape could change outside the workspace: every generation file's
    size, mtime and hash, the worker's $HOME and the outside folder recursively, the /tmp
    entries an attempt could have made (named with ``tmp_mark``, or DuckDB's), and the
    attached cache entry's folder (every file's name, hash, size, mtime and ctime)."""
    generation = {
        name: (world.generation / name).stat().st_size for name in world.generation_digest()
    }
    mtimes = {name: (world.generation / name).stat().st_mtime_ns for name in generation}
    return {
        "generation": (world.generation_digest(), generation, mtimes),
        "home": sorted(str(p.relative_to(home)) for p in home.rglob("*")),
        "outside": sorted(str(p.relative_to(outside)) for p in outside.rglob("*")),
        "tmp": sorted(p.name for p in TMP.iterdir() if tmp_mark in p.name or "duckdb" in p.name),
        "cache": cache_state(world.read_only_database),
    }


def cache_state(database: Path | None) -> list[tuple[str, str, int, int, int]]:
    """Every file beside (and including) the attached cache entry's database file."""
    if database is None:
        return []
    return [
        (p.name, hashlib.sha256(p.read_bytes()).hexdigest(), *stat_marks(p))
        for p in sorted(database.parent.iterdir())
        if p.is_file() and p.name != ".last-used"
    ]


def stat_marks(path: Path) -> tuple[int, int, int]:
    info = path.stat()
    return info.st_size, info.st_mtime_ns, info.st_ctime_ns


def leaked(outcome_message: str | None, rows: object) -> bool:
    """Whether a result or an error message shows /etc/passwd's content."""
    return PASSWD_MARK in f"{outcome_message} {rows}"


@pytest.mark.slow
@pytest.mark.parametrize("setup", setup_params())
def test_escapes_fail(setup, adapter_worker, tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))  # the worker inherits it
    settings = {"read_only_tables": setup.read_only_tables} if setup.read_only_tables else {}
    worker, world = adapter_worker(setup.adapter, requirements=setup.requirements, **settings)
    outside = tmp_path / "outside"
    outside.mkdir()
    tmp_mark = f"qsim-escape-{uuid.uuid4().hex[:8]}"
    attempts = escapes(setup.adapter, world, outside, tmp_mark)
    assert len(attempts) >= 15
    landed = []
    for statement in attempts:
        before = outside_state(world, home, outside, tmp_mark)
        outcome, table = run(worker, statement)
        if statement in PREPARATION:
            assert outcome.status == "ok", outcome.error_message
            continue
        rows = table.to_pylist() if table is not None else None
        # PostgreSQL must refuse by privilege, not by some accident of syntax.
        wrong_reason = (
            setup.adapter == "postgres" and outcome.error_class != "InsufficientPrivilege"
        )
        if outcome.status != "error" or leaked(outcome.error_message, rows) or wrong_reason:
            landed.append(f"{statement} -> {outcome.status} {outcome.error_message}")
        if outside_state(world, home, outside, tmp_mark) != before:
            landed.append(f"{statement} -> changed files outside the workspace")
    # The figure docs/engines.md records (run with -s to see it).
    tried = len([statement for statement in attempts if statement not in PREPARATION])
    succeeded = len({line.split(" -> ")[0] for line in landed})
    print(f"\nsandbox escapes {setup.id}: tried {tried} / succeeded {succeeded}")
    assert landed == []
    # The worker is still serving after every refusal.
    assert worker.table_row_count("customers") == 3
    for path in TMP.glob(f"{tmp_mark}*"):
        path.unlink()


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


def test_home_directory_unused_by_duckdb(adapter_worker, tmp_path, monkeypatch):
    """Catalog functions that touch DuckDB's folders do so inside the workspace only."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    worker, world = adapter_worker("duckdb", requirements=("duckdb==1.1.3",))
    outcome, table = run(worker, "SELECT current_setting('home_directory') AS h")
    assert outcome.status == "ok", outcome.error_message
    assert table is not None
    assert Path(table.to_pylist()[0]["h"]).is_relative_to(world.workspace)
    assert list(home.iterdir()) == []
    assert os.listdir(world.workspace)


SESSION_WEDGES = [
    "COPY customers FROM STDIN",
    "COPY customers TO STDOUT",
    "COPY (SELECT 1) TO STDOUT WITH (FORMAT csv)",
    "COPY (SELECT g FROM generate_series(1, 200000) AS g) TO STDOUT",
    "COPY customers FROM STDIN WITH (FORMAT binary)",
    "copy customers from stdin; SELECT 1",
]


@pytest.mark.postgres
def test_postgres_copy_through_the_client_leaves_the_session_usable(adapter_worker):
    worker, _ = adapter_worker("postgres")
    for statement in SESSION_WEDGES:
        outcome, _ = run(worker, statement)
        assert (outcome.status, outcome.error_class) == ("error", "CopyRefused"), statement
        after, table = run(worker, "SELECT count(*) AS n FROM customers")
        assert after.status == "ok", (statement, after.error_message)
        assert table is not None and table.to_pylist() == [{"n": 3}]
