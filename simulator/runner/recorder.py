"""The recorder: persist finished statements, then judge what became judgeable.

Kept result files are written first, then every record of a batch in one append + fsync
(:class:`~simulator.results.store.RunStore`), then the baseline's records go to the bank,
then each candidate whose execution and the baseline's are both recorded is judged and its
verdict appended. A verdict is written once per (candidate, query).

A statement is remembered when it finishes but judgeable only once persisted: its kept
result file is attached then. The load loop serves bank hits between the two, and a
candidate judged in that window would be compared without its rows.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from simulator.compare.judge import judge_query
from simulator.results.execution import Execution, Status
from simulator.results.layout import RecordKind
from simulator.results.verdicts import Verdict
from simulator.runner.bank_plan import BankPlan
from simulator.runner.context import RunContext
from simulator.runner.schedule import Lane

# One finished statement: its lane, index, records and the kept result bytes of each.
Finished = tuple[Lane, int, list[Execution], list[bytes | None]]


class Recorder:
    """Holds what the run has recorded so far and writes what it learns."""

    def __init__(self, ctx: RunContext, bank: BankPlan) -> None:
        self.ctx = ctx
        self.bank = bank
        self.records: dict[tuple[str, str, int], list[Execution]] = {}
        self.verdicts: dict[tuple[str, str], dict[str, Any]] = {}
        self.lane_ok_writes: dict[Lane, list[int]] = {}
        self.unwritten: set[tuple[str, str, int]] = set()

    def persist(self, batch: list[Finished]) -> None:
        """Write finished statements (kept results, then one append + fsync), bank the
        baseline's, then judge what became judgeable."""
        if not batch:
            return
        store = self.ctx.store
        for _, _, records, kept in batch:
            for record, data in zip(records, kept, strict=True):
                if data is not None:
                    record.result_path = store.write_result_file(record.execution_id, data)
        store.append(RecordKind.EXECUTIONS, [r.to_dict() for _, _, recs, _ in batch for r in recs])
        for lane, index, _, _ in batch:
            self.unwritten.discard((lane.engine, lane.tenant, index))
        for lane, index, records, kept in batch:
            if lane.engine == self.ctx.baseline and not records[0].from_bank:
                self.bank.store(lane.tenant, index, records, kept[0])
        verdicts: list[dict[str, Any]] = []
        for lane, index, _, _ in batch:
            verdicts.extend(self.judge_ready(lane.tenant, index))
        store.append(RecordKind.VERDICTS, verdicts)

    def remember(
        self, lane: Lane, index: int, records: list[Execution], *, durable: bool = False
    ) -> None:
        """Hold a statement's records (and note a successful write of its lane); they are
        judged once ``persist`` wrote them, or at once when ``durable`` (read from disk)."""
        key = (lane.engine, lane.tenant, index)
        self.records[key] = records
        if not durable:
            self.unwritten.add(key)
        statement = self.ctx.statements[lane.tenant][lane.engine][index]
        if statement.is_write and records[0].status == Status.OK:
            self.lane_ok_writes.setdefault(lane, []).append(index)

    def _absolute(self, record: Execution) -> Execution:
        if not record.result_path:
            return record
        return dataclasses.replace(
            record, result_path=str(self.ctx.store.run_dir / record.result_path)
        )

    def _translated(self, tenant: str, candidate: str, index: int) -> bool:
        """Whether the candidate was sent other SQL text than the baseline (its dialect's)."""
        lanes = self.ctx.statements[tenant]
        return lanes[candidate][index].sql != lanes[self.ctx.baseline][index].sql

    def judge_ready(self, tenant: str, index: int) -> list[dict[str, Any]]:
        """Judge every candidate whose execution and the baseline's are both recorded;
        return the new verdicts (the caller appends them)."""
        ctx = self.ctx
        base = self.records.get((ctx.baseline, tenant, index))
        if base is None or (ctx.baseline, tenant, index) in self.unwritten:
            return []
        query = ctx.queries[tenant][index]
        fresh = []
        for candidate in ctx.candidates:
            if (candidate, query.query_id) in self.verdicts:
                continue
            cand = self.records.get((candidate, tenant, index))
            if cand is None or (candidate, tenant, index) in self.unwritten:
                continue
            try:
                verdict = judge_query(
                    query,
                    [self._absolute(r) for r in base],
                    self._absolute(cand[0]),
                    ctx.cfg.compare,
                    candidate,
                    ctx.run_id,
                    diff_sample_rows=ctx.cfg.report.diff_sample_rows,
                    translated=self._translated(tenant, candidate, index),
                )
            except Exception as err:  # a comparison bug must not lose the run's records
                verdict = Verdict(
                    run_id=ctx.run_id,
                    candidate=candidate,
                    tenant=tenant,
                    query_id=query.query_id,
                    pattern_id=query.pattern_id,
                    kind=query.kind,
                    verdict="skipped",
                    reason=f"internal comparison error: {type(err).__name__}: {err}",
                    weight=query.weight,
                )
            verdict.under_load_only = False
            record = verdict.to_dict()
            self.verdicts[(candidate, query.query_id)] = record
            fresh.append(record)
        return fresh

    def verdict_counts_text(self) -> str:
        """``match=12 result_mismatch=1``: the progress bar's postfix."""
        counts: dict[str, int] = {}
        for v in self.verdicts.values():
            counts[v["verdict"]] = counts.get(v["verdict"], 0) + 1
        return " ".join(f"{k}={n}" for k, n in sorted(counts.items()))
