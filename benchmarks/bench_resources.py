"""Cost of measuring resources per execution, and how wall and CPU time spread, same run.

    .venv/bin/python -m benchmarks.bench_resources [--rounds 3000] [--runs 150]

Prints, each with its reference measured here:

* Overhead: the worker's side of a ``SELECT 1`` round trip (``Worker.stream`` over a real
  DuckDBAdapter, frames written to /dev/null), in CPU time per round trip, with the
  resource measurement (process_time around the engine, the VmHWM reset and read) against
  the same loop with it switched off, alternating call by call so drift hits both alike;
  then what it adds as a share of the full round trip through an EngineWorker (parent-side
  wall time). Target: under 5% of that round trip.
* Spread: a ~3 ms statement run ``--runs`` times through a real worker, on the machine as
  it is and with two CPU-burning processes started by this script (both cores busy): for
  wall and CPU time, the spread (IQR / median) and the 95% range of the A/A log-ratio of
  consecutive runs, i.e. the noise a paired verdict has to see through.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import statistics
import tempfile
import time
import types
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import duckdb

from simulator.config import EngineSpec
from simulator.engines import worker_main
from simulator.engines.adapters.duckdb import DuckDBAdapter
from simulator.engines.protocol import FrameReader, FrameWriter
from simulator.engines.runtime import default_root, ensure_runtime
from simulator.engines.worker import EngineWorker

TARGET_OVERHEAD = 0.05
# About 3 ms on one thread of this machine.
THREE_MS_SQL = "SELECT sum(hash(x)) FROM range(150000) t(x)"


class _NoPeak:
    """Stands in for PeakRss on the unmeasured side."""

    def reset(self) -> str:
        return ""


def _hooks(worker: worker_main.Worker) -> tuple[dict[str, object], dict[str, object]]:
    """worker_main's measurement hooks as they are, and replaced by no-ops."""
    names = ("_resources", "time")
    measured = {name: getattr(worker_main, name) for name in names}
    measured["peak_rss"] = worker.peak_rss
    unmeasured = {
        "_resources": lambda cpu_s, peak_rss, rss_source: {},
        "time": types.SimpleNamespace(perf_counter=time.perf_counter, process_time=lambda: 0.0),
        "peak_rss": _NoPeak(),
    }
    return measured, unmeasured


def _install(worker: worker_main.Worker, hooks: dict[str, object]) -> None:
    for name, hook in hooks.items():
        setattr(worker if name == "peak_rss" else worker_main, name, hook)


def overhead(adapter: DuckDBAdapter, rounds: int) -> tuple[float, float]:
    """Median CPU microseconds of a worker-side ``SELECT 1`` round trip, (measured,
    unmeasured): the two alternate call by call (ABBA), so drift and neighbours hit both."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    reader_fd, _ = os.pipe()
    worker = worker_main.Worker(FrameReader(reader_fd), FrameWriter(devnull))
    worker.adapter = adapter
    request = {"op": "execute", "sql": "SELECT 1"}
    measured, unmeasured = _hooks(worker)
    samples: dict[bool, list[float]] = {True: [], False: []}
    try:
        for i in range(2 * rounds + 40):
            measure = i % 4 in (0, 3)
            _install(worker, measured if measure else unmeasured)
            began = time.process_time()
            worker.writer.json(worker.handle(request))
            worker.writer.flush()
            if i >= 40:
                samples[measure].append((time.process_time() - began) * 1e6)
    finally:
        _install(worker, measured)
        os.close(devnull)
    return statistics.median(samples[True]), statistics.median(samples[False])


def _burn(stop: multiprocessing.synchronize.Event) -> None:
    while not stop.is_set():
        sum(range(10000))


def spread(run: Callable[[], tuple[float, float]], runs: int) -> dict[str, tuple[float, float]]:
    """Metric -> (IQR / median, 95% range of consecutive A/A ratios as max(hi, 1/lo))."""
    samples = [run() for _ in range(runs)]
    out = {}
    for i, metric in enumerate(("wall", "cpu")):
        values = [s[i] for s in samples]
        q1, q2, q3 = statistics.quantiles(values, n=4)
        logs = sorted(math.log(b / a) for a, b in zip(values[::2], values[1::2], strict=False))
        lo, hi = logs[int(0.025 * len(logs))], logs[int(0.975 * len(logs)) - 1]
        out[metric] = ((q3 - q1) / q2, math.exp(max(hi, -lo)))
    return out


def main() -> None:
    """Run both benchmarks and print figures with their in-run references."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=150)
    args = parser.parse_args()

    version = duckdb.__version__
    spec = EngineSpec(name="bench", adapter="duckdb", requirements=(f"duckdb=={version}",))
    runtime = ensure_runtime(spec, default_root())
    print(f"duckdb {version}; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    settings = {"threads": 1}
    with tempfile.TemporaryDirectory(prefix="qsim-bench-") as tmp:
        local = DuckDBAdapter()
        Path(tmp, "local").mkdir()
        local.open(str(Path(tmp, "local")), settings)
        local.load_tables([])
        local.seal()
        with_us, without_us = overhead(local, args.rounds)
        with EngineWorker(replace(spec, settings=settings), runtime, Path(tmp, "w"), []) as w:
            trip = []
            for _ in range(200):
                began = time.perf_counter()
                w.execute("SELECT 1", 10)
                trip.append((time.perf_counter() - began) * 1e6)
            rss_source = w.execute("SELECT 1", 10).rss_source
            full_us = statistics.median(trip)
            share = (with_us - without_us) / full_us
            print(
                f"SELECT 1, worker side, CPU per round trip: measured {with_us:.1f} us, "
                f"unmeasured {without_us:.1f} us, ratio {with_us / without_us:.3f} "
                f"(+{with_us - without_us:.1f} us, rss_source {rss_source})"
            )
            print(
                f"SELECT 1 full round trip through the worker: {full_us:.0f} us wall, of which "
                f"the measurement is {share:.1%} (target < {TARGET_OVERHEAD:.0%}: "
                f"{'met' if share < TARGET_OVERHEAD else 'MISSED'})"
            )

            def run() -> tuple[float, float]:
                outcome = w.execute(THREE_MS_SQL, 30)
                return outcome.wall_ms, outcome.cpu_ms or 0.0

            for _ in range(10):
                run()
            quiet = spread(run, args.runs)
            stop = multiprocessing.Event()
            burners = [multiprocessing.Process(target=_burn, args=(stop,)) for _ in range(2)]
            for burner in burners:
                burner.start()
            try:
                busy = spread(run, args.runs)
            finally:
                stop.set()
                for burner in burners:
                    burner.join()
    for label, figures in (("machine as is", quiet), ("+2 CPU burners", busy)):
        wall, cpu = figures["wall"], figures["cpu"]
        print(
            f"~3 ms statement, {args.runs} runs, {label}: spread (IQR/median) wall "
            f"{wall[0]:.3f} cpu {cpu[0]:.3f}; A/A pair ratio 95% range x{wall[1]:.2f} wall, "
            f"x{cpu[1]:.2f} cpu"
        )


if __name__ == "__main__":
    main()
