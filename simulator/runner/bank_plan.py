"""The baseline bank during a run: which baseline statements it serves, serving them, and
banking what the baseline really executed (storage and the key rule: :mod:`.bank`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from simulator.results.execution import Execution, Phase, Status
from simulator.results.layout import BANK_FILE
from simulator.results.masking import mask_record
from simulator.runner.bank import (
    BankEntry,
    BaselineBank,
    bank_key,
    chosen_for_refresh,
    write_history,
)
from simulator.runner.bank import fingerprint as bank_fingerprint
from simulator.runner.context import RunContext
from simulator.runner.schedule import Lane


class BankPlan:
    """The bank's part in one run. ``stats`` goes to run.json (``bank``)."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.bank: BaselineBank | None = None
        self.served: dict[tuple[str, int], BankEntry] = {}
        self.keys: dict[tuple[str, int], str] = {}
        self.stats: dict[str, Any] = {
            "enabled": False,
            "hits": 0,
            "served": 0,
            "refreshed": 0,
            "drifted": [],
        }

    def plan(self, start: dict[Lane, int]) -> None:
        """Decide which baseline statements the bank serves (see bank.py for the rule)."""
        ctx = self.ctx
        spec = ctx.cfg.engines[ctx.baseline]
        if not ctx.cfg.run.bank or spec.faults.enabled:
            return
        spec_hash = ctx.store.read_meta().engines[ctx.baseline].runtime_spec_hash
        self.bank = BaselineBank(self.path())
        self.stats["enabled"] = True
        for tenant, queries in ctx.queries.items():
            lane = Lane(tenant, ctx.baseline)
            if start.get(lane, 0) >= len(queries):
                continue
            statements = ctx.statements[tenant][ctx.baseline]
            writes: list[str] = []
            keys: dict[int, str] = {}
            for statement in statements:
                if statement.sql is not None:
                    # The repeat count is part of the key: banked SELECTs carry their repeats.
                    settings = {
                        "settings": spec.settings,
                        "runs": ctx.cfg.compare.determinism_runs,
                    }
                    keys[statement.index] = bank_key(
                        spec_hash,
                        settings,
                        ctx.generation.id,
                        tenant,
                        statement.sql,
                        write_history(writes),
                    )
                    if statement.is_write:
                        writes.append(statement.sql)
            self.keys.update({(tenant, i): k for i, k in keys.items()})
            if ctx.fresh_baseline:
                continue
            hits = self.bank.get_many(list(keys.values()))
            served = {
                i
                for i, k in keys.items()
                if k in hits and not chosen_for_refresh(k, ctx.run_id, ctx.cfg.run.bank_refresh)
            }
            self.stats["hits"] += sum(1 for k in keys.values() if k in hits)
            executed = [i for i in keys if i not in served]
            last = max(executed, default=-1)
            # Writes before the last executed statement must really run: later statements
            # depend on the state they leave in the workspace.
            served = {i for i in served if not (statements[i].is_write and i < last)}
            for index in served:
                self.served[(tenant, index)] = hits[keys[index]]

    def path(self) -> Path:
        """The bank database: in ``run.bank_dir``, else beside the run folders."""
        cfg = self.ctx.cfg
        folder = Path(cfg.run.bank_dir) if cfg.run.bank_dir else self.ctx.results_dir
        return folder / BANK_FILE

    def serves(self, lane: Lane, index: int) -> bool:
        """True when the bank stands in for this baseline statement."""
        return lane.engine == self.ctx.baseline and (lane.tenant, index) in self.served

    def serve(self, tenant: str, index: int) -> list[Execution]:
        """The banked records of a served statement, as this run's baseline executions."""
        ctx = self.ctx
        entry = self.served[(tenant, index)]
        out = []
        for data in entry.executions:
            record = Execution.from_dict(data)
            record.run_id = ctx.run_id
            record.engine = ctx.baseline
            record.execution_id = Execution.make_id(
                record.phase, ctx.baseline, tenant, record.query_id, record.repetition
            )
            record.from_bank = True
            record.retried = False
            record.in_flight_at_start = 0
            record.node = ""
            record.result_path = ""
            if entry.result is not None and record.phase == Phase.LOAD:
                record.result_path = ctx.store.write_result_file(record.execution_id, entry.result)
            out.append(record)
        self.stats["served"] += 1
        return out

    def store(self, tenant: str, index: int, records: list[Execution], kept: bytes | None) -> None:
        """Bank what the baseline executed (and note drift from what the bank held)."""
        if self.bank is None or records[0].status not in (Status.OK, Status.ERROR):
            return
        if records[0].fault:
            return
        key = self.keys.get((tenant, index))
        if key is None:
            return
        # The unlimited run's row hashes are not banked (the bank keeps one result blob):
        # a served LIMIT query's subset check says "not verified".
        # Banked for later runs whatever this run opted in to: engine text masked, so no
        # customer value outlives the run in the bank (the kept rows are compared, not shown).
        dicts = mask_record([r.to_dict() for r in records if r.phase != Phase.UNLIMITED])
        previous = self.bank.get_many([key]).get(key)
        if previous is not None and not self.ctx.fresh_baseline:
            self.stats["refreshed"] += 1
            # A statically nondeterministic query (rand, TABLESAMPLE ...) differs by design.
            expected_to_vary = bool(self.ctx.queries[tenant][index].nondeterministic)
            if not expected_to_vary and (
                bank_fingerprint(previous.executions) != bank_fingerprint(dicts)
            ):
                self.stats["drifted"].append(records[0].query_id)
        self.bank.put(key, dicts, kept, self.ctx.run_id)

    def close(self) -> None:
        if self.bank is not None:
            self.bank.close()
