import pytest

from simulator.workload.classify import classify, only_adds_or_removes_rows, parse_statement


def _classify(sql: str, dialect: str = "trino"):
    return classify(parse_statement(sql, dialect))


@pytest.mark.parametrize(
    ("sql", "kind", "read", "written"),
    [
        ("SELECT a FROM events WHERE day = '2024-03-01'", "select", ("events",), ()),
        (
            "WITH x AS (SELECT * FROM orders) SELECT * FROM x JOIN customers c ON true",
            "select",
            ("customers", "orders"),
            (),
        ),
        ("SELECT a FROM t UNION ALL SELECT b FROM u", "select", ("t", "u"), ()),
        ("CREATE TABLE stage AS SELECT * FROM events", "ctas", ("events",), ("stage",)),
        ("CREATE TABLE plain (a int)", "ddl", (), ("plain",)),
        ("CREATE VIEW v AS SELECT * FROM events", "ddl", ("events",), ("v",)),
        ("INSERT INTO stage SELECT * FROM stage", "insert", ("stage",), ("stage",)),
        ("INSERT INTO stage (a, b) VALUES (1, 2)", "insert", (), ("stage",)),
        ("DELETE FROM stage WHERE day < '2024-03-01'", "delete", (), ("stage",)),
        ("UPDATE stage SET a = 1 WHERE b IN (SELECT b FROM t)", "update", ("t",), ("stage",)),
        (
            "MERGE INTO target t USING src s ON t.id = s.id WHEN MATCHED THEN UPDATE SET v = s.v",
            "merge",
            ("src",),
            ("target",),
        ),
        ("DROP TABLE IF EXISTS stage", "ddl", (), ("stage",)),
        ("ALTER TABLE stage ADD COLUMN c int", "ddl", (), ("stage",)),
        ("SHOW TABLES", "other", (), ()),
        ("SELECT * FROM hive.t01.Events", "select", ("hive.t01.events",), ()),
    ],
)
def test_kind_and_tables(sql, kind, read, written):
    result = _classify(sql)
    assert (result.kind, result.tables_read, result.tables_written) == (kind, read, written)


@pytest.mark.parametrize(
    ("sql", "order_by", "keys", "limit"),
    [
        ("SELECT a, b AS bb FROM t ORDER BY 1, bb LIMIT 5 OFFSET 2", True, ("a", "bb"), 5),
        ("SELECT a, count(*) AS n FROM t GROUP BY a ORDER BY n DESC, a", True, ("n", "a"), None),
        ("SELECT * FROM t ORDER BY id", True, ("id",), None),
        ("SELECT a FROM t ORDER BY a, b + 1, c", True, ("a",), None),
        ("SELECT sum(x) AS s FROM t ORDER BY sum(x)", True, ("s",), None),
        ("SELECT count(*) FROM t ORDER BY count(*) DESC", True, (), None),
        ("SELECT a FROM t UNION ALL SELECT b FROM u ORDER BY 1 LIMIT 3", True, ("a",), 3),
        ("SELECT a FROM (SELECT a FROM t ORDER BY a) s", False, (), None),
        ("SELECT a FROM t FETCH FIRST 7 ROWS ONLY", False, (), 7),
        ("CREATE TABLE s AS SELECT a FROM t ORDER BY a", False, (), None),
    ],
)
def test_top_level_order_and_limit(sql, order_by, keys, limit):
    result = _classify(sql)
    assert (result.order_by, result.order_keys, result.limit) == (order_by, keys, limit)


@pytest.mark.parametrize(
    ("sql", "reasons"),
    [
        ("SELECT rand() AS r, random() AS q FROM t", ("rand",)),
        ("SELECT uuid() FROM t", ("uuid",)),
        ("SELECT now(), current_date FROM t", ("current_timestamp", "current_date")),
        ("SELECT approx_distinct(u) FROM t", ("approx_distinct",)),
        ("SELECT approx_percentile(u, 0.5) FROM t", ("approx_quantile",)),
        ("SELECT count(*) FROM t TABLESAMPLE BERNOULLI (5)", ("tablesample",)),
        ("SELECT array_agg(x) FROM t", ("array_agg_without_order_by",)),
        ("SELECT array_agg(x ORDER BY x) FROM t", ()),
        ("SELECT listagg(x, ',') WITHIN GROUP (ORDER BY x) FROM t", ()),
        ("SELECT a FROM t LIMIT 10", ("limit_without_order_by",)),
        ("SELECT a FROM t ORDER BY a LIMIT 10", ()),
        ("SELECT a FROM (SELECT a FROM t LIMIT 3) s ORDER BY a", ("limit_without_order_by",)),
        ("SELECT country FROM customers ORDER BY country", ()),
        ("SELECT reservoir_quantile(x, 0.5) FROM t", ("reservoir_quantile",)),
        ("SELECT array_sort(array_agg(x)) FROM t", ()),
        ("SELECT sort_array(array_agg(x)) FROM t", ()),
        ("SELECT cardinality(array_agg(x)) FROM t", ()),
        ("SELECT array_max(array_agg(x)) FROM t", ()),
        ("SELECT array_sort(array_distinct(array_agg(x))) FROM t", ()),
        ("SELECT string_agg(x, ',' ORDER BY x) FROM t", ()),
        ("SELECT sum(u) FROM (SELECT unnest(array_agg(x)) AS u FROM t) s", ()),
        ("SELECT slice(array_agg(x), 1, 2) FROM t", ("array_agg_without_order_by",)),
        ("SELECT array_distinct(array_agg(x)) FROM t", ("array_agg_without_order_by",)),
    ],
)
def test_nondeterministic_reasons(sql, reasons):
    assert _classify(sql).nondeterministic == reasons


@pytest.mark.parametrize(
    ("sql", "dialect"),
    [
        ("SELECT list_sort(array_agg(x)) FROM t", "duckdb"),
        ("SELECT len(array_agg(x)), array_length(list(x)) FROM t", "duckdb"),
        ("SELECT list_sum(array_agg(x)), list_sort(list_distinct(list(x))) FROM t", "duckdb"),
        ("SELECT unnest(array_agg(x)) FROM t", "duckdb"),
    ],
)
def test_known_deterministic_wrappers_give_no_reason(sql, dialect):
    assert _classify(sql, dialect).nondeterministic == ()


# (sql, reached output positions or None for all, estimate-only positions, row set fixed)
LINEAGE = [
    ("SELECT a, rand() AS r, b FROM t", (1,), (), True),
    ("SELECT a, b FROM t WHERE rand() < 0.5", (), (), False),
    ("SELECT a FROM t JOIN u ON t.id = u.id AND rand() < 0.5", (), (), False),
    ("WITH c AS (SELECT a, now() AS ts FROM t) SELECT a, ts, 1 AS one FROM c", (1,), (), True),
    (
        "WITH c AS (SELECT a, now() AS ts FROM t) SELECT c.a FROM c WHERE c.ts > '2024'",
        (),
        (),
        False,
    ),
    ("WITH c(x, y) AS (SELECT a, now() FROM t) SELECT y, x FROM c", (0,), (), True),
    ("SELECT k, approx_distinct(x) AS n, count(*) AS c FROM t GROUP BY k", (1,), (1,), True),
    ("SELECT k, approx_distinct(x) AS n, rand() AS r FROM t GROUP BY k", (1, 2), (1,), True),
    ("SELECT approx_distinct(x) + rand() AS n FROM t", (0,), (), True),
    ("SELECT k FROM t GROUP BY k HAVING approx_distinct(x) > 3", (), (), False),
    (
        "WITH e AS (SELECT k, approx_distinct(x) AS n FROM t GROUP BY k) SELECT k FROM e "
        "WHERE n > 3",
        (),
        (),
        False,
    ),
    ("SELECT k, array_agg(x) AS xs, count(*) AS c FROM t GROUP BY k", (1,), (), True),
    ("SELECT k, array_sort(array_agg(x)) AS xs FROM t GROUP BY k", (), (), True),
    ("SELECT count(*) AS c FROM t TABLESAMPLE BERNOULLI (5)", (), (), False),
    ("SELECT * FROM t TABLESAMPLE BERNOULLI (5)", None, (), False),
    ("SELECT * FROM (SELECT a, rand() AS r FROM t) s", None, (), True),
    ("SELECT s.a, s.r FROM (SELECT a, rand() AS r FROM t) s", (1,), (), True),
    ("SELECT a, b FROM t UNION ALL SELECT a, rand() FROM u", (1,), (), True),
    ("SELECT a, b FROM t UNION SELECT a, rand() FROM u", (1,), (), False),
    ("SELECT a, row_number() OVER (ORDER BY rand()) AS n FROM t", (1,), (), True),
    ("SELECT a, sum(b) OVER (PARTITION BY a) AS s, rand() AS r FROM t", (2,), (), True),
    ("SELECT a, rand() AS r FROM t ORDER BY a LIMIT 3", (1,), (), True),
    ("SELECT a, rand() AS r FROM t ORDER BY r LIMIT 3", (1,), (), False),
    ("SELECT a, rand() FROM t ORDER BY 2 LIMIT 3", (1,), (), False),
    ("SELECT DISTINCT a, rand() AS r FROM t", (1,), (), False),
    ("SELECT rand() > 0.5 AS r, count(*) AS c FROM t GROUP BY 1", (0,), (), False),
    ("SELECT a, (SELECT max(rand()) FROM u) AS m FROM t", (1,), (), True),
    ("SELECT a FROM t WHERE b IN (SELECT b FROM u TABLESAMPLE BERNOULLI (5))", (), (), False),
    ("SELECT a, 1 AS b FROM (SELECT a FROM t LIMIT 3) s ORDER BY a", (0,), (), False),
    ("CREATE TABLE z AS SELECT a, random() AS r FROM t", (1,), (), True),
    ("INSERT INTO z SELECT a, b FROM t WHERE rand() < 0.1", (), (), False),
    ("DELETE FROM z WHERE rand() < 0.1", None, (), False),
    ("SELECT a, b FROM t", (), (), True),
    (
        "WITH c AS (SELECT k, rand() AS r FROM t) "
        "SELECT c.k, (SELECT max(u.y) FROM u WHERE u.k > c.r) AS m FROM c",
        (1,),
        (),
        True,
    ),
    (
        "WITH c AS (SELECT k, ARRAY[rand()] AS rs FROM t) "
        "SELECT c.k, u.x FROM c CROSS JOIN UNNEST(c.rs) AS u(x)",
        (1,),
        (),
        False,
    ),
]


@pytest.mark.parametrize(("sql", "columns", "estimate", "fixed"), LINEAGE)
def test_lineage_of_nondeterministic_expressions(sql, columns, estimate, fixed):
    result = _classify(sql)
    assert result.nondeterministic_columns == columns
    assert result.estimate_columns == estimate
    assert result.row_set_fixed is fixed


@pytest.mark.parametrize(
    ("sql", "estimate_only"),
    [
        ("SELECT k FROM t GROUP BY k HAVING approx_distinct(x) > 3", True),
        ("SELECT k, approx_distinct(x) AS n FROM t GROUP BY k ORDER BY n DESC LIMIT 10", True),
        ("SELECT k, approx_distinct(x) AS n FROM t GROUP BY k", False),
        ("SELECT k FROM t WHERE rand() < 0.5 GROUP BY k HAVING approx_distinct(x) > 3", False),
        (
            "SELECT k FROM t TABLESAMPLE BERNOULLI (5) GROUP BY k HAVING approx_distinct(x) > 3",
            False,
        ),
        ("SELECT a FROM t WHERE rand() < 0.5", False),
    ],
)
def test_row_set_chosen_by_estimates_only(sql, estimate_only):
    assert _classify(sql).row_set_estimate_only is estimate_only


@pytest.mark.parametrize(
    ("sql", "dialect", "derived"),
    [
        (
            'SELECT "substring"(s, 1, 2), s, x AS y, CAST(x AS TEXT), t.z FROM t',
            "duckdb",
            (True, False, False, True, False),
        ),
        ("SELECT count(*), 1, list_transform(l, v -> v + 1) FROM t", "duckdb", (True,) * 3),
        (
            "SELECT a, upper(b) FROM t UNION ALL SELECT c AS a, d AS b FROM u",
            "trino",
            (False, True),
        ),
        ("SELECT *, upper(b) FROM t", "trino", ()),
        ("SELECT t.*, upper(b) FROM t", "trino", ()),
        ("CREATE TABLE z AS SELECT upper(b) FROM t", "trino", ()),
    ],
)
def test_derived_output_names(sql, dialect, derived):
    assert _classify(sql, dialect).derived_names == derived


def test_string_agg_in_postgres_dialect():
    assert _classify("SELECT string_agg(x, ',') FROM t", "postgres").nondeterministic == (
        "string_agg_without_order_by",
    )


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT FROM WHERE", "Expected table name"),
        ("SELECT 1; SELECT 2", "2 statements in one query"),
        ("", "no statement"),
        ("SELECT '\x1b[4munterminated", "."),
    ],
)
def test_unparseable_texts_raise_value_error_with_message(sql, message):
    with pytest.raises(ValueError, match=message) as info:
        parse_statement(sql, "trino")
    assert "\x1b" not in str(info.value)


@pytest.mark.parametrize(
    ("sql", "count_fixed"),
    [
        ("SELECT a, b FROM t ORDER BY rand() LIMIT 5", True),
        ("SELECT a FROM t WHERE rand() < 0.5 ORDER BY rand() LIMIT 5", False),
        ("SELECT a FROM t TABLESAMPLE BERNOULLI (5) ORDER BY rand() LIMIT 5", False),
        ("SELECT a FROM (SELECT a FROM t ORDER BY rand() LIMIT 3) s WHERE a > 1", False),
        ("SELECT a, rand() AS r FROM t", True),
        ("SELECT a FROM t UNION ALL SELECT a FROM u ORDER BY rand() LIMIT 5", False),
    ],
)
def test_row_count_fixed_when_nondeterminism_only_picks_which_rows_a_limit_keeps(sql, count_fixed):
    assert _classify(sql).row_count_fixed is count_fixed


@pytest.mark.parametrize(
    ("sql", "count_fixed"),
    [
        ("SELECT count(*) AS n FROM t WHERE ts > now() - INTERVAL '3' DAY", True),
        ("SELECT count(*) AS n, avg(a) AS m FROM t TABLESAMPLE BERNOULLI (5)", True),
        ("SELECT b, count(*) AS n FROM t WHERE ts > now() GROUP BY b", False),
        ("SELECT count(*) OVER () AS n FROM t WHERE ts > now()", False),
        ("SELECT count(*) AS n FROM t WHERE ts > now() HAVING count(*) > 1", False),
    ],
)
def test_an_aggregate_without_group_by_returns_one_row_whatever_it_reads(sql, count_fixed):
    assert _classify(sql).row_count_fixed is count_fixed


@pytest.mark.parametrize(
    "sql, dialect, expected",
    [
        ("INSERT INTO t SELECT * FROM s WHERE day = '2024-01-01'", "duckdb", True),
        ("INSERT INTO t VALUES (1, 2)", "postgres", True),
        ("INSERT INTO t BY NAME SELECT 1 AS a", "duckdb", True),
        ("WITH x AS (SELECT 1 AS a) INSERT INTO t SELECT a FROM x", "duckdb", True),
        ("DELETE FROM t WHERE day < '2024-01-01'", "duckdb", True),
        ("DELETE FROM t USING s WHERE t.id = s.id", "postgres", True),
        # These may rewrite a row in place: the write is judged by content.
        ("INSERT INTO t VALUES (1) ON CONFLICT (a) DO UPDATE SET b = 2", "duckdb", False),
        ("INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING", "postgres", False),
        ("INSERT OR REPLACE INTO t VALUES (1)", "duckdb", False),
        ("INSERT OR IGNORE INTO t VALUES (1)", "sqlite", False),
        ("INSERT OVERWRITE TABLE t SELECT * FROM s", "spark", False),
        ("UPDATE t SET a = 1", "duckdb", False),
        ("MERGE INTO t USING s ON t.a = s.a WHEN MATCHED THEN UPDATE SET b = 1", "duckdb", False),
        ("CREATE TABLE t AS SELECT 1 AS a", "duckdb", False),
        (
            "WITH u AS (UPDATE s SET a = 1 RETURNING a) INSERT INTO t SELECT a FROM u",
            "postgres",
            False,
        ),
    ],
)
def test_only_adds_or_removes_rows(sql, dialect, expected):
    assert only_adds_or_removes_rows(parse_statement(sql, dialect)) is expected
