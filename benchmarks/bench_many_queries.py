"""Throughput on a long workload: executions per second and harness efficiency.

    .venv/bin/python -m benchmarks.bench_many_queries [--scale 1] [--queries 10000]
        [--concurrency 2] [--work DIR]

Generates a synthetic world of ``--scale`` (1 = 10M rows, outside every clock) and samples
a ``--queries``-statement workload from it, then measures, in the same run:

* ``qsim run`` of the whole workload (demo engines: DuckDB 1.1.3 vs 2.0.1, read-only
  tables from a warm read-only cache, no perf phase, no bank) at ``--concurrency``:
  load-phase executions/s, harness efficiency (engine busy / (load wall x slots)), total
  run time and session start;
* the reference: the first tenant's statements alone, once through ``qsim run`` at
  concurrency 1 and once sent straight to EngineWorkers of the same runtimes in log
  order (the baseline's SELECTs ``determinism_runs`` times, as qsim does), with no Ray,
  checksums or records: executions/s of each and their ratio (the harness's share).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.scaled_runs import build_inputs, measure_run, ratio, scaled_config, warm_cache
from simulator.config import RunConfig
from simulator.datasets.workspace import make_workspace
from simulator.engines.runtime import default_root, ensure_runtime
from simulator.engines.worker import EngineWorker
from simulator.runner.inputs import resolve_generation, resolve_workload
from simulator.runner.prepare import build_statements, by_tenant, writable_tables


def bare_loop(cfg: RunConfig, tenant: str, folder: Path) -> tuple[float, int]:
    """(executions/s, executions) of ``tenant``'s statements sent straight to workers."""
    generation = resolve_generation(cfg)
    queries = by_tenant(resolve_workload(cfg, generation).queries)[tenant]
    statements = build_statements(cfg, generation, tenant, queries)
    writable = set(writable_tables(generation, tenant, queries))
    engines = [cfg.run.baseline, *cfg.run.candidates]
    workers = {}
    for name in engines:
        spec = cfg.engines[name]
        workspace = folder / name
        tables = make_workspace(generation, tenant, workspace, writable)
        worker = EngineWorker(spec, ensure_runtime(spec, default_root()), workspace / "e", tables)
        worker.start()
        workers[name] = worker
    executions = 0
    began = time.perf_counter()
    for index in range(len(queries)):
        for name in engines:
            statement = statements[name][index]
            if statement.sql is None:
                continue
            runs = cfg.compare.determinism_runs
            repeats = runs if name == cfg.run.baseline and statement.kind == "select" else 1
            for _ in range(repeats):
                workers[name].execute(statement.sql, cfg.load.timeout_s, lambda batch: None)
                executions += 1
    elapsed = time.perf_counter() - began
    for worker in workers.values():
        worker.close()
    return executions / elapsed, executions


def main() -> None:
    """Measure and print the figures with their reference."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="configs/demo.toml")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--queries", type=int, default=10000)
    parser.add_argument("--tenants", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--work", type=Path, help="keep the world and cache here (reused)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="qsim-bench-many-"))
    try:
        cfg = scaled_config(
            args.config,
            work,
            scale=args.scale,
            queries=args.queries,
            tenants=args.tenants,
            concurrency=args.concurrency,
        )
        seconds, rows, statements = build_inputs(cfg)
        print(f"world: {rows:,} rows, {statements} statements (ready in {seconds:.1f} s)")
        tenant = sorted({q.tenant for q in resolve_workload(cfg, resolve_generation(cfg)).queries})[
            0
        ]
        # Warm the read-only cache first: the figures are those of every later run.
        print(f"read-only cache built in {warm_cache(cfg):.1f} s")
        whole = measure_run(cfg, f"many-all-{time.strftime('%H%M%S')}")
        one_cfg = scaled_config(
            args.config,
            work,
            scale=args.scale,
            queries=args.queries,
            tenants=args.tenants,
            concurrency=1,
        )
        one = measure_run(one_cfg, f"many-{tenant}-{time.strftime('%H%M%S')}", tenants=[tenant])
        bare_per_s, bare_executions = bare_loop(cfg, tenant, work / "bare")
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print(
        f"whole workload at concurrency {args.concurrency}: {whole.load['executions']} "
        f"executions in {whole.load['wall_s']:.1f} s = {whole.per_s:.1f} executions/s, "
        f"efficiency {whole.load['efficiency']:.2f}; run {whole.total_s:.1f} s, session start "
        f"{whole.timings.get('sessions_start', 0):.1f} s; peak RSS driver "
        f"{whole.peak_mb['driver']:.0f} MB, session {whole.peak_mb['session']:.0f} MB, worker "
        f"{whole.peak_mb['worker']:.0f} MB"
    )
    print(
        f"tenant {tenant} at concurrency 1: qsim {one.per_s:.1f} executions/s "
        f"({one.load['executions']} executions, efficiency {one.load['efficiency']:.2f}) vs "
        f"bare loop {bare_per_s:.1f} executions/s ({bare_executions} executions) = "
        f"{ratio(one.per_s, bare_per_s)}"
    )
    print(f"whole workload vs one tenant at concurrency 1: {ratio(whole.per_s, one.per_s)}")


if __name__ == "__main__":
    main()
