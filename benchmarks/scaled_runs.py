"""What the scale benchmarks share: a run config over a synthetic world of a given scale
and workload size, one measured run (its phases, load figures, per-write overhead), and
the peak memory of the driver, the tenant sessions and the engine workers it started.

Used by ``bench_cost_growth`` and ``bench_many_queries``.
"""

from __future__ import annotations

import copy
import json
import os
import resource
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulator.config import RunConfig, load_config, parse_config
from simulator.engines.read_only_cache import ReadOnlyCache, uses_cache
from simulator.engines.runtime import default_root, ensure_runtime
from simulator.jobs.run_report import run_and_report
from simulator.results.layout import RUN_FILE, RecordKind
from simulator.results.reader import read_records
from simulator.runner.inputs import resolve_generation, resolve_workload

SAMPLE_EVERY_S = 0.25


def scaled_config(
    base: str,
    work: Path,
    *,
    scale: float,
    queries: int,
    tenants: int,
    concurrency: int,
    read_only_tables: str = "cache",
    log_rows: int = 0,
) -> RunConfig:
    """``base`` (a config file) over a world of ``scale`` and a workload of ``queries``
    sampled statements, everything under ``work`` (store, workloads, results, the
    read-only cache), no perf phase, no bank; DuckDB engines read read-only tables as
    ``read_only_tables`` says."""
    data = copy.deepcopy(load_config(base).raw)
    name = f"bench-s{scale:g}"
    data["run"] = {**data.get("run", {}), "results_dir": str(work / "results"), "bank": False}
    data["dataset"] = {
        "generation": name,
        "store": str(work / "store"),
        "read_only_cache": str(work / "read-only-cache"),
        "generate": {"name": name, "scale": scale, "seed": 42, "tenants": tenants},
    }
    workload = data.setdefault("workload", {})
    workload.update(name=f"{name}-q{queries}", dir=str(work / "workloads"))
    workload["synth"] = {"rows": log_rows or max(20000, queries * 20), "seed": 7}
    workload["sample"] = {**workload.get("sample", {}), "budget": queries}
    data["perf"] = {**data.get("perf", {}), "enabled": False}
    data["load"] = {**data.get("load", {}), "concurrency": concurrency}
    for engine in data["engines"].values():
        if engine.get("adapter") == "duckdb":
            engine["settings"] = {
                **engine.get("settings", {}),
                "read_only_tables": read_only_tables,
            }
    return parse_config(data, base)


def build_inputs(cfg: RunConfig) -> tuple[float, int, int]:
    """Generate the world and sample the workload when missing (outside any clock);
    returns (seconds it took, rows in the world, statements in the workload)."""
    began = time.perf_counter()
    generation = resolve_generation(cfg)
    workload = resolve_workload(cfg, generation)
    return time.perf_counter() - began, generation.row_count(), len(workload.queries)


def warm_cache(cfg: RunConfig) -> float:
    """Build every read-only cache entry ``cfg``'s runs will use; returns the seconds."""
    began = time.perf_counter()
    generation = resolve_generation(cfg)
    cache = ReadOnlyCache(Path(cfg.dataset.read_only_cache))
    for spec in cfg.engines.values():
        if uses_cache(spec):
            runtime = ensure_runtime(spec, default_root())
            for tenant in generation.tenants():
                tables = generation.table_specs(tenant)
                cache.acquire(spec, runtime, generation.id, tenant, tables).release()
    return time.perf_counter() - began


class ProcessTreeMemory:
    """Samples the RSS of this process and its descendants until stopped: the peak of the
    driver (this process), of one tenant session (Ray ``TenantSession`` actors), of one
    engine worker (``worker_main``), and of all engine workers together."""

    def __init__(self) -> None:
        self.peak_mb = {"driver": 0.0, "session": 0.0, "worker": 0.0, "workers_total": 0.0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> ProcessTreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(SAMPLE_EVERY_S):
            self.sample()

    def sample(self) -> None:
        """One sample of every process under this one."""
        children: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                parent = _ppid(int(entry))
                if parent is not None:
                    children.setdefault(parent, []).append(int(entry))
        workers_total = 0.0
        pending = [os.getpid()]
        while pending:
            pid = pending.pop()
            pending.extend(children.get(pid, []))
            rss = _rss_mb(pid)
            kind = "driver" if pid == os.getpid() else _kind(pid)
            if kind == "worker":
                workers_total += rss
            if kind:
                self.peak_mb[kind] = max(self.peak_mb[kind], rss)
        self.peak_mb["workers_total"] = max(self.peak_mb["workers_total"], workers_total)


def _ppid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, IndexError, ValueError):
        return 0.0


def _kind(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            command = handle.read().replace(b"\0", b" ")
    except OSError:
        return ""
    if b"worker_main" in command:
        return "worker"
    if b"TenantSession" in command:
        return "session"
    return ""


@dataclass
class RunFigures:
    """One measured run."""

    total_s: float
    timings: dict[str, float]
    load: dict[str, Any]
    write_overhead_ms: float | None
    write_engine_ms: float | None
    writes: int
    select_cpu_ms: float | None = None
    peak_mb: dict[str, float] = field(default_factory=dict)
    cache_uses: list[str] = field(default_factory=list)

    @property
    def per_s(self) -> float:
        """Load-phase executions per second."""
        return self.load["executions"] / self.load["wall_s"] if self.load["wall_s"] else 0.0


def measure_run(cfg: RunConfig, run_id: str, **options: Any) -> RunFigures:
    """Run ``cfg`` (``options`` as for ``run_and_report``, e.g. ``tenants``) and read its
    figures back from the run folder."""
    with ProcessTreeMemory() as memory:
        began = time.perf_counter()
        outcome = run_and_report(cfg, run_id=run_id, **options)
        total = time.perf_counter() - began
    meta = json.loads((outcome.run_dir / RUN_FILE).read_text())
    overheads, engine, select_cpu = [], [], []
    for record in read_records(outcome.run_dir, RecordKind.EXECUTIONS):
        if record["phase"] != "load" or record.get("status") != "ok":
            continue
        if record.get("writes"):
            qsim_ms = (record["finished_at"] - record["started_at"]) * 1000
            overheads.append(qsim_ms - record["wall_ms"])
            engine.append(record["wall_ms"])
        elif record.get("result") and record.get("cpu_ms") is not None:
            select_cpu.append(record["cpu_ms"])
    memory.peak_mb["driver_lifetime"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return RunFigures(
        total_s=total,
        timings=meta.get("timings") or {},
        load=meta["load"],
        write_overhead_ms=statistics.median(overheads) if overheads else None,
        write_engine_ms=statistics.median(engine) if engine else None,
        writes=len(overheads),
        select_cpu_ms=statistics.median(select_cpu) if select_cpu else None,
        peak_mb=memory.peak_mb,
        cache_uses=sorted(
            use
            for session in (meta.get("sessions") or {}).values()
            for use in (session.get("read_only_cache") or {}).values()
        ),
    )


def ratio(value: float | None, reference: float | None) -> str:
    """``value / reference`` as ``1.23x`` ("-" when either is missing or zero)."""
    if not value or not reference:
        return "-"
    return f"{value / reference:.2f}x"
