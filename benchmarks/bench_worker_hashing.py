"""Where to checksum a result: in qsim from its rows, or in the engine's worker.

    .venv/bin/python -m benchmarks.bench_worker_hashing [--rows 10000,100000,1000000]
        [--rounds 5] [--engine 2.0.1]

Runs one SELECT of N rows (an integer, a 20-character string, a float and a date per row)
in a real DuckDB worker, checksummed both ways in the same run, alternating:

* ``parent``: the worker sends every row and qsim hashes them (threshold above N);
* ``worker``: the worker hashes next to the engine and sends the checksum (threshold 0),
  its hashing libraries already loaded.

Per way and size it prints the median wall time, the CPU time of both processes together
(qsim's ``process_time`` + the worker's utime + stime from ``/proc``) and the protocol
bytes; then what one worker pays once to load hashing (import + kernels), and the result
size at which that one-off cost is paid back by the CPU saved per row. The threshold of
``engines/protocol.py`` (``WORKER_HASH_ROWS``) is chosen from that figure.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from simulator.config import EngineSpec
from simulator.engines.protocol import ResultRequest
from simulator.engines.runtime import ensure_runtime
from simulator.engines.worker import EngineWorker

_TICK = os.sysconf("SC_CLK_TCK")


def _worker_cpu(pid: int) -> float:
    """The worker's user + system CPU seconds so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def _sql(rows: int) -> str:
    return (
        "SELECT x AS id, lpad(x::VARCHAR, 20, 'k') AS name, x * 0.5 AS amount, "
        f"DATE '2024-01-01' + (x % 365)::INTEGER AS day FROM range({rows}) t(x)"
    )


def _one(worker: EngineWorker, rows: int) -> tuple[float, float, int]:
    """Wall s, CPU s (both processes), protocol bytes of one checksummed execution."""
    assert worker.pid is not None
    sent, cpu_worker = worker.bytes_received, _worker_cpu(worker.pid)
    cpu, wall = time.process_time(), time.perf_counter()
    outcome = worker.execute(_sql(rows), 600.0, None, ResultRequest(checksum=True))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if outcome.status != "ok" or outcome.checksums["checksum"]["row_count"] != rows:
        raise SystemExit(f"execution failed: {outcome.status} {outcome.error_message}")
    return wall, cpu + _worker_cpu(worker.pid) - cpu_worker, worker.bytes_received - sent


def _load_cost(spec: EngineSpec, runtime_root: Path | None, work: Path) -> tuple[float, float]:
    """Wall and CPU seconds a fresh worker spends on its first hashed result beyond a warm
    worker's time for the same result (import, kernels)."""
    runtime = ensure_runtime(spec, runtime_root)
    extra_wall, extra_cpu = [], []
    for i in range(3):
        with EngineWorker(spec, runtime, work / f"cold{i}", [], 0, 0) as worker:
            first = _one(worker, 1000)
            second = _one(worker, 1000)
            if not worker.hashing_loaded():
                raise SystemExit("the worker did not load hashing")
        extra_wall.append(first[0] - second[0])
        extra_cpu.append(first[1] - second[1])
    return statistics.median(extra_wall), statistics.median(extra_cpu)


def main() -> None:
    """Measure both ways for each size and print the table and the break-even size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="10000,100000,1000000")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--engine", default="2.0.1", help="DuckDB release of the worker")
    args = parser.parse_args()
    sizes = [int(size) for size in args.rows.split(",")]
    spec = EngineSpec(
        name="bench", adapter="duckdb", requirements=(f"duckdb=={args.engine}",), settings={}
    )
    runtime = ensure_runtime(spec)
    work = Path(tempfile.mkdtemp(prefix="qsim-bench-hashing-"))
    top = max(sizes) + 1
    with (
        EngineWorker(spec, runtime, work / "parent", [], top, 1 << 62) as in_parent,
        EngineWorker(spec, runtime, work / "worker", [], 0, 0) as in_worker,
    ):
        _one(in_parent, 1000), _one(in_worker, 1000)  # warm both: kernels loaded
        print("rows       way     wall ms   cpu ms   bytes")
        per_row_saving = []
        for rows in sizes:
            measured: dict[str, list[tuple[float, float, int]]] = {"parent": [], "worker": []}
            for _ in range(args.rounds):
                measured["parent"].append(_one(in_parent, rows))
                measured["worker"].append(_one(in_worker, rows))
            cpu = {}
            for way, runs in measured.items():
                wall = statistics.median(r[0] for r in runs) * 1000
                cpu[way] = statistics.median(r[1] for r in runs) * 1000
                print(f"{rows:<10} {way:<7} {wall:8.1f} {cpu[way]:8.1f}   {runs[0][2]:,}")
            per_row_saving.append((cpu["parent"] - cpu["worker"]) / 1000 / rows)
    load_wall, load_cpu = _load_cost(spec, None, work)
    saving = statistics.median(per_row_saving)
    load = f"{load_wall * 1000:.0f} ms wall, {load_cpu * 1000:.0f} ms CPU"
    print(f"one-off load in a fresh worker: {load}")
    if saving > 0:
        print(
            f"CPU saved per row hashed in the worker: {saving * 1e9:.0f} ns; "
            f"load paid back from {load_cpu / saving:,.0f} rows"
        )
    else:
        print(f"hashing in the worker saves no CPU per row ({saving * 1e9:.0f} ns)")


if __name__ == "__main__":
    main()
