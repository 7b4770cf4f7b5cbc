"""The run folder keeps the SQL as sent to each engine (issue 17, point 3)."""

from __future__ import annotations

import io

import pyarrow.parquet as pq

from simulator.runner.execute import Statement
from simulator.runner.prepare import statements_parquet


def test_statements_file_holds_each_engines_sql_and_skip_reason() -> None:
    gap = "unsupported_on_target: sqlite lacks EXTRACT"
    lanes = {
        "t01": {
            "duckdb": [Statement(0, "q1", "select", "SELECT EXTRACT(YEAR FROM d) FROM t")],
            "sqlite": [Statement(0, "q1", "select", None, skip_reason=gap)],
        }
    }
    rows = pq.read_table(io.BytesIO(statements_parquet(lanes))).to_pylist()
    assert rows == [
        {
            "tenant": "t01",
            "query_id": "q1",
            "index": 0,
            "engine": "duckdb",
            "sql": "SELECT EXTRACT(YEAR FROM d) FROM t",
            "skip_reason": "",
        },
        {
            "tenant": "t01",
            "query_id": "q1",
            "index": 0,
            "engine": "sqlite",
            "sql": None,
            "skip_reason": gap,
        },
    ]
