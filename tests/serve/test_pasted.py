"""A pasted statement is refused, in one line, before any engine sees it when it is too
long, not one statement, of a kind a workload never replays, or reads files."""

from __future__ import annotations

import pytest

from simulator.serve.pasted import RefusedStatement, pasted_query


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("", "the statement is empty"),
        ("SELECT 1 + 1" + " " * 5 + "+ 1" * 10, "has 47 characters; the limit is 40"),
        ("SELECT 1; DROP TABLE orders", "2 statements in one query"),
        ("COPY orders TO '/tmp/x.csv'", "COPY statements are not replayed"),
        ("INSTALL httpfs", "INSTALL statements are not replayed"),
        ("PRAGMA version", "PRAGMA statements are not replayed"),
        ("SET threads = 64", "SET statements are not replayed"),
        ("SELECT * FROM read_csv('/etc/passwd')", "table function read_csv()"),
        ("SELECT * FROM read_parquet(['/a', '/b'])", "table function read_parquet()"),
        ("SELECT * FROM glob('/etc/*')", "table function glob()"),
        ("SELECT * FROM '/etc/passwd'", "a file path where a table is read"),
        ('SELECT * FROM orders o JOIN "/etc/passwd" p ON true', "a file path"),
        ("SELECT (SELECT count(*) FROM read_csv_auto('/x')) AS n", "read_csv_auto"),
    ],
)
def test_refused(sql: str, message: str) -> None:
    with pytest.raises(RefusedStatement) as info:
        pasted_query(sql, "t01", "duckdb", max_chars=40 if "+ 1" in sql else 10_000)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_a_replayable_statement_becomes_a_workload_query_of_the_tenant() -> None:
    query = pasted_query(
        "  select o.qty, count(*) as n from orders o where o.qty > 3 group by 1 order by n "
        "limit 5 ",
        "t07",
        "duckdb",
    )
    assert (query.tenant, query.kind, query.tables_read) == ("t07", "select", ["orders"])
    assert (query.order_by, query.order_keys, query.limit) == (True, ["n"], 5)
    assert query.query_id == f"pasted-{query.pattern_id[:12]}" and len(query.pattern_id) == 16
    # The fingerprint abstracts literals: another constant is the same pattern.
    other = pasted_query(query.sql.replace("> 3", "> 9"), "t07", "duckdb")
    assert other.pattern_id == query.pattern_id
    write = pasted_query("DELETE FROM orders WHERE qty > 1", "t07", "duckdb")
    assert (write.kind, write.tables_written) == ("delete", ["orders"])
