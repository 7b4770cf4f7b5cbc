"""Resume an interrupted run.

Rule: a lane (tenant x engine) whose every statement is recorded is kept as is. A lane with
only part of its statements recorded is replayed from its first statement in a fresh
workspace (a workspace's state cannot be trusted after the driver died), after its records
and the verdicts that used them are removed from the record files (atomic rewrite), so each
execution id ends up recorded exactly once. Performance rounds are reused when complete
(see :mod:`simulator.runner.perf`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from simulator.config import RunConfig
from simulator.datasets.object_store import open_store
from simulator.engines.runtime import default_root, ensure_runtime
from simulator.errors import RunError
from simulator.results.execution import Execution, Phase
from simulator.results.layout import QUERIES_FILE, RecordKind
from simulator.results.masking import mask_secrets
from simulator.results.meta import RunStatus
from simulator.results.store import RunStore
from simulator.runner.context import RunContext
from simulator.runner.prepare import by_tenant, read_queries
from simulator.runner.recorder import Recorder
from simulator.runner.schedule import Lane
from simulator.runner.start import now_iso
from simulator.workload.store import WorkloadQuery


def open_for_resume(
    cfg: RunConfig, run_id: str, fresh_baseline: bool, notes: list[str]
) -> RunContext:
    """Reopen ``run_id`` under the config's results folder and mark it running again.

    Refuses (RunError) a missing run, one another process holds, or a config that differs
    from the one the run started with.
    """
    store = RunStore.open_existing(Path(cfg.run.results_dir).resolve(), run_id)
    meta = store.read_meta()
    # run.json keeps the config without its secrets (DSN passwords), so compare it so.
    if meta.config != mask_secrets(cfg.raw):
        store.close()
        raise RunError(
            f"{store.meta_path}: config differs from the one run {run_id} started "
            f"with ({meta.config_path}); resume with that config"
        )
    if meta.status == RunStatus.COMPLETE:
        notes.append("run was already complete; nothing re-executed")
    engines = [cfg.run.baseline, *cfg.run.candidates]
    ctx = RunContext(
        cfg=cfg,
        run_id=run_id,
        store=store,
        generation=open_store(cfg.dataset.store, cfg.dataset.cache).get(meta.generation_id),
        queries=by_tenant(read_queries(store.run_dir / QUERIES_FILE)),
        runtimes={name: ensure_runtime(cfg.engines[name], default_root()) for name in engines},
        fresh_baseline=meta.fresh_baseline or fresh_baseline,
    )
    store.update_meta(
        status=RunStatus.RUNNING,
        exit_code=None,
        finished_at=None,
        resumed_at=[*(meta.resumed_at or []), now_iso()],
    )
    return ctx


def restore_records(ctx: RunContext, recorder: Recorder, notes: list[str]) -> dict[Lane, int]:
    """Keep complete lanes, drop partial ones; return lane start positions."""
    store = ctx.store
    existing = {r["execution_id"]: r for r in store.load(RecordKind.EXECUTIONS)}
    start: dict[Lane, int] = {}
    complete: set[Lane] = set()
    for tenant, queries in ctx.queries.items():
        for engine in ctx.engines:
            lane = Lane(tenant, engine)
            records = [_lane_records(ctx, existing, lane, q) for q in queries]
            if all(r is not None for r in records):
                complete.add(lane)
                start[lane] = len(queries)
                for index, recs in enumerate(records):
                    assert recs is not None
                    recorder.remember(
                        lane, index, [Execution.from_dict(r) for r in recs], durable=True
                    )

    def keep_execution(record: dict[str, Any]) -> bool:
        if record["phase"] not in (Phase.LOAD, Phase.REPEAT, Phase.UNLIMITED):
            return True
        return Lane(record["tenant"], record["engine"]) in complete

    store.keep_records(RecordKind.EXECUTIONS, keep_execution)

    def keep_verdict(record: dict[str, Any]) -> bool:
        return (
            Lane(record["tenant"], ctx.baseline) in complete
            and Lane(record["tenant"], record["candidate"]) in complete
        )

    for record in store.keep_records(RecordKind.VERDICTS, keep_verdict):
        recorder.verdicts[(record["candidate"], record["query_id"])] = record
    late = [
        verdict
        for tenant, queries in ctx.queries.items()
        for index in range(len(queries))
        for verdict in recorder.judge_ready(tenant, index)
    ]
    store.append(RecordKind.VERDICTS, late)
    total = len(ctx.queries) * len(ctx.engines)
    notes.append(
        f"resumed: {len(complete)} of {total} lanes were complete and kept; "
        "the others were replayed from their first statement"
    )
    return start


def _lane_records(
    ctx: RunContext, existing: dict[str, dict[str, Any]], lane: Lane, query: WorkloadQuery
) -> list[dict[str, Any]] | None:
    first = existing.get(Execution.make_id(Phase.LOAD, lane.engine, lane.tenant, query.query_id))
    if first is None:
        return None
    records = [first]
    if lane.engine == ctx.baseline and query.kind == "select" and first["status"] == "ok":
        for repetition in range(1, ctx.cfg.compare.determinism_runs):
            again = existing.get(
                Execution.make_id(
                    Phase.REPEAT, lane.engine, lane.tenant, query.query_id, repetition
                )
            )
            if again is None:
                return None
            records.append(again)
        # Recorded in the same append as the load run when the statement needed it.
        unlimited_id = Execution.make_id(Phase.UNLIMITED, lane.engine, lane.tenant, query.query_id)
        if unlimited_id in existing:
            records.append(existing[unlimited_id])
    return records
