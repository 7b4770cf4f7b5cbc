import pytest

from simulator.config import EngineSpec
from simulator.workload.transpile import target_dialect, transpile

DUCKDB_1_1 = EngineSpec(name="baseline", adapter="duckdb", dialect="duckdb", version="1.1.3")
DUCKDB_2_0 = EngineSpec(name="candidate", adapter="duckdb", dialect="duckdb", version="2.0.1")
POSTGRES = EngineSpec(name="pg", adapter="postgres", dialect="postgres")
LAMBDA = "SELECT transform(tags, x -> upper(x)) AS t FROM products"


def test_target_dialect_carries_the_version():
    assert target_dialect(DUCKDB_1_1) == "duckdb, version=1.1.3"
    assert target_dialect(DUCKDB_2_0) == "duckdb, version=2.0.1"
    assert target_dialect(POSTGRES) == "postgres"
    dev = EngineSpec(adapter="duckdb", dialect="duckdb", version="1.4.0.dev123")
    assert target_dialect(dev) == "duckdb, version=1.4.0"


def test_lambda_syntax_follows_the_engine_version():
    old = transpile(LAMBDA, "trino", DUCKDB_1_1)
    new = transpile(LAMBDA, "trino", DUCKDB_2_0)
    assert old.sql == "SELECT LIST_TRANSFORM(tags, x -> UPPER(x)) AS t FROM products"
    assert new.sql == "SELECT LIST_TRANSFORM(tags, LAMBDA x : UPPER(x)) AS t FROM products"
    assert old.skip_reason == new.skip_reason == ""


def test_new_lambda_syntax_runs_on_the_local_duckdb():
    import duckdb

    sql = transpile("SELECT transform(ARRAY['a', 'b'], x -> upper(x)) AS t", "trino", DUCKDB_2_0)
    assert duckdb.sql(sql.sql).fetchall() == [(["A", "B"],)]


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT * FROM t01.events", "SELECT * FROM events"),
        ("SELECT * FROM hive.t01.orders o JOIN customers c ON true", "SELECT * FROM orders AS o"),
        ("SELECT * FROM T01.Events", "SELECT * FROM Events"),
    ],
)
def test_own_tenant_qualifier_is_stripped(sql, expected):
    result = transpile(sql, "trino", DUCKDB_2_0, tenant="t01")
    assert result.sql.startswith(expected)


def test_other_tenants_tables_are_a_skip_reason():
    result = transpile("SELECT * FROM t02.events", "trino", DUCKDB_2_0, tenant="t01")
    assert result.sql is None
    assert result.skip_reason == "references t02.events, outside tenant t01's namespace"


@pytest.mark.parametrize(
    ("sql", "read", "engine", "reason"),
    [
        ("SELECT FROM WHERE", "trino", DUCKDB_2_0, "unparseable in trino: Expected"),
        ("SELECT 1", "cobolsql", DUCKDB_2_0, "unsupported dialect"),
        ("SELECT 1", "trino", EngineSpec(dialect="nosuchdb"), "unsupported dialect"),
        ("SELECT 1; SELECT 2", "trino", DUCKDB_2_0, "2 statements"),
    ],
)
def test_failures_are_skip_reasons_never_exceptions(sql, read, engine, reason):
    result = transpile(sql, read, engine)
    assert result.sql is None
    assert reason in result.skip_reason


def test_construct_the_target_cannot_express_is_a_skip_reason():
    sqlite = EngineSpec(name="lite", adapter="sqlite", dialect="sqlite")
    result = transpile("SELECT bitwise_and_agg(x) FROM t", "trino", sqlite)
    assert result.sql is None
    assert result.skip_reason == (
        "cannot transpile to sqlite: BITWISE_AND aggregation is not supported in SQLite"
    )


SQLITE = EngineSpec(name="sqlite", adapter="sqlite", dialect="sqlite")
DATAFUSION = EngineSpec(name="datafusion", adapter="datafusion", dialect="postgres")


@pytest.mark.parametrize(
    ("sql", "engine", "feature"),
    [
        ("SELECT d + INTERVAL '90' DAY FROM t", SQLITE, "sqlite lacks INTERVAL arithmetic"),
        ("SELECT extract(quarter FROM d) FROM t", SQLITE, "sqlite lacks EXTRACT"),
        ("SELECT a, sum(b) FROM t GROUP BY ROLLUP (a)", SQLITE, "sqlite lacks GROUP BY ROLLUP"),
        ("SELECT date('1995-01-01')", DATAFUSION, "datafusion lacks the date('...') function"),
        (
            "SELECT count(*) FROM (SELECT 1 AS a)",
            POSTGRES,
            "postgres lacks a subquery in FROM without an alias",
        ),
    ],
)
def test_sql_the_target_cannot_run_is_skipped_with_the_feature_named(sql, engine, feature):
    rendered = transpile(sql, "trino", engine)
    assert rendered.sql is None
    assert rendered.skip_reason == f"unsupported_on_target: {feature}"


def test_what_the_target_runs_is_sent():
    assert transpile("SELECT count(*) FROM (SELECT 1 AS a) AS s", "trino", POSTGRES).sql
    assert transpile("SELECT date_add('day', 30, d) FROM t", "trino", SQLITE).sql
    pg16 = EngineSpec(name="pg", adapter="postgres", dialect="postgres", version="16.2")
    assert transpile("SELECT count(*) FROM (SELECT 1 AS a)", "trino", pg16).sql
    assert transpile("SELECT d + INTERVAL '90' DAY FROM t", "trino", DUCKDB_2_0).sql
    rollup = "SELECT a, grouping(a) AS g, count(*) AS n FROM t GROUP BY ROLLUP (a)"
    assert transpile(rollup, "trino", DATAFUSION).sql


def test_trinos_quoted_identifiers_are_case_insensitive_on_every_target():
    sql = 'SELECT "L_OrderKey" AS "Key" FROM lineitem AS "L"'
    for engine in (POSTGRES, DATAFUSION, SQLITE, DUCKDB_2_0):
        rendered = transpile(sql, "trino", engine).sql
        assert '"l_orderkey"' in rendered.lower() and "L_OrderKey" not in rendered
    assert transpile('SELECT "Mixed" FROM t', "postgres", POSTGRES).sql == 'SELECT "Mixed" FROM t'


def test_extract_of_a_date_part_is_rendered_with_strftime_for_sqlite():
    import sqlite3

    sql = "SELECT extract(year FROM d) AS y, extract(month FROM d) AS m FROM t"
    rendered = transpile(sql, "trino", SQLITE).sql
    assert rendered == (
        "SELECT CAST(STRFTIME('%Y', d) AS INTEGER) AS y, "
        "CAST(STRFTIME('%m', d) AS INTEGER) AS m FROM t"
    )
    con = sqlite3.connect(":memory:")
    con.execute("CREATE TABLE t (d DATE)")
    con.execute("INSERT INTO t VALUES ('1995-03-04')")
    assert con.execute(rendered).fetchall() == [(1995, 3)]
