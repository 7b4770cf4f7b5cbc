"""Bytes that cross the worker protocol (worker -> qsim) on the demo workload.

    .venv/bin/python -m benchmarks.bench_protocol_bytes [--tenants 8] [--work DIR]

Builds (or reuses, under ``--work``) the demo generation and workload of
``configs/demo.toml`` and replays each tenant's statements through a real
``TenantSession`` (DuckDB 1.1.3 baseline, 2.0.1 candidate, no Ray) exactly as the load
phase does: every statement on both engines in log order, the baseline's determinism
repeat and its unlimited run of LIMIT queries, write verification; then one performance
repetition (``checksum=False``) of every SELECT on both engines. Counts every frame the
parent reads from the workers (header and payload) by wrapping ``FrameReader.read``, so
the same script measures any version of qsim: run it on the code before and after a change
and compare. Prints totals per phase, bytes per execution, and what the protocol carried
per kind of frame.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from simulator.config import load_config
from simulator.engines import protocol
from simulator.runner.inputs import resolve_generation, resolve_workload
from simulator.runner.prepare import build_statements, by_tenant, writable_tables
from simulator.runner.session import TenantSession

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "demo.toml"
BY_KIND: Counter[str] = Counter()


def _count_frames() -> None:
    """Wrap ``FrameReader.read`` so every frame the parent reads is counted by kind."""
    original = protocol.FrameReader.read

    def read(self: Any, deadline: float | None = None) -> tuple[int, Any]:
        kind, payload = original(self, deadline)
        BY_KIND[chr(kind)] += protocol.HEADER.size + len(payload)
        return kind, payload

    protocol.FrameReader.read = read  # type: ignore[method-assign]


def _total() -> int:
    return sum(BY_KIND.values())


def main() -> None:
    """Replay the demo workload and print the protocol bytes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=8, help="replay the first N tenants")
    parser.add_argument("--work", default="", help="where the demo inputs are built/reused")
    args = parser.parse_args()
    _count_frames()
    work = Path(args.work or tempfile.mkdtemp(prefix="qsim-bench-protocol-"))
    cfg = load_config(CONFIG)
    cfg = dataclasses.replace(
        cfg,
        dataset=dataclasses.replace(cfg.dataset, store=str(work / "store")),
        workload=dataclasses.replace(cfg.workload, dir=str(work / "workloads")),
    )
    generation = resolve_generation(cfg)
    workload = resolve_workload(cfg, generation)
    engines = [cfg.engines[name] for name in (cfg.run.baseline, *cfg.run.candidates)]
    phases: Counter[str] = Counter()
    executions: Counter[str] = Counter()
    began = time.perf_counter()
    for tenant, queries in sorted(by_tenant(list(workload.queries)).items())[: args.tenants]:
        statements = build_statements(cfg, generation, tenant, queries)
        with tempfile.TemporaryDirectory(prefix="qsim-bench-ws-") as workspaces:
            session = TenantSession(
                run_id="bench",
                tenant=tenant,
                workspace_root=workspaces,
                generation_store=str(generation.path.parent),
                generation_id=generation.id,
                engines=engines,
                baseline=cfg.run.baseline,
                runtimes_root="",
                statements=statements,
                writable=writable_tables(generation, tenant, queries),
                timeout_s=cfg.load.timeout_s,
                keep_result_rows=cfg.compare.keep_result_rows,
                determinism_runs=cfg.compare.determinism_runs,
                unlimited_hash_rows=cfg.compare.unlimited_hash_rows,
            )
            session.start()
            try:
                before = _total()
                for engine in (spec.name for spec in engines):
                    for index in range(len(queries)):
                        executions["load"] += len(session.run(engine, index, 1))
                phases["load"] += _total() - before
                before = _total()
                order = [spec.name for spec in engines]
                for index, query in enumerate(queries):
                    if query.kind == "select":
                        executions["perf"] += len(session.perf_round(index, order, 0))
                phases["perf"] += _total() - before
            finally:
                session.close()
    print(f"demo workload, {args.tenants} tenants, {time.perf_counter() - began:.0f} s")
    for phase in ("load", "perf"):
        count = executions[phase]
        print(
            f"{phase:5} executions {count:6}  bytes {phases[phase]:13,}  "
            f"per execution {phases[phase] / max(count, 1):11,.0f}"
        )
    kinds = "  ".join(f"{kind}:{size:,}" for kind, size in sorted(BY_KIND.items()))
    print(f"all frames read (start, warm-up and control included): {_total():,}  ({kinds})")


if __name__ == "__main__":
    main()
