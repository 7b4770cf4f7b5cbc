"""Start a new run: resolve its inputs, create the run folder with its ``run.json`` and
sampled workload, and return the :class:`~simulator.runner.context.RunContext`."""

from __future__ import annotations

import dataclasses
import os
import platform
import secrets
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from simulator import __version__
from simulator.config import RunConfig
from simulator.engines.runtime import default_root, ensure_runtime
from simulator.results.exit_codes import EXIT_INCOMPLETE, EXIT_INTERRUPTED
from simulator.results.layout import QUERIES_FILE
from simulator.results.meta import EngineMeta, HostMeta, RunMeta, RunStatus
from simulator.results.store import RunStore
from simulator.runner.context import RunContext
from simulator.runner.inputs import resolve_generation, resolve_workload
from simulator.runner.prepare import by_tenant, check_tenants, select_queries, write_queries


def new_run_id(name: str) -> str:
    """``<name>-<UTC timestamp>-<random>``: sortable by time, unique across hosts."""
    return f"{name}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(2)}"


def now_iso() -> str:
    """The current UTC time as run.json records it."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def start_run(
    cfg: RunConfig,
    run_id: str,
    tenants: list[str] | None,
    query_ids: list[str] | None,
    pattern_ids: list[str] | None,
    fresh_baseline: bool,
) -> RunContext:
    """Resolve the generation and workload, pick the queries, build the runtimes and create
    ``results_dir/run_id``. Refuses (QsimError) missing inputs, zero queries, a tenant
    without tables, an engine that cannot be built, an existing run folder."""
    generation = resolve_generation(cfg)
    workload = resolve_workload(cfg, generation)
    queries = select_queries(workload, tenants, query_ids, pattern_ids)
    check_tenants(generation, queries, workload.name)
    engines = [cfg.run.baseline, *cfg.run.candidates]
    runtimes = {name: ensure_runtime(cfg.engines[name], default_root()) for name in engines}
    by_tenant_queries = by_tenant(queries)
    meta = RunMeta(
        run_id=run_id,
        pipeline=cfg.run.name,
        config_path=str(cfg.path),
        config=cfg.raw,
        generation_id=generation.id,
        generation_name=generation.name,
        workload_id=workload.id,
        workload_name=workload.name,
        baseline=cfg.run.baseline,
        candidates=list(cfg.run.candidates),
        engines={name: _engine_meta(cfg, name, runtimes[name].spec_hash) for name in engines},
        qsim_version=__version__,
        host=HostMeta(
            hostname=socket.gethostname(),
            platform=platform.platform(),
            cpus=os.cpu_count(),
            python=sys.version.split()[0],
        ),
        started_at=now_iso(),
        status=RunStatus.RUNNING,
        queries=len(queries),
        tenants=sorted(by_tenant_queries),
        load=_load_meta(cfg),
        filters={"tenants": tenants, "query_ids": query_ids, "pattern_ids": pattern_ids},
        fresh_baseline=fresh_baseline,
    )
    store = RunStore.create(Path(cfg.run.results_dir).resolve(), run_id, meta)
    try:
        write_queries(store.run_dir / QUERIES_FILE, queries)
    except BaseException as err:
        interrupted = isinstance(err, KeyboardInterrupt)
        store.update_meta(
            status=RunStatus.INTERRUPTED if interrupted else RunStatus.FAILED,
            exit_code=EXIT_INTERRUPTED if interrupted else EXIT_INCOMPLETE,
            finished_at=now_iso(),
        )
        store.close()
        raise
    return RunContext(
        cfg=cfg,
        run_id=run_id,
        store=store,
        generation=generation,
        queries=by_tenant_queries,
        runtimes=runtimes,
        fresh_baseline=fresh_baseline,
    )


def _engine_meta(cfg: RunConfig, name: str, spec_hash: str) -> EngineMeta:
    spec = cfg.engines[name]
    return EngineMeta(
        role="baseline" if name == cfg.run.baseline else "candidate",
        adapter=spec.adapter,
        requirements=list(spec.requirements),
        dialect=spec.dialect,
        settings=spec.settings,
        version="",
        runtime_spec_hash=spec_hash,
        faults_enabled=spec.faults.enabled,
        faults=dataclasses.asdict(spec.faults),
    )


def _load_meta(cfg: RunConfig) -> dict[str, Any]:
    load = cfg.load
    return {
        "mode": load.mode,
        "concurrency": load.concurrency,
        "per_tenant_concurrency": load.per_tenant_concurrency,
        "time_compression": load.time_compression,
        "timeout_s": load.timeout_s,
    }
