import pytest

from simulator.workload.classify import classify, parse_statement


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
    ],
)
def test_nondeterministic_reasons(sql, reasons):
    assert _classify(sql).nondeterministic == reasons


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
