"""The load loop: dispatch statements lane by lane under the load model and record each
as it finishes.

Each lane (tenant x engine) replays its statements in log order; the
:class:`~simulator.runner.schedule.LoadSchedule` says which lane may start its next one now.
Statements the driver can answer itself (skips, baseline statements the bank serves) are
recorded without an engine. Consecutive tiny statements of a lane travel in one call to
its session (up to ``CHUNK_TARGET_MS`` of engine time), which keeps the per-statement cost
of the driver round trip small. A session that dies is replaced and its chunk retried
once; a second death records a harness crash. Once the phase is over,
:func:`record_load_verdicts` compares the engines under load.
"""

from __future__ import annotations

import time
from typing import Any

from simulator.compare.load import QueryPattern, compare_under_load
from simulator.errors import QsimError
from simulator.progress import progress
from simulator.results.execution import Execution, Phase, Status
from simulator.results.layout import RecordKind
from simulator.results.load_verdicts import LoadVerdict
from simulator.runner.bank_plan import BankPlan
from simulator.runner.context import RunContext
from simulator.runner.execute import Statement
from simulator.runner.inflight import InFlightCounter
from simulator.runner.pool import SessionPool
from simulator.runner.recorder import Finished, Recorder
from simulator.runner.schedule import Lane, LoadSchedule

# A lane's consecutive statements go to its session in one call when they are tiny:
# enough of them to fill CHUNK_TARGET_MS of engine time, at most CHUNK_MAX.
CHUNK_TARGET_MS = 50.0
CHUNK_MAX = 16


class LoadLoop:
    """The load phase of one run. ``harness`` counts ``retried`` statements; ``stats``
    (the schedule's seed and digest, wall time, executions, engine busy time, peak in
    flight, efficiency) goes to run.json."""

    def __init__(
        self,
        ctx: RunContext,
        pool: SessionPool,
        recorder: Recorder,
        bank: BankPlan,
        harness: dict[str, int],
    ) -> None:
        self.ctx = ctx
        self.pool = pool
        self.recorder = recorder
        self.bank = bank
        self.harness = harness
        self.in_flight = InFlightCounter()
        self.stats: dict[str, Any] = {}

    def run(self, schedule: LoadSchedule) -> None:
        """Replay every remaining statement of ``schedule``; ``stats`` holds the phase's
        figures afterwards, also when it stopped early."""
        import ray
        from ray.exceptions import ActorUnavailableError, RayActorError, RayTaskError

        pending: dict[Any, tuple[Lane, list[int], int, int]] = {}
        bar = progress(schedule.remaining(), "replay", unit="stmt")
        lane_ms: dict[Lane, float] = {}
        began = time.monotonic()
        busy_ms = 0.0
        executions = 0

        def fill() -> None:
            """Start every lane the load model lets start now."""
            now = time.monotonic() - began
            while (picked := schedule.pick(now)) is not None:
                lane, index = picked
                served = self._serve_locally(lane, index)
                if served is None:
                    chunk = self._chunk(schedule, lane, index, now, lane_ms.get(lane))
                    self._dispatch(pending, lane, chunk, 0)
                    continue
                self.recorder.remember(lane, index, served)
                schedule.finish(lane)
                self.recorder.persist([(lane, index, served, [None] * len(served))])
                bar.update(1)

        try:
            while not schedule.done():
                fill()
                now = time.monotonic() - began
                wake = schedule.next_release(now)
                if not pending:
                    if wake is not None:
                        time.sleep(max(0.0, wake - now))
                    continue
                timeout = None if wake is None else max(0.0, wake - now)
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=timeout)
                if ready:
                    more, _ = ray.wait(list(pending), num_returns=len(pending), timeout=0)
                    ready = list(dict.fromkeys([*ready, *more]))
                batch: list[Finished] = []
                for ref in ready:
                    lane, chunk, attempt, incarnation = pending.pop(ref)
                    self.in_flight.finished()
                    try:
                        chunk_results = ray.get(ref)
                    except (RayActorError, ActorUnavailableError):
                        self.pool.replace(lane.tenant, incarnation)
                        if attempt == 0:
                            self.harness["retried"] += len(chunk)
                            self._dispatch(pending, lane, chunk, 1)
                            continue
                        chunk_results = [
                            [(self._harness_crash(lane, index).to_dict(), None)] for index in chunk
                        ]
                    except RayTaskError as err:
                        cause = getattr(err, "cause", None)
                        if isinstance(cause, QsimError):
                            raise cause from None
                        raise
                    for index, results in zip(chunk, chunk_results, strict=True):
                        records = [Execution.from_dict(d) for d, _ in results]
                        self.recorder.remember(lane, index, records)
                        batch.append((lane, index, records, [k for _, k in results]))
                        ms = sum(r.wall_ms for r in records)
                        previous = lane_ms.get(lane, ms)
                        lane_ms[lane] = 0.8 * previous + 0.2 * ms
                    schedule.finish(lane, len(chunk))
                # Engines get their next statements before the driver spends time on fsync
                # and comparison; a crash in between only loses work the resume rule redoes.
                fill()
                self.recorder.persist(batch)
                for _, _, records, _ in batch:
                    busy_ms += sum(r.wall_ms for r in records)
                    executions += len(records)
                bar.update(len(batch))
                if batch:
                    bar.set_postfix_str(self.recorder.verdict_counts_text(), refresh=False)
        finally:
            bar.close()
            wall = time.monotonic() - began
            slots = min(
                self.ctx.cfg.load.concurrency,
                len(self.ctx.queries) * self.ctx.cfg.load.per_tenant_concurrency,
            )
            self.stats = {
                "schedule": schedule.describe(),
                "wall_s": round(wall, 3),
                "executions": executions,
                "engine_busy_ms": round(busy_ms, 1),
                "peak_in_flight": self.in_flight.peak,
                "slots": slots,
                "efficiency": round(busy_ms / 1000 / (wall * slots), 3)
                if wall > 0 and executions
                else None,
            }

    def _chunk(
        self, schedule: LoadSchedule, lane: Lane, index: int, now: float, avg_ms: float | None
    ) -> list[int]:
        """Statement ``index`` and the lane's next ones that go in the same call: only when
        they are tiny (by the lane's recent engine time), released, and not served by the
        driver itself."""
        if avg_ms is None:
            return [index]
        size = int(min(CHUNK_MAX, max(1.0, CHUNK_TARGET_MS / max(avg_ms, 0.01))))
        chunk = [index]
        length = schedule.lengths[lane]
        while len(chunk) < size and (nxt := index + len(chunk)) < length:
            if not schedule.released(lane, nxt, now) or self._served_by_driver(lane, nxt):
                break
            chunk.append(nxt)
        return chunk

    def _dispatch(
        self,
        pending: dict[Any, tuple[Lane, list[int], int, int]],
        lane: Lane,
        chunk: list[int],
        attempt: int,
    ) -> None:
        session = self.pool[lane.tenant]
        count = self.in_flight.started()
        ref = session.actor.run_chunk.remote(lane.engine, chunk, count, attempt > 0)
        pending[ref] = (lane, chunk, attempt, session.incarnation)

    def _harness_crash(self, lane: Lane, index: int) -> Execution:
        query = self.ctx.queries[lane.tenant][index]
        return Execution(
            execution_id=Execution.make_id(Phase.LOAD, lane.engine, lane.tenant, query.query_id, 0),
            run_id=self.ctx.run_id,
            engine=lane.engine,
            tenant=lane.tenant,
            query_id=query.query_id,
            phase=Phase.LOAD,
            status=Status.CRASH,
            error_class="HarnessError",
            error_message="tenant session died twice running this statement",
            retried=True,
            started_at=time.time(),
            finished_at=time.time(),
        )

    def _served_by_driver(self, lane: Lane, index: int) -> bool:
        statement: Statement = self.ctx.statements[lane.tenant][lane.engine][index]
        return statement.sql is None or self.bank.serves(lane, index)

    def _serve_locally(self, lane: Lane, index: int) -> list[Execution] | None:
        """Records the driver produces without an engine: skips and bank hits."""
        statement: Statement = self.ctx.statements[lane.tenant][lane.engine][index]
        if statement.sql is None:
            return [
                Execution(
                    execution_id=Execution.make_id(
                        Phase.LOAD, lane.engine, lane.tenant, statement.query_id, 0
                    ),
                    run_id=self.ctx.run_id,
                    engine=lane.engine,
                    tenant=lane.tenant,
                    query_id=statement.query_id,
                    phase=Phase.LOAD,
                    status=Status.SKIPPED,
                    error_message=statement.skip_reason,
                )
            ]
        if self.bank.serves(lane, index):
            return self.bank.serve(lane.tenant, index)
        return None


def record_load_verdicts(ctx: RunContext) -> list[LoadVerdict]:
    """Compare every candidate with the baseline under load (:mod:`simulator.compare.load`)
    from the load-phase executions recorded so far, and replace ``load.jsonl`` with the
    verdicts (recomputed whole, so a resumed run gets them once)."""
    patterns = {
        (q.tenant, q.query_id): QueryPattern(q.pattern_id, q.kind, q.weight)
        for queries in ctx.queries.values()
        for q in queries
    }
    executions = [
        Execution.from_dict(r)
        for r in ctx.store.load(RecordKind.EXECUTIONS)
        if r.get("phase") == Phase.LOAD
    ]
    verdicts = [
        v
        for candidate in ctx.candidates
        for v in compare_under_load(
            executions,
            patterns,
            ctx.cfg.load,
            run_id=ctx.run_id,
            baseline=ctx.baseline,
            candidate=candidate,
        )
    ]
    ctx.store.rewrite(RecordKind.LOAD, [v.to_dict() for v in verdicts])
    return verdicts
