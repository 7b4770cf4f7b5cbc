"""Plan capture: each pattern's plan on every engine, once per run, outside timed work.

After the load phase (nothing is timed then) the driver picks one sample query per pattern,
the first in log order over the tenants whose statement was sent to the engines and is not
DDL, and asks that tenant's session to plan it on every engine
(:meth:`~simulator.runner.session.TenantSession.explain`). Each plan is normalized to a
shape (:mod:`simulator.compare.plans`) with the literals of the statement as sent to that
engine banned from it, and ``plans.jsonl`` is replaced with one
:class:`~simulator.results.plans.PlanRecord` per engine and pattern. The workspace then
holds the state after the tenant's last statement, so a statement whose tables were
dropped later in the pipeline gets status ``error``.
"""

from __future__ import annotations

from typing import Any

from simulator.compare.plans import plan_shape, sql_literals
from simulator.results.layout import RecordKind
from simulator.results.plans import PlanRecord
from simulator.runner.context import RunContext
from simulator.runner.pool import SessionPool

UNPLANNED_KINDS = ("ddl",)


def capture_plans(ctx: RunContext, pool: SessionPool) -> list[PlanRecord]:
    """Plan one sample query per pattern on every engine and record the shapes (see the
    module doc); tenants without a running session are left out."""
    samples: dict[str, tuple[str, int]] = {}
    for tenant in sorted(ctx.queries):
        if tenant not in pool.sessions:
            continue
        for index, query in enumerate(ctx.queries[tenant]):
            statement = ctx.statements[tenant][ctx.baseline][index]
            if query.kind in UNPLANNED_KINDS or not statement.sql:
                continue
            samples.setdefault(query.pattern_id, (tenant, index))
    by_tenant: dict[str, list[int]] = {}
    for tenant, index in samples.values():
        by_tenant.setdefault(tenant, []).append(index)
    refs = {t: pool[t].actor.explain.remote(sorted(ix)) for t, ix in by_tenant.items()}
    answers: dict[str, dict[str, dict[int, dict[str, Any]]]] = {}
    for tenant, ref in refs.items():
        try:
            answers[tenant] = pool.get(ref)
        except Exception:
            # Plans are advisory: a session lost while planning leaves its patterns
            # "unavailable" and never fails the run (an interrupt still stops it).
            answers[tenant] = {}
    records = []
    for pattern_id, (tenant, index) in sorted(samples.items()):
        query = ctx.queries[tenant][index]
        for engine in ctx.engines:
            base = {
                "run_id": ctx.run_id,
                "engine": engine,
                "pattern_id": pattern_id,
                "tenant": tenant,
                "query_id": query.query_id,
            }
            answer = answers[tenant].get(engine, {}).get(index)
            if answer is None:
                records.append(PlanRecord(status="unavailable", **base))
            elif "error" in answer:
                records.append(PlanRecord(status="error", error_class=answer["error"], **base))
            else:
                sql = ctx.statements[tenant][engine][index].sql or ""
                banned = sql_literals(sql, ctx.cfg.engines[engine].dialect) | sql_literals(
                    query.sql
                )
                shape = plan_shape(answer["tree"], banned)
                records.append(
                    PlanRecord(
                        status="ok",
                        shape=shape.shape,
                        shape_hash=shape.shape_hash,
                        operators=list(shape.operators),
                        **base,
                    )
                )
    ctx.store.rewrite(RecordKind.PLANS, [r.to_dict() for r in records])
    return records
