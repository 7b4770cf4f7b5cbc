"""What reading read-only tables from the cache costs against workspace copies, per engine.

    .venv/bin/python -m benchmarks.bench_read_only_cache STORE [--rounds 2]

For the largest tenant of the (first) generation in ``STORE`` (e.g. one
``bench_cost_growth --work`` made) and each demo DuckDB release, alternating copy and
warm-cache workers over fresh workspaces, ``--rounds`` times: the worker's start (open,
load, seal) and the engine's CPU time of four query shapes, the first run after start
(cold blocks) apart from the steady state (median of 40 after 5 more), and of a small
INSERT. Prints cache / copy per figure: the reference is the copy, measured in the same
run. Both engines of a comparison read the same way, so these are absolute costs, not a
bias between releases.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from simulator.config import EngineSpec
from simulator.datasets.store import GenerationStore
from simulator.datasets.workspace import make_workspace
from simulator.engines.read_only_cache import ReadOnlyCache
from simulator.engines.runtime import ensure_runtime
from simulator.engines.worker import EngineWorker

RELEASES = ("1.1.3", "2.0.1")
QUERIES = {
    "groupby": "SELECT country, count(*) FROM customers GROUP BY country",
    "join": "SELECT c.country, sum(o.total) FROM orders o JOIN customers c USING (customer_id) "
    "GROUP BY 1",
    "point": "SELECT * FROM customers WHERE customer_id = 7",
    "scan": "SELECT event_type, count(*) FROM events GROUP BY 1",
}
STEADY_RUNS = 40


def measure(worker: EngineWorker, figures: dict[str, list[float]]) -> None:
    """Append one worker's query and insert CPU times to ``figures``."""
    ignore = lambda batch: None  # noqa: E731
    worker.execute("CREATE TABLE stage AS SELECT * FROM events LIMIT 1000", 60, None)
    for name, sql in QUERIES.items():
        figures.setdefault(f"{name} first", []).append(worker.execute(sql, 60, ignore).cpu_ms)
        for _ in range(5):
            worker.execute(sql, 60, ignore)
        for _ in range(STEADY_RUNS):
            figures.setdefault(name, []).append(worker.execute(sql, 60, ignore).cpu_ms)
    for _ in range(20):
        outcome = worker.execute("INSERT INTO stage SELECT * FROM events LIMIT 100", 60, None)
        figures.setdefault("insert", []).append(outcome.cpu_ms)


def main() -> None:
    """Measure both modes on each release and print cache / copy."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("store", type=Path)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    generation = GenerationStore(args.store.resolve()).list()[0]
    tenant = max(generation.tenants(), key=lambda t: len(generation.files(t, "events")))
    scratch = Path(tempfile.mkdtemp(prefix="qsim-bench-cache-"))
    try:
        for release in RELEASES:
            spec = EngineSpec(
                name=release, adapter="duckdb", requirements=(f"duckdb=={release}",),
                settings={"threads": 1},
            )  # fmt: skip
            runtime = ensure_runtime(spec)
            cache = ReadOnlyCache(scratch / "cache")
            tables = generation.table_specs(tenant)
            cache.acquire(spec, runtime, generation.id, tenant, tables).release()
            figures: dict[str, dict[str, list[float]]] = {"copy": {}, "cache": {}}
            for round_ in range(args.rounds):
                for mode in ("copy", "cache"):
                    workspace = scratch / f"{release}-{mode}-{round_}"
                    specs = make_workspace(generation, tenant, workspace, set())
                    lease = cache.acquire(spec, runtime, generation.id, tenant, tables)
                    settings = {**spec.settings, "read_only_tables": "copy"}
                    engine = lease.attach_settings(spec) if mode == "cache" else replace(
                        spec, settings=settings
                    )  # fmt: skip
                    worker = EngineWorker(engine, runtime, workspace / "engine", specs)
                    began = time.perf_counter()
                    worker.start()
                    start_ms = (time.perf_counter() - began) * 1000
                    figures[mode].setdefault("worker start (wall)", []).append(start_ms)
                    try:
                        measure(worker, figures[mode])
                    finally:
                        worker.close()
                        lease.release()
            print(f"DuckDB {release}, tenant {tenant} of {generation.name}:")
            for name in figures["copy"]:
                copied = statistics.median(figures["copy"][name])
                cached = statistics.median(figures["cache"][name])
                print(
                    f"  {name:<20} copy {copied:9.3f} ms  cache {cached:9.3f} ms  "
                    f"cache / copy {cached / copied:.2f}x"
                )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
