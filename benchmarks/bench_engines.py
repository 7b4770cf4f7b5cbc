"""Engine worker overhead against in-process DuckDB of the same release, in the same run.

    .venv/bin/python -m benchmarks.bench_engines [--rounds 500] [--rows 5000000]

Prints, each with its reference measured here:

* ``SELECT 1`` round trip: median per execution through an EngineWorker (parent-side
  time, request to final reply) against the same DuckDBAdapter driven in this process
  (duckdb 2.0.1 in both). Target: under 1 ms added.
* Result transfer: a 5M-row result (int64, int64, ~7-char string) streamed from the worker
  to a sink in the parent, in MB/s of Arrow buffers, against fetching the same result
  in-process. Target: at least 0.5x the in-process rate.
* Runtime build: cold with an empty uv cache (downloads), cold with uv's cache warm, and
  cached (integrity check only), plus a worker start.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import duckdb
import pyarrow as pa

from simulator.config import EngineSpec
from simulator.engines.adapters.duckdb import DuckDBAdapter
from simulator.engines.runtime import default_root, ensure_runtime
from simulator.engines.worker import EngineWorker

TARGET_ADDED_MS = 1.0
TARGET_TRANSFER_RATIO = 0.5
TRANSFER_SQL = "SELECT x, x * 2 AS y, 'v' || (x % 1000000)::VARCHAR AS s FROM range({rows}) t(x)"


def median_ms(run, rounds: int) -> float:
    """Median wall time of ``run()`` in ms over ``rounds`` (after 20 warm-up calls)."""
    for _ in range(20):
        run()
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        run()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def transfer(run) -> tuple[float, int]:
    """Best of three: (seconds, Arrow bytes) to stream one result through ``run(sink)``."""
    best, size = float("inf"), 0
    for _ in range(3):
        total = [0]

        def sink(batch: pa.RecordBatch, total: list[int] = total) -> None:
            total[0] += batch.nbytes

        began = time.perf_counter()
        run(sink)
        best = min(best, time.perf_counter() - began)
        size = total[0]
    return best, size


def in_process(adapter: DuckDBAdapter, sql: str, sink=None) -> None:
    result = adapter.execute(sql)
    for batch in result.batches:
        if sink is not None:
            sink(batch)


def build_times(spec: EngineSpec) -> dict[str, float]:
    """Seconds for a cold build (fresh uv cache), a cold build (warm uv cache), a cached use."""
    times = {}
    with tempfile.TemporaryDirectory(prefix="qsim-bench-rt-") as tmp:
        saved = os.environ.get("UV_CACHE_DIR")
        os.environ["UV_CACHE_DIR"] = str(Path(tmp) / "uv-cache")
        began = time.perf_counter()
        ensure_runtime(spec, Path(tmp) / "fresh-cache")
        times["cold, empty uv cache (downloads)"] = time.perf_counter() - began
        if saved is None:
            del os.environ["UV_CACHE_DIR"]
        else:
            os.environ["UV_CACHE_DIR"] = saved
        began = time.perf_counter()
        ensure_runtime(spec, Path(tmp) / "warm-cache")
        times["cold, warm uv cache"] = time.perf_counter() - began
        began = time.perf_counter()
        ensure_runtime(spec, Path(tmp) / "warm-cache")
        times["cached (integrity check)"] = time.perf_counter() - began
    return times


def main() -> None:
    """Run the three benchmarks and print figures with their in-run references."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=500)
    parser.add_argument("--rows", type=int, default=5_000_000)
    args = parser.parse_args()

    version = duckdb.__version__
    spec = EngineSpec(name="bench", adapter="duckdb", requirements=(f"duckdb=={version}",))
    runtime = ensure_runtime(spec, default_root())
    cpus = os.cpu_count()
    load = os.getloadavg()[0]
    print(f"duckdb {version} in both; {cpus} CPUs, load average {load:.1f}")

    with tempfile.TemporaryDirectory(prefix="qsim-bench-") as tmp:
        settings = {"threads": 1}
        local = DuckDBAdapter()
        Path(tmp, "local").mkdir()
        local.open(str(Path(tmp, "local")), settings)
        local.load_tables([])
        local.seal()
        worker = EngineWorker(replace(spec, settings=settings), runtime, Path(tmp, "w"), [])
        began = time.perf_counter()
        worker.start()
        start_s = time.perf_counter() - began

        def discard(batch: pa.RecordBatch) -> None:
            return None

        remote_ms = median_ms(lambda: worker.execute("SELECT 1", 10, discard), args.rounds)
        local_ms = median_ms(lambda: in_process(local, "SELECT 1", discard), args.rounds)
        added = remote_ms - local_ms
        print(
            f"SELECT 1 round trip: worker {remote_ms:.3f} ms, in-process {local_ms:.3f} ms, "
            f"added {added:.3f} ms (target < {TARGET_ADDED_MS} ms: "
            f"{'met' if added < TARGET_ADDED_MS else 'MISSED'})"
        )

        sql = TRANSFER_SQL.format(rows=args.rows)
        remote_s, size = transfer(lambda sink: worker.execute(sql, 300, sink))
        local_s, local_size = transfer(lambda sink: in_process(local, sql, sink))
        remote_rate, local_rate = size / remote_s / 1e6, local_size / local_s / 1e6
        ratio = remote_rate / local_rate
        print(
            f"{args.rows:,}-row result ({size / 1e6:.0f} MB Arrow): worker {remote_rate:.0f} MB/s "
            f"({remote_s:.3f} s), in-process {local_rate:.0f} MB/s ({local_s:.3f} s), "
            f"ratio {ratio:.2f}x (target >= {TARGET_TRANSFER_RATIO}x: "
            f"{'met' if ratio >= TARGET_TRANSFER_RATIO else 'MISSED'})"
        )
        worker.close()
        local.close()

    for label, seconds in build_times(spec).items():
        print(f"runtime build, {label}: {seconds:.2f} s")
    print(f"worker start (spawn, import, open, seal, version): {start_s:.2f} s")


if __name__ == "__main__":
    main()
