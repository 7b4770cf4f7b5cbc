"""Plugins: the example third-party adapter installed by path into its runtime and driven
end to end through a worker; bad adapter references give one clear line."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from simulator.config import EngineSpec
from simulator.engines.registry import check_adapter, load_factory, runtime_requirements
from simulator.engines.runtime import ensure_runtime
from simulator.engines.worker import EngineWorker
from simulator.errors import EngineError

PLUGIN = Path(__file__).resolve().parents[2] / "examples" / "plugin_adapter"


def test_example_plugin_installs_by_path_and_serves_queries(runtime_for, world):
    spec = EngineSpec(
        name="example",
        adapter="qsim_example_plugin.adapter:ExampleAdapter",
        requirements=(str(PLUGIN),),
        dialect="sqlite",
    )
    runtime = runtime_for(spec)
    site = list(runtime.path.glob("lib/python*/site-packages/qsim_example_plugin"))
    assert site, "the plugin must be installed into its runtime, not found on PYTHONPATH"
    with EngineWorker(spec, runtime, world["workspace"], world["tables"]) as worker:
        assert worker.version.startswith("example-sqlite-3.")
        batches: list[pa.RecordBatch] = []
        outcome = worker.execute(
            "SELECT day, count(*) AS n FROM events GROUP BY day ORDER BY day", 30, batches.append
        )
        assert outcome.status == "ok", outcome
        assert pa.Table.from_batches(batches).column("n").to_pylist() == [5, 5, 5]
        inserted = worker.execute("INSERT INTO sink SELECT * FROM events", 30)
        assert (inserted.status, inserted.rows_affected) == ("ok", 15)
        assert worker.table_row_count("sink") == 30
        denied = worker.execute("ATTACH DATABASE '/tmp/elsewhere.db' AS other", 30)
        assert (denied.status, denied.error_class) == ("error", "DatabaseError")


def test_unknown_adapter_is_refused_before_anything_is_built(tmp_path):
    spec = EngineSpec(name="cand", adapter="oracle")
    with pytest.raises(EngineError, match=r"^engine cand: unknown adapter 'oracle' \(built-in"):
        ensure_runtime(spec, tmp_path)
    assert not any(tmp_path.iterdir())
    with pytest.raises(EngineError):
        check_adapter("pkg/mod:Factory", "cand")
    assert check_adapter("pkg.mod:Factory") == "pkg.mod:Factory"


def test_plugin_that_does_not_import_is_one_line_naming_engine_and_module(tmp_path):
    spec = EngineSpec(name="thirdparty", adapter="no_such_vendor.engine:Factory")
    with pytest.raises(EngineError) as err:
        ensure_runtime(spec, tmp_path)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("engine thirdparty: adapter ")
    assert "adapter 'no_such_vendor.engine:Factory' does not import" in message
    assert "No module named 'no_such_vendor'" in message


def test_plugin_without_the_named_factory():
    with pytest.raises(EngineError, match="has no callable 'Nope'"):
        load_factory("simulator.engines.contract:Nope", "x")


def test_base_requirements_reach_every_runtime():
    assert runtime_requirements("postgres", ()) == ("psycopg[binary]>=3.2", "pyarrow>=14")
    assert runtime_requirements("duckdb", ()) == ("duckdb", "pyarrow>=14")
    assert runtime_requirements("duckdb", ("duckdb==1.1.3",)) == ("duckdb==1.1.3", "pyarrow>=14")
