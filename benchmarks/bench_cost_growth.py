"""Cost growth with the data: the same workload on synthetic worlds of growing scale.

    .venv/bin/python -m benchmarks.bench_cost_growth [--scales 0.01,0.1,1,10] [--queries 300]
        [--modes cache,copy] [--work DIR] [--sessions-only]

For each scale (1 = 10M rows, 10 = 100M rows; generated here, outside every clock, and
kept in ``--work`` when given) and mode it first times ``TenantSession.start`` of the
largest tenant in this process (no Ray, median of 3 fresh sessions, warm cache): the
session-start cost without Ray's scheduling noise. Then the demo config's engines
(DuckDB 1.1.3 vs 2.0.1) replay a ``--queries``-statement workload sampled from the same
synthetic log recipe, without the perf phase or the bank, once per mode:

* ``cache`` twice: the first run builds the read-only cache entries (``cache-cold``), the
  second reuses them (``cache-warm``), as every later run of a nightly pipeline does;
* ``copy``: every engine workspace copies every table at session start (the old default).

Prints per run: total run time, session start, load phase, harness efficiency (engine
busy time / (load wall x slots)), median per-write overhead (qsim's time for a write
execution minus the engine's), the peak RSS of the driver, of one tenant session and of
one engine worker and all of them together (sampled every 0.25 s); then each figure as a
ratio to the smallest scale (same mode), the engine's CPU time per SELECT with the warm
cache against copies (both engines read the same way in each run; this checks that the
attached entry costs queries nothing), and session start of copy vs warm cache.
The goal (issue 14): session start and per-write overhead flat in the data size.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.scaled_runs import RunFigures, build_inputs, measure_run, ratio, scaled_config
from simulator.config import RunConfig
from simulator.engines.runtime import default_root
from simulator.runner.inputs import resolve_generation
from simulator.runner.session import TenantSession

RUNS = {"cache": ("cache-cold", "cache-warm"), "copy": ("copy",)}
SESSION_ROUNDS = 3


def session_start_s(cfg: RunConfig, folder: Path, label: str) -> float:
    """Seconds ``TenantSession.start`` takes for the largest tenant with ``cfg``'s engines,
    in this process (no Ray): median of ``SESSION_ROUNDS`` fresh sessions (the first
    builds the cache entries when ``cfg`` uses the cache; it is not counted)."""
    generation = resolve_generation(cfg)
    tenant = max(generation.tenants(), key=lambda t: len(generation.files(t, "events")))
    times = []
    for attempt in range(SESSION_ROUNDS + 1):
        session = TenantSession(
            run_id=f"session-{label}-{attempt}",
            tenant=tenant,
            workspace_root=str(folder / "sessions" / f"{label}-{attempt}"),
            generation_store=str(generation.path.parent.resolve()),
            generation_id=generation.id,
            engines=list(cfg.engines.values()),
            baseline=cfg.run.baseline,
            runtimes_root=str(default_root()),
            statements={name: [] for name in cfg.engines},
            writable=[],
            timeout_s=cfg.load.timeout_s,
            keep_result_rows=0,
            determinism_runs=cfg.compare.determinism_runs,
            read_only_cache=cfg.dataset.read_only_cache,
        )
        began = time.perf_counter()
        try:
            session.start()
        finally:
            session.close()
        if attempt:
            times.append(time.perf_counter() - began)
    return sorted(times)[len(times) // 2]


def _line(scale: float, label: str, run: RunFigures) -> str:
    peak = run.peak_mb
    overhead = f"{run.write_overhead_ms:.0f}" if run.write_overhead_ms is not None else "-"
    engine = f"{run.write_engine_ms:.0f}" if run.write_engine_ms is not None else "-"
    return (
        f"scale {scale:<5g} {label:<10} total {run.total_s:7.1f} s  session start "
        f"{run.timings.get('sessions_start', 0):6.1f} s  load {run.load['wall_s']:7.1f} s  "
        f"efficiency {run.load['efficiency']:.2f}  write overhead {overhead} ms (engine "
        f"{engine} ms, {run.writes} writes)  peak RSS driver {peak['driver']:.0f} MB, "
        f"session {peak['session']:.0f} MB, worker {peak['worker']:.0f} MB, workers "
        f"{peak['workers_total']:.0f} MB"
    )


def main() -> None:
    """Measure every scale and mode, then print the figures and their ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="configs/demo.toml")
    parser.add_argument("--scales", default="0.01,0.1,1,10", help="comma-separated scales")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--tenants", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--modes", default="cache,copy", help="cache, copy or both")
    parser.add_argument("--work", type=Path, help="keep worlds and cache here (reused)")
    parser.add_argument(
        "--sessions-only",
        action="store_true",
        help="only the in-process session start of the largest tenant (no qsim runs)",
    )
    args = parser.parse_args()
    scales = [float(s) for s in args.scales.split(",")]
    modes = [m for m in args.modes.split(",") if m]
    work = args.work or Path(tempfile.mkdtemp(prefix="qsim-bench-growth-"))
    figures: dict[tuple[float, str], RunFigures] = {}
    sessions: dict[tuple[float, str], float] = {}
    try:
        for scale in scales:
            folder = work / f"scale-{scale:g}"
            configs = {
                mode: scaled_config(
                    args.config,
                    folder,
                    scale=scale,
                    queries=args.queries,
                    tenants=args.tenants,
                    concurrency=args.concurrency,
                    read_only_tables=mode,
                )
                for mode in modes
            }
            for mode, cfg in configs.items():
                build_inputs(cfg)
                sessions[(scale, mode)] = session_start_s(cfg, folder, mode)
                print(
                    f"scale {scale:<5g} {mode:<10} session start of the largest tenant, in "
                    f"process: {sessions[(scale, mode)]:.2f} s",
                    flush=True,
                )
            for mode in [] if args.sessions_only else modes:
                if mode == "cache":
                    shutil.rmtree(folder / "read-only-cache", ignore_errors=True)
                for label in RUNS[mode]:
                    cfg = configs[mode]
                    seconds, rows, statements = build_inputs(cfg)
                    if label == RUNS[modes[0]][0]:
                        print(
                            f"scale {scale:g}: {rows:,} rows, {statements} statements "
                            f"(inputs ready in {seconds:.1f} s)",
                            flush=True,
                        )
                    run = measure_run(cfg, f"growth-{scale:g}-{label}-{time.strftime('%H%M%S')}")
                    figures[(scale, label)] = run
                    print(_line(scale, label, run), flush=True)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)

    print("\nsession start of the largest tenant in process, ratio to the smallest scale:")
    for (scale, mode), seconds in sessions.items():
        print(
            f"scale {scale:<5g} {mode:<10} {seconds:.2f} s = "
            f"{ratio(seconds, sessions[(scales[0], mode)])}"
        )
    if not figures:
        return
    print("\nratios to the smallest scale (same run kind):")
    first = scales[0]
    for (scale, label), run in figures.items():
        ref = figures[(first, label)]
        print(
            f"scale {scale:<5g} {label:<10} total {ratio(run.total_s, ref.total_s)}  session "
            f"start {ratio(run.timings.get('sessions_start'), ref.timings.get('sessions_start'))}"
            f"  load {ratio(run.load['wall_s'], ref.load['wall_s'])}  write overhead "
            f"{ratio(run.write_overhead_ms, ref.write_overhead_ms)}  peak worker "
            f"{ratio(run.peak_mb['worker'], ref.peak_mb['worker'])}"
        )
    if "cache" in modes and "copy" in modes:
        print("\nengine CPU per SELECT (median), warm cache / copy (same scale; fairness):")
        for scale in scales:
            warm = figures[(scale, "cache-warm")].select_cpu_ms
            copied = figures[(scale, "copy")].select_cpu_ms
            print(f"scale {scale:<5g} {warm:.3f} ms / {copied:.3f} ms = {ratio(warm, copied)}")
        print("\nsession start, copy / warm cache (same scale):")
        for scale in scales:
            copy_s = figures[(scale, "copy")].timings.get("sessions_start")
            warm_s = figures[(scale, "cache-warm")].timings.get("sessions_start")
            cold_s = figures[(scale, "cache-cold")].timings.get("sessions_start")
            print(
                f"scale {scale:<5g} copy {copy_s:.1f} s / warm cache {warm_s:.1f} s = "
                f"{ratio(copy_s, warm_s)}  (cold cache {cold_s:.1f} s)"
            )


if __name__ == "__main__":
    main()
