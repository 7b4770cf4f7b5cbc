import pyarrow as pa
import pytest

from simulator.engines.adapters.dbapi import ROW_STATEMENT, arrow_result, columns_of


@pytest.mark.parametrize(
    ("sql", "rows"),
    [
        ("SELECT 1", True),
        ("  -- note\n/* block */ (select 1)", True),
        ("WITH t AS (SELECT 1) SELECT * FROM t", True),
        ("values (1)", True),
        ("TABLE events", True),
        ("INSERT INTO t SELECT 1", False),
        ("selected", False),
        ("CREATE TABLE t AS SELECT 1", False),
    ],
)
def test_row_statement(sql, rows):
    assert bool(ROW_STATEMENT.match(sql)) is rows


def test_columns_of():
    assert columns_of([(1, "a"), (2, "b")], 2) == [(1, 2), ("a", "b")]
    assert columns_of([], 3) == [(), (), ()]


def test_arrow_result_streams_one_batch_per_fetch_and_ends():
    pending = [[(3, "c")], []]
    ended = []
    schema = pa.schema([("n", pa.int64()), ("s", pa.string())])
    converters = [lambda v: pa.array(v, pa.int64()), lambda v: pa.array(v, pa.string())]
    first = [(1, "a"), (2, "b")]
    result = arrow_result(
        schema, converters, first, lambda size: pending.pop(0), 2, lambda: ended.append(True)
    )
    batches = list(result.batches)
    assert result.schema == schema
    assert [b.num_rows for b in batches] == [2, 1]
    assert pa.Table.from_batches(batches).column("n").to_pylist() == [1, 2, 3]
    assert ended == [True]
