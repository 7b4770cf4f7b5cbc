"""Plans from real engine workers (``explain`` capability): announced at start, planned
without running, sandboxed, and normalized to a shape that carries no literal of the SQL."""

from __future__ import annotations

import pytest
from adapter_fixtures import adapter_params, read_back

from simulator.compare.plans import plan_shape, sql_literals
from simulator.errors import EngineError

SECRET = "Zebrafish_Secret"
QUERY = (
    "SELECT note, count(*) AS n FROM events "
    f"WHERE customer_id = 987654 AND note <> '{SECRET} 4242' "
    "GROUP BY note ORDER BY n DESC LIMIT 31337"
)


@pytest.mark.parametrize("adapter", adapter_params())
def test_plan_shape_has_operators_and_no_literal(adapter: str, adapter_worker) -> None:  # type: ignore[no-untyped-def]
    worker, _ = adapter_worker(adapter)
    assert worker.has_explain
    tree = worker.explain(QUERY)
    shape = plan_shape(tree, sql_literals(QUERY))
    assert len(shape.shape.splitlines()) >= 2 and len(shape.shape_hash) == 16
    assert "?" not in shape.operators
    for literal in (SECRET, "Zebrafish", "Secret", "987654", "4242", "31337"):
        assert literal.lower() not in shape.shape.lower(), (adapter, shape.shape)
    # Same statement, same shape: a hash is a stable name for the plan.
    assert plan_shape(worker.explain(QUERY), sql_literals(QUERY)) == shape


@pytest.mark.parametrize("adapter", ["duckdb", "sqlite"])
def test_explain_of_a_write_plans_it_without_running_it(adapter: str, adapter_worker) -> None:  # type: ignore[no-untyped-def]
    worker, _ = adapter_worker(adapter)
    before = read_back(worker, "events").num_rows
    shape = plan_shape(worker.explain("DELETE FROM events WHERE customer_id = 1"))
    assert shape.operators
    assert read_back(worker, "events").num_rows == before


def test_explain_is_sandboxed_like_execute(adapter_worker, tmp_path) -> None:  # type: ignore[no-untyped-def]
    worker, _ = adapter_worker("duckdb")
    outside = tmp_path / "outside.parquet"
    with pytest.raises(EngineError, match="explain failed"):
        worker.explain(f"SELECT * FROM read_parquet('{outside}')")
    assert worker.execute("SELECT 1", 10.0).status == "ok"  # the worker lives on
