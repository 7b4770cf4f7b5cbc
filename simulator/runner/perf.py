"""The isolated performance phase: paired, interleaved repetitions per sampled pattern.

Runs after the load phase, one pattern at a time with nothing else in flight. A *round*
runs the pattern's representative statement once on the baseline and once on each
candidate, in ABBA order across rounds (``A B C``, then ``C B A``), so drift hits both sides
alike; the baseline's runs are shared by every candidate. ``perf.repetitions`` screening
rounds decide what they can (:func:`assess_pattern`); a candidate whose pattern
``needs_more`` gets ``confirmation_pairs`` fresh rounds and is decided on those alone.
Benjamini-Hochberg then runs across all patterns of each candidate.

Confirmation rounds run in ``perf.process_pairs`` blocks, each on freshly started engine
workers (every tenant's workers restart once per block, before its first round in it), and
every pattern's rounds are spread over all blocks. Two identical engine processes can differ
in speed for their whole life; the blocks let the statistics see that as process-to-process
spread (``unstable``) instead of a change (:func:`simulator.compare.perf.block_ratio_ci`).

Repetition numbers: screening rounds are ``0..R-1``, confirmation rounds ``1000 + i``. Each
round's records are appended in one write, so on resume a round is either complete (reused)
or dropped and run again.

Every round records both the engines' wall and CPU time; the verdicts judge
``perf.metric`` and report the other beside it. A pattern whose records lack CPU time
(records reused from a run before it was measured) is judged on wall time, and says so.
The same rounds give each pattern a peak-memory verdict (the worker's RSS high-water mark,
reset before each statement): it escalates and is decided like latency, with its own
Benjamini-Hochberg family, and is left out where a pair lacks a per-statement peak.

Only SELECTs that ran fine on every engine under load and read no table the tenant's
workload writes are measured: their result does not depend on how far the workspace got,
so a resumed run can time them on fresh workspaces.
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simulator.compare.perf import (
    MEMORY_METRIC,
    PatternAssessment,
    PatternKey,
    assess_pattern,
    confirmation_blocks,
    decide_patterns,
)
from simulator.config import PerfSection
from simulator.errors import RunError
from simulator.progress import progress
from simulator.results.execution import Execution, Phase, Status
from simulator.results.layout import RecordKind
from simulator.results.verdicts import PerfVerdict
from simulator.runner.context import RunContext
from simulator.runner.pool import SessionPool
from simulator.runner.recorder import Recorder
from simulator.workload.store import WorkloadQuery

CONFIRMATION_OFFSET = 1000

# (tenant, statement index, engine order, repetition, fresh workers first) -> records
RoundRunner = Callable[[str, int, list[str], int, bool], list[dict[str, Any]]]


# One pattern's samples: engine -> metric -> one value per round, None where not measured.
Samples = dict[str, dict[str, list[float | None]]]
METRICS = ("wall", "cpu", MEMORY_METRIC)
# (target index, candidate) -> its final assessment of one kind (latency or memory).
Final = dict[tuple[int, str], PatternAssessment]


def assess_samples(
    samples: Samples,
    baseline: str,
    candidate: str,
    cfg: PerfSection,
    **options: Any,
) -> PatternAssessment:
    """:func:`assess_pattern` on ``perf.metric``, with the other metric's ratio beside it;
    on wall time when the CPU time of any of the pairs was not measured."""
    metric = cfg.metric if _pairs(samples, baseline, candidate, cfg.metric) else "wall"
    judged = _pairs(samples, baseline, candidate, metric)
    assert judged is not None  # every execution records its wall time
    other = _pairs(samples, baseline, candidate, "wall" if metric == "cpu" else "cpu")
    return assess_pattern(*judged, cfg, metric=metric, other_ms=other, **options)


def assess_memory(
    samples: Samples, baseline: str, candidate: str, cfg: PerfSection, **options: Any
) -> PatternAssessment | None:
    """:func:`assess_pattern` on the peak RSS of the same pairs; None when a pair lacks a
    per-statement peak (not measured, or only the worker's lifetime peak)."""
    judged = _pairs(samples, baseline, candidate, MEMORY_METRIC)
    if judged is None:
        return None
    return assess_pattern(*judged, cfg, metric=MEMORY_METRIC, **options)


def _pairs(
    samples: Samples, baseline: str, candidate: str, metric: str
) -> tuple[list[float], list[float]] | None:
    """(baseline, candidate) values of ``metric``; None when any of them is missing."""
    base, cand = samples[baseline][metric], samples[candidate][metric]
    measured = [float(v) for v in (*base, *cand) if v is not None]
    if len(measured) < len(base) + len(cand):
        return None
    return measured[: len(base)], measured[len(base) :]


@dataclass(frozen=True)
class PerfTarget:
    """One pattern of one tenant to time, by its representative statement."""

    tenant: str
    index: int
    query: WorkloadQuery


def choose_targets(
    queries: dict[str, list[WorkloadQuery]],
    load_status: Callable[[str, int], bool],
    baseline_ms: Callable[[str, int], float],
    cfg: PerfSection,
) -> list[PerfTarget]:
    """The patterns the phase times: first eligible statement of each (tenant, pattern),
    heaviest weight first, at most ``perf.max_patterns`` (0 = all)."""
    targets: list[PerfTarget] = []
    for tenant, tenant_queries in queries.items():
        written = {t for q in tenant_queries if q.kind != "select" for t in q.tables_written}
        seen: set[str] = set()
        for index, query in enumerate(tenant_queries):
            if query.kind != "select" or query.pattern_id in seen:
                continue
            if set(query.tables_read) & written or not load_status(tenant, index):
                continue
            if baseline_ms(tenant, index) < cfg.min_ms:
                continue
            seen.add(query.pattern_id)
            targets.append(PerfTarget(tenant, index, query))
    targets.sort(key=lambda t: (-t.query.weight, t.tenant, t.query.pattern_id))
    return targets[: cfg.max_patterns] if cfg.max_patterns > 0 else targets


def round_order(baseline: str, candidates: list[str], repetition: int) -> list[str]:
    """Engines of one round: baseline first on even rounds, last on odd ones (ABBA)."""
    order = [baseline, *candidates]
    return order if repetition % 2 == 0 else order[::-1]


class PerfPhase:
    """Runs the rounds of every target and returns the PerfVerdicts of every candidate."""

    def __init__(
        self,
        cfg: PerfSection,
        *,
        run_id: str,
        baseline: str,
        candidates: list[str],
        run_round: RoundRunner,
        existing: dict[str, dict[str, Any]],
        drop: Callable[[set[str]], None],
        on_round: Callable[[], None] = lambda: None,
    ) -> None:
        self.cfg = cfg
        self.run_id = run_id
        self.baseline = baseline
        self.candidates = candidates
        self.run_round = run_round
        self.existing = existing
        self.drop = drop
        self.on_round = on_round
        self.executed_rounds = 0
        self.reused_rounds = 0

    def run(self, targets: list[PerfTarget]) -> list[PerfVerdict]:
        """Time every target (screening, then confirmation blocks); BH per candidate."""
        final: Final = {}
        final_memory: Final = {}
        escalate: dict[int, list[str]] = {}
        for i, target in enumerate(targets):
            screen = self._rounds(
                target, self.candidates, [(r, False) for r in range(self.cfg.repetitions)]
            )
            if screen is None:
                continue
            for candidate in self.candidates:
                seed = self._seed(target, candidate)
                assessment = assess_samples(screen, self.baseline, candidate, self.cfg, seed=seed)
                memory = assess_memory(screen, self.baseline, candidate, self.cfg, seed=seed)
                if assessment.needs_more or (memory is not None and memory.needs_more):
                    escalate.setdefault(i, []).append(candidate)
                if not assessment.needs_more:
                    final[(i, candidate)] = assessment
                if memory is not None and not memory.needs_more:
                    final_memory[(i, candidate)] = memory
        self._confirm(targets, escalate, final, final_memory)
        verdicts: list[PerfVerdict] = []
        for candidate in self.candidates:
            decided = self._decided(targets, final, candidate)
            if decided:
                memory = self._decided(targets, final_memory, candidate)
                verdicts.extend(
                    decide_patterns(
                        decided, self.cfg, run_id=self.run_id, candidate=candidate, memory=memory
                    )
                )
        return verdicts

    @staticmethod
    def _decided(
        targets: list[PerfTarget], final: Final, candidate: str
    ) -> list[tuple[PatternKey, PatternAssessment]]:
        """``candidate``'s final assessments with their pattern keys, in target order."""
        decided = []
        for (i, name), assessment in sorted(final.items()):
            if name == candidate:
                query = targets[i].query
                key = PatternKey(targets[i].tenant, query.pattern_id, query.kind, query.weight)
                decided.append((key, assessment))
        return decided

    def _confirm(
        self,
        targets: list[PerfTarget],
        escalate: dict[int, list[str]],
        final: Final,
        final_memory: Final,
    ) -> None:
        """Confirmation rounds of every escalated pattern, block by block on fresh workers;
        each pattern's latency or memory that the screen left open is decided on its
        confirmation rounds alone."""
        sizes = confirmation_blocks(self.cfg)
        starts = list(itertools.accumulate(sizes, initial=0))
        times: dict[int, Samples | None] = {
            i: {e: {m: [] for m in METRICS} for e in (self.baseline, *candidates)}
            for i, candidates in escalate.items()
        }
        block_of: dict[int, list[int]] = {i: [] for i in escalate}
        for block in range(len(sizes)):
            restarted: set[str] = set()
            rounds = range(starts[block], starts[block + 1])
            for i, candidates in escalate.items():
                if times[i] is None:
                    continue
                target = targets[i]
                plan = []
                for r in rounds:
                    plan.append((CONFIRMATION_OFFSET + r, target.tenant not in restarted))
                    restarted.add(target.tenant)
                got = self._rounds(target, candidates, plan)
                if got is None:
                    times[i] = None
                    continue
                for engine, by_metric in got.items():
                    for metric, values in by_metric.items():
                        times[i][engine][metric].extend(values)
                block_of[i].extend([block] * len(plan))
        for i, candidates in escalate.items():
            got = times[i]
            if got is None:
                continue
            for candidate in candidates:
                options = {
                    "confirmation": True,
                    "seed": self._seed(targets[i], candidate),
                    "blocks": block_of[i],
                }
                if (i, candidate) not in final:
                    final[(i, candidate)] = assess_samples(
                        got, self.baseline, candidate, self.cfg, **options
                    )
                memory = assess_memory(got, self.baseline, candidate, self.cfg, **options)
                if (i, candidate) not in final_memory and memory is not None:
                    final_memory[(i, candidate)] = memory

    def _seed(self, target: PerfTarget, candidate: str) -> int:
        return zlib.crc32(f"{target.tenant}|{target.query.pattern_id}|{candidate}".encode())

    def _rounds(
        self, target: PerfTarget, candidates: list[str], plan: list[tuple[int, bool]]
    ) -> Samples | None:
        """Engine -> wall and CPU times and peak RSS of the planned rounds ((repetition,
        fresh workers) each); None when an execution failed."""
        times: Samples = {e: {m: [] for m in METRICS} for e in (self.baseline, *candidates)}
        for repetition, fresh in plan:
            ids = {
                e: Execution.make_id("perf", e, target.tenant, target.query.query_id, repetition)
                for e in times
            }
            records = [self.existing[i] for i in ids.values() if i in self.existing]
            if len(records) == len(ids):
                self.reused_rounds += 1
            else:
                if records:
                    self.drop({r["execution_id"] for r in records})
                order = round_order(self.baseline, candidates, repetition)
                records = self.run_round(target.tenant, target.index, order, repetition, fresh)
                self.executed_rounds += 1
            self.on_round()
            by_engine = {rec["engine"]: rec for rec in records}
            if any(by_engine.get(e, {}).get("status") != "ok" for e in times):
                return None
            for engine in times:
                record = by_engine[engine]
                times[engine]["wall"].append(float(record["wall_ms"]))
                times[engine]["cpu"].append(record.get("cpu_ms"))
                # Only a mark reset before the statement is that statement's peak.
                per_statement = record.get("rss_source") == "vmhwm"
                peak = record.get("peak_rss_mb") if per_statement else None
                times[engine][MEMORY_METRIC].append(peak)
        return times


def run_perf_phase(
    ctx: RunContext, pool: SessionPool, recorder: Recorder
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Time the chosen patterns on their tenants' sessions after the load phase, append
    the perf verdicts and mark ``perf_done`` in run.json; return the verdicts and the
    phase's figures (patterns, rounds executed, rounds reused)."""
    store = ctx.store
    existing = {
        r["execution_id"]: r for r in store.load(RecordKind.EXECUTIONS) if r["phase"] == Phase.PERF
    }

    def load_ok(tenant: str, index: int) -> bool:
        return all(
            (recs := recorder.records.get((e, tenant, index))) is not None
            and recs[0].status == Status.OK
            for e in ctx.engines
        )

    def baseline_ms(tenant: str, index: int) -> float:
        recs = recorder.records.get((ctx.baseline, tenant, index))
        return recs[0].wall_ms if recs else 0.0

    def drop(ids: set[str]) -> None:
        store.keep_records(RecordKind.EXECUTIONS, lambda r: r["execution_id"] not in ids)

    def run_round(
        tenant: str, index: int, order: list[str], repetition: int, fresh: bool
    ) -> list[dict[str, Any]]:
        from ray.exceptions import ActorUnavailableError, RayActorError

        for attempt in range(2):
            session = pool[tenant]
            try:
                records = pool.get(session.actor.perf_round.remote(index, order, repetition, fresh))
                break
            except (RayActorError, ActorUnavailableError):
                pool.replace(tenant, session.incarnation)
                if attempt:
                    raise RunError(
                        f"tenant {tenant}: session died twice during the perf phase"
                    ) from None
        if attempt:
            for record in records:
                record["retried"] = True
        store.append(RecordKind.EXECUTIONS, records)
        return records

    targets = choose_targets(ctx.queries, load_ok, baseline_ms, ctx.cfg.perf)
    bar = progress(len(targets) * ctx.cfg.perf.repetitions, "perf", unit="round")
    phase = PerfPhase(
        ctx.cfg.perf,
        run_id=ctx.run_id,
        baseline=ctx.baseline,
        candidates=ctx.candidates,
        run_round=run_round,
        existing=existing,
        drop=drop,
        on_round=lambda: bar.update(1),
    )
    try:
        verdicts = phase.run(targets)
    finally:
        bar.close()
    perf = [v.to_dict() for v in verdicts]
    store.append(RecordKind.PERF, perf)
    store.update_meta(perf_done=True)
    stats = {
        "patterns": len(targets),
        "rounds_executed": phase.executed_rounds,
        "rounds_reused": phase.reused_rounds,
    }
    return perf, stats
