"""A tiny generation-like world for adapter tests, written by the test with pyarrow.

``events`` is partitioned by ``day`` (hive folders) and writable (copied into the
workspace, as a workspace does for tables a workload writes); ``archive`` is the same
partitioned rows read-only, straight from the generation folder; ``customers`` is a
read-only dimension table whose files stay in the generation folder. Columns cover the types whose
mapping matters: decimals (narrow and 38 digits wide), timestamps with time zone, lists,
unicode, dates, booleans, floats and NULLs in every column.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from simulator.config import EngineSpec
from simulator.engines.contract import TableSpec
from simulator.engines.outcome import WorkerOutcome
from simulator.engines.postgres_server import LocalPostgres, find_bindir
from simulator.engines.read_only_cache import ReadOnlyCache, uses_cache
from simulator.engines.runtime import Runtime
from simulator.engines.worker import EngineWorker

UTC = dt.UTC
DAYS = ("2024-01-01", "2024-01-02", "2024-01-03")
EVENTS_SCHEMA = pa.schema(
    [
        ("event_id", pa.int64()),
        ("customer_id", pa.int32()),
        ("time", pa.timestamp("us", "UTC")),
        ("amount", pa.decimal128(18, 2)),
        ("score", pa.float64()),
        ("flag", pa.bool_()),
        ("tags", pa.list_(pa.string())),
        ("note", pa.string()),
        ("day", pa.string()),
    ]
)
CUSTOMERS_SCHEMA = pa.schema(
    [
        ("customer_id", pa.int32()),
        ("name", pa.string()),
        ("balance", pa.decimal128(38, 9)),
        ("signup", pa.date32()),
    ]
)
EVENTS_PER_DAY = 4


def events_rows(day: str) -> pa.Table:
    """The rows of one ``day`` partition (without the ``day`` column, as on disk)."""
    base = dt.datetime.fromisoformat(day).replace(tzinfo=UTC)
    offset = DAYS.index(day) * EVENTS_PER_DAY
    n = EVENTS_PER_DAY
    return pa.table(
        {
            "event_id": pa.array([offset + i + 1 for i in range(n)], pa.int64()),
            "customer_id": pa.array([1 + (offset + i) % 3 for i in range(n)], pa.int32()),
            "time": pa.array(
                [base + dt.timedelta(hours=i, microseconds=7 * i) for i in range(n - 1)] + [None],
                pa.timestamp("us", "UTC"),
            ),
            "amount": pa.array(
                [Decimal("10.50"), Decimal("-3.07"), None, Decimal("9999999999999999.99")],
                pa.decimal128(18, 2),
            ),
            "score": pa.array([0.5, -1.25, None, 1e300], pa.float64()),
            "flag": pa.array([True, False, None, True], pa.bool_()),
            "tags": pa.array([["a", "b"], [], None, ["ünï", "😀"]], pa.list_(pa.string())),
            "note": pa.array(["plain", "ünïcødé ✓", None, "quote ' and \" here"], pa.string()),
        }
    )


def customers_rows() -> pa.Table:
    """The three customers (one with a 38-digit balance, one full of NULLs)."""
    return pa.table(
        {
            "customer_id": pa.array([1, 2, 3], pa.int32()),
            "name": pa.array(["Ada", "Zoë 北京", None], pa.string()),
            "balance": pa.array(
                [Decimal("12.345000000"), Decimal("12345678901234567890123456789.123456789"), None],
                pa.decimal128(38, 9),
            ),
            "signup": pa.array([dt.date(2020, 2, 29), dt.date(1999, 12, 31), None], pa.date32()),
        }
    )


@dataclass
class World:
    """A written world: generation folder, workspace, table specs."""

    generation: Path
    workspace: Path
    tables: list[TableSpec]
    # The read-only cache entry the worker attached (``read_only_tables = "cache"``).
    read_only_database: Path | None = None

    def generation_digest(self) -> dict[str, str]:
        """sha256 of every file under the generation folder, by relative path."""
        return {
            str(path.relative_to(self.generation)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(self.generation.rglob("*"))
            if path.is_file()
        }

    def expected(self, name: str) -> pa.Table:
        """The table's rows as loaded, in its declared schema."""
        if name == "customers":
            return customers_rows().cast(CUSTOMERS_SCHEMA)
        # ``events`` and ``archive`` hold the same rows.
        parts = [
            events_rows(day).append_column("day", pa.array([day] * EVENTS_PER_DAY, pa.string()))
            for day in DAYS
        ]
        return pa.concat_tables(parts).cast(EVENTS_SCHEMA)


def write_world(root: Path) -> World:
    """Write the generation under ``root/generation`` (tenant ``t01``, plus a ``t02`` table
    no workspace table points at) and a workspace with ``events`` copied into it
    (writable); ``customers`` stays read-only in the generation."""
    generation = root / "generation" / "t01"
    workspace = root / "workspace"
    workspace.mkdir(parents=True)
    event_files = []
    archive_files = []
    for day in DAYS:
        source = generation / "events" / f"day={day}" / "part-0.parquet"
        source.parent.mkdir(parents=True)
        pq.write_table(events_rows(day), source)
        archive_files.append(str(source))
        copy = workspace / "tables" / "events" / f"day={day}" / "part-0.parquet"
        copy.parent.mkdir(parents=True)
        shutil.copyfile(source, copy)
        event_files.append(str(copy))
    customers_file = generation / "customers" / "part-0.parquet"
    customers_file.parent.mkdir(parents=True)
    pq.write_table(customers_rows(), customers_file)
    # Another tenant's table: in the generation, but no table of this workspace.
    other_tenant = root / "generation" / "t02" / "customers" / "part-0.parquet"
    other_tenant.parent.mkdir(parents=True)
    pq.write_table(customers_rows(), other_tenant)
    tables = [
        TableSpec(
            name="events",
            files=tuple(event_files),
            schema=EVENTS_SCHEMA,
            partition_columns=("day",),
            writable=True,
        ),
        TableSpec(
            name="archive",
            files=tuple(archive_files),
            schema=EVENTS_SCHEMA,
            partition_columns=("day",),
        ),
        TableSpec(name="customers", files=(str(customers_file),), schema=CUSTOMERS_SCHEMA),
    ]
    return World(generation=root / "generation", workspace=workspace, tables=tables)


ADAPTERS = ("duckdb", "sqlite", "datafusion", "postgres")
REQUIREMENTS = {
    "duckdb": ("duckdb==2.0.1",),
    "sqlite": (),
    "datafusion": ("datafusion==55.0.0",),
    "postgres": (),
}


def adapter_params() -> list[object]:
    """``ADAPTERS`` as pytest params, PostgreSQL marked ``postgres``."""
    return [
        pytest.param(name, marks=pytest.mark.postgres) if name == "postgres" else name
        for name in ADAPTERS
    ]


def adapter_spec(
    adapter: str,
    dsn: str = "",
    settings: dict[str, Any] | None = None,
    requirements: tuple[str, ...] | None = None,
) -> EngineSpec:
    """The engine declaration the adapter tests run ``adapter`` with."""
    return EngineSpec(
        name=f"{adapter}-suite",
        adapter=adapter,
        requirements=REQUIREMENTS[adapter] if requirements is None else requirements,
        dsn=dsn,
        settings=dict(settings or {}),
    )


@pytest.fixture(scope="session")
def local_postgres() -> Iterator[LocalPostgres]:
    """One throwaway PostgreSQL cluster per test process; skips only without binaries."""
    if find_bindir() is None:
        pytest.skip(
            "NO POSTGRESQL SERVER BINARIES (initdb/pg_ctl) ON THIS MACHINE: "
            "install the postgresql package (.ci/run does) to run these tests"
        )
    with LocalPostgres() as server:
        yield server


@pytest.fixture
def adapter_worker(
    request: pytest.FixtureRequest, runtime_for: Callable[[EngineSpec], Runtime], tmp_path: Path
) -> Iterator[Callable[..., tuple[EngineWorker, World]]]:
    """A function starting a real worker of an adapter (with ``settings``; ``dsn`` defaults
    to a fresh database of the local cluster for PostgreSQL) over a fresh world. With
    ``read_only_tables = "cache"`` the read-only tables come from a cache entry built in
    the test's folder, as a run's session does."""
    workers: list[EngineWorker] = []

    def start(
        adapter: str,
        dsn: str = "",
        requirements: tuple[str, ...] | None = None,
        **settings: Any,
    ) -> tuple[EngineWorker, World]:
        world = write_world(tmp_path / f"{adapter}-{len(workers)}")
        if adapter == "postgres" and not dsn:
            server = request.getfixturevalue("local_postgres")
            dsn = server.create_database(f"t{uuid.uuid4().hex[:12]}")
        spec = adapter_spec(adapter, dsn, settings, requirements)
        runtime = runtime_for(spec)
        if settings.get("read_only_tables") == "cache" and uses_cache(spec):
            cache = ReadOnlyCache(tmp_path / "read-only-cache")
            lease = cache.acquire(spec, runtime, "world", "t01", world.tables)
            spec = lease.attach_settings(spec)
            world.read_only_database = lease.path
        worker = EngineWorker(spec, runtime, world.workspace, world.tables)
        workers.append(worker)
        worker.start()
        return worker, world

    yield start
    for worker in workers:
        worker.close()


def run(worker: EngineWorker, sql: str) -> tuple[WorkerOutcome, pa.Table | None]:
    """Execute ``sql`` and collect its result rows (None for a command)."""
    batches: list[pa.RecordBatch] = []
    outcome = worker.execute(sql, 60.0, batches.append)
    if outcome.status != "ok" or not outcome.schema:
        return outcome, None
    return outcome, pa.Table.from_batches(batches) if batches else None


def read_back(worker: EngineWorker, name: str) -> pa.Table:
    """Table ``name``'s current rows as the worker streams them."""
    batches: list[pa.RecordBatch] = []
    outcome = worker.read_table(name, batches.append)
    assert outcome.status == "ok", outcome.error_message
    return pa.Table.from_batches(batches)
