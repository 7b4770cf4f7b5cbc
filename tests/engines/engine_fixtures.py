"""Helpers for engine tests: engine declarations for real DuckDB releases and the fake
plugins, and a tiny partitioned ``events`` table written with pyarrow."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from simulator.config import EngineSpec
from simulator.engines.contract import TableSpec

DUCKDB_OLD = "1.1.3"
DUCKDB_NEW = "2.0.1"
DAYS = ("2024-01-01", "2024-01-02", "2024-01-03")
ROWS_PER_DAY = 5
EVENTS_SCHEMA = pa.schema(
    [
        ("event_id", pa.int64()),
        ("amount", pa.float64()),
        ("note", pa.string()),
        ("day", pa.string()),
    ]
)
FAKES = "tests.engines.fake_adapters"


def duckdb_spec(version: str, name: str = "", **settings: object) -> EngineSpec:
    """An engine declaration for DuckDB ``version``."""
    return EngineSpec(
        name=name or f"duckdb-{version}",
        adapter="duckdb",
        requirements=(f"duckdb=={version}",),
        dialect="duckdb",
        settings=dict(settings),
    )


def fake_spec(factory: str, name: str = "fake", **settings: object) -> EngineSpec:
    """An engine declaration for one of the test fakes in ``fake_adapters``."""
    return EngineSpec(name=name, adapter=f"{FAKES}:{factory}", settings=dict(settings))


def write_events(root: Path, writable: bool = False) -> TableSpec:
    """``events``: three ``day`` partitions of five rows under ``root`` (hive folders)."""
    files = []
    for index, day in enumerate(DAYS):
        path = root / "events" / f"day={day}" / "part-0.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        ids = [index * ROWS_PER_DAY + i + 1 for i in range(ROWS_PER_DAY)]
        pq.write_table(
            pa.table(
                {
                    "event_id": pa.array(ids, pa.int64()),
                    "amount": pa.array([i * 1.5 for i in ids], pa.float64()),
                    "note": pa.array([f"n{i}" for i in ids], pa.string()),
                }
            ),
            path,
        )
        files.append(str(path))
    return TableSpec("events", tuple(files), EVENTS_SCHEMA, ("day",), writable)
