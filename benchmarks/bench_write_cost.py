"""What write verification costs on top of the engine, before and after reading back only
what a write changed, in the same run.

    .venv/bin/python -m benchmarks.bench_write_cost [--scale 1] [--rounds 3]

Draws tenant t01's ``events`` table of a synthetic world (3.2M rows in day partitions at
scale 1), loads it writable into a DuckDB 1.1.3 and a 2.0.1 worker, and runs through
qsim's execute path (``execute_statement``) a DELETE of one day and an INSERT of one day
(a copy of an existing day under a new day), each ``--rounds`` times:

* ``full``: every write reads the whole table back (``verified=None``: the first path);
* ``content``: the lane's verified states are kept, and the partitions a write changed
  are found by the engine's content digest (one aggregate hashing every row), then only
  those are read back (after one warm-up write, which reads in full and is reported apart);
* ``rows``: as ``content``, but a plain INSERT or DELETE is judged by the engine's
  row-identity digest (count and sums of ``rowid`` per partition), as runs do now.

Prints per statement the engine's time (the worker's ``wall_ms``), qsim's time for the
execution (``finished_at - started_at``: row count before, statement, verification), the
difference and the ratio, medians over the rounds; then the time of each engine digest
alone, the floor of its mode. Targets
(issue 14): INSERT under 1.5x, DELETE of one day under 50 ms on top of the engine's time.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

from simulator.config import EngineSpec
from simulator.datasets import synthetic
from simulator.datasets.table_spec import TableSpec
from simulator.engines.runtime import default_root, ensure_runtime
from simulator.engines.worker import EngineWorker
from simulator.runner.execute import Statement, execute_statement
from simulator.runner.write_state import VerifiedTable, read_digests
from simulator.workload.classify import only_adds_or_removes_rows, parse_statement

VERSIONS = ("1.1.3", "2.0.1")
MODES = ("full", "content", "rows")
TARGET_INSERT_RATIO = 1.5
TARGET_DELETE_ADDED_MS = 50.0


def _events(scale: float, folder: Path) -> tuple[TableSpec, list[str]]:
    """t01's events table as one Parquet file, and its days in order."""
    for _tenant, name, table, _parts in synthetic.world(scale, 42, 8):
        if name == "events":
            path = folder / "events.parquet"
            pq.write_table(table, path)
            days = sorted(set(table.column("day").to_pylist()))
            spec = TableSpec("events", (str(path),), table.schema, (), writable=True)
            return spec, days
    raise RuntimeError("the synthetic world has no events table")


def _run(
    worker: EngineWorker,
    kind: str,
    sql: str,
    verified: dict[str, VerifiedTable] | None,
    by_rows: bool = False,
) -> tuple[float, float, int]:
    """(engine ms, qsim ms, rows read back or -1 for a full read) of one write."""
    statement = Statement(
        index=0,
        query_id=kind,
        kind=kind,
        sql=sql,
        tables_written=("events",),
        partition_columns={"events": ("day",)},
        only_adds_or_removes_rows=by_rows
        and only_adds_or_removes_rows(parse_statement(sql, "duckdb")),
    )
    record, _ = execute_statement(
        worker, statement, run_id="bench", engine="e", tenant="t01", verified=verified
    )
    if record.status != "ok" or "events" not in record.writes:
        raise RuntimeError(f"{sql}: {record.status} {record.error_message}")
    rows = verified["events"].rows_read if verified and "events" in verified else -1
    return record.wall_ms, (record.finished_at - record.started_at) * 1000, rows


def _statements(days: list[str], round_: int, mode: str) -> list[tuple[str, str, str]]:
    """This round's (label, kind, sql): a DELETE of one day, an INSERT of a new day."""
    victim = days[1 + len(MODES) * round_ + MODES.index(mode)]
    source = days[len(days) // 2]
    new_day = f"2030-{1 + round_:02d}-{10 + 5 * MODES.index(mode)}"
    insert = (
        f"INSERT INTO events SELECT * REPLACE ('{new_day}' AS day) "
        f"FROM events WHERE day = '{source}'"
    )
    return [
        ("DELETE one day", "delete", f"DELETE FROM events WHERE day = '{victim}'"),
        ("INSERT one day", "insert", insert),
    ]


def main() -> None:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qsim-bench-writes-") as tmp:
        folder = Path(tmp)
        table, days = _events(args.scale, folder)
        print(f"events of t01 at scale {args.scale}: {table.files[0]} ({len(days)} days)")
        print(
            f"{'engine':8} {'mode':8} {'statement':15} {'engine ms':>10} {'qsim ms':>10} "
            f"{'added ms':>9} {'ratio':>6} {'rows read':>10}"
        )
        for version in VERSIONS:
            spec = EngineSpec(
                name=f"duckdb{version}",
                adapter="duckdb",
                requirements=(f"duckdb=={version}",),
                dialect="duckdb",
            )
            runtime = ensure_runtime(spec, default_root())
            with EngineWorker(spec, runtime, folder / f"ws-{version}", [table]) as worker:
                for mode in MODES:
                    verified: dict[str, VerifiedTable] = {}
                    if mode != "full":
                        # The first verified write of a table reads it in full.
                        warm = "DELETE FROM events WHERE false"
                        engine_ms, qsim_ms, _ = _run(worker, "delete", warm, verified)
                        print(
                            f"{version:8} {mode:8} {'first write':15} {engine_ms:10.1f} "
                            f"{qsim_ms:10.1f} {qsim_ms - engine_ms:9.1f}"
                        )
                    samples: dict[str, list[tuple[float, float, int]]] = {}
                    for round_ in range(args.rounds):
                        for label, kind, sql in _statements(days, round_, mode):
                            lane = verified if mode != "full" else None
                            run = _run(worker, kind, sql, lane, by_rows=mode == "rows")
                            samples.setdefault(label, []).append(run)
                    for label, runs in samples.items():
                        engine = statistics.median(r[0] for r in runs)
                        qsim = statistics.median(r[1] for r in runs)
                        read = int(statistics.median(r[2] for r in runs))
                        print(
                            f"{version:8} {mode:8} {label:15} {engine:10.1f} {qsim:10.1f} "
                            f"{qsim - engine:9.1f} {qsim / engine:6.1f} {read:10}"
                        )
                for label, by_rows in (("content digest", False), ("row digest", True)):
                    began = time.perf_counter()
                    read_digests(worker, "events", ["day"], 600.0, by_row_identity=by_rows)
                    digest_ms = (time.perf_counter() - began) * 1000
                    print(f"{version:8} {'':8} {label:15} {'':10} {digest_ms:10.1f}")
        print(
            f"targets: INSERT ratio < {TARGET_INSERT_RATIO}, "
            f"DELETE added < {TARGET_DELETE_ADDED_MS:.0f} ms"
        )


if __name__ == "__main__":
    main()
