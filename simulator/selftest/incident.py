"""The 2020 incident: lost writes under concurrent load, invisible on a quiet cluster.

One loaded run replays the tenants' ``daily_activity`` pipelines (DROP, CTAS over several
day partitions, INSERT of a new day, DELETE of old days, SELECT on the result) with one
lossy candidate per fault seed: the same DuckDB release as the baseline, with lost writes
that fire only while other executions are in flight. Every lost write the fault injector
recorded (its ``fault`` field names the partition and the rows not applied) must come back
as a ``write_mismatch`` naming that partition with that row count. The quiet run (the same
scenario at concurrency 1) must find nothing, and the quiet confirmation of the loaded run
must mark its findings ``under_load_only``.
"""

from __future__ import annotations

import copy
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from simulator.jobs.run_report import run_and_report
from simulator.results.layout import RecordKind
from simulator.results.reader import read_records
from simulator.results.store import read_meta
from simulator.results.verdicts import REGRESSION_VERDICTS
from simulator.runner.confirm import QuietConfirmation
from simulator.selftest.world import (
    build_world,
    incident_query_ids,
    scenario_data,
    to_config,
    with_candidates,
)

LOSSY = "duckdb_lossy"


@dataclass(frozen=True)
class LostWrite:
    """One write the fault injector damaged, and what qsim reported for it."""

    candidate: str
    tenant: str
    query_id: str
    kind: str
    table: str
    partition: str
    rows: int
    verdict: str
    named: bool


@dataclass
class IncidentRun:
    """One incident run: its verdicts per candidate, the lost writes and the timings."""

    run_id: str
    run_dir: Path
    concurrency: int
    candidates: list[str]
    wall_s: float
    exit_code: int
    lost_writes: list[LostWrite] = field(default_factory=list)
    findings: dict[str, Counter[str]] = field(default_factory=dict)
    fired: Counter[str] = field(default_factory=Counter)
    # Per written table, the most rows the baseline's post-state of one statement held.
    table_rows: dict[str, int] = field(default_factory=dict)
    first_write_mismatch_s: float | None = None
    first_write_mismatch_after_first_execution_s: float | None = None
    confirmation: QuietConfirmation | None = None

    def detected(self, candidate: str) -> bool:
        """The fault fired for ``candidate`` and every lost write was named with its rows."""
        mine = [w for w in self.lost_writes if w.candidate == candidate]
        return bool(mine) and all(w.named for w in mine)

    def lost_on(self, table: str) -> list[LostWrite]:
        """The lost writes into ``table``."""
        return [w for w in self.lost_writes if w.table == table]

    def quiet(self, candidate: str) -> bool:
        """No fault fired for ``candidate`` and it has no correctness finding."""
        findings = sum(
            n
            for v, n in self.findings.get(candidate, Counter()).items()
            if v in REGRESSION_VERDICTS
        )
        return self.fired[candidate] == 0 and findings == 0


def lossy_candidates(data: dict[str, Any], seeds: list[int]) -> dict[str, dict[str, Any]]:
    """One lossy candidate per fault seed (``duckdb_lossy_s<seed>``), else identical."""
    template = data["engines"][LOSSY]
    candidates = {}
    for seed in seeds:
        engine = copy.deepcopy(template)
        engine["faults"]["seed"] = seed
        candidates[f"{LOSSY}_s{seed}"] = engine
    return candidates


def run_incident(
    work: Path,
    seeds: list[int],
    *,
    quiet: bool = False,
    confirm: bool = True,
    scale: float | None = None,
) -> IncidentRun:
    """Run the incident scenario (``configs/incident.toml``, or ``incident-quiet.toml``
    with ``quiet``) in ``work`` with one lossy candidate per seed; analyse the run folder.
    ``scale`` generates its world at that scale with the large-write pipeline (see
    :func:`~simulator.selftest.world.scenario_data`).

    With ``confirm`` the run's driver replays the findings quietly and marks those that do
    not come back ``under_load_only`` (``load.confirm_quietly``). Raises QsimError on bad
    input or setup.
    """
    name = "incident-quiet" if quiet else "incident"
    base = scenario_data(name, work, scale)
    data = with_candidates(base, lossy_candidates(base, seeds))
    data.setdefault("load", {})["confirm_quietly"] = confirm
    cfg = to_config(data, name)
    ids = incident_query_ids(build_world(cfg))
    began = time.monotonic()
    outcome = run_and_report(cfg, query_ids=ids)
    result = IncidentRun(
        run_id=outcome.run_id,
        run_dir=outcome.run_dir,
        concurrency=cfg.load.concurrency,
        candidates=list(cfg.run.candidates),
        wall_s=time.monotonic() - began,
        exit_code=outcome.exit_code,
    )
    analyse(result)
    confirmed = read_meta(outcome.run_dir).confirm
    if confirmed is not None:
        result.confirmation = QuietConfirmation.from_meta(confirmed)
    return result


def analyse(result: IncidentRun) -> None:
    """Fill ``result`` from its run folder: findings, lost writes and first detection."""
    executions = read_records(result.run_dir, RecordKind.EXECUTIONS)
    verdicts = {
        (v["candidate"], v["query_id"]): v
        for v in read_records(result.run_dir, RecordKind.VERDICTS)
    }
    for verdict in verdicts.values():
        result.findings.setdefault(verdict["candidate"], Counter())[verdict["verdict"]] += 1
    baseline = read_meta(result.run_dir).baseline
    for record in executions:
        fault = record.get("fault") or ""
        written = record.get("writes") or {}
        if record["engine"] == baseline and record["phase"] == "load":
            for table, state in written.items():
                rows = (state or {}).get("row_count") or 0
                result.table_rows[table] = max(result.table_rows.get(table, 0), rows)
        if record["phase"] != "load" or not fault.startswith("lost_writes:"):
            continue
        result.fired[record["engine"]] += 1
        kind, partition, rows = parse_lost_write(fault)
        table = next(iter(written), "")
        verdict = verdicts.get((record["engine"], record["query_id"]), {})
        result.lost_writes.append(
            LostWrite(
                candidate=record["engine"],
                tenant=record["tenant"],
                query_id=record["query_id"],
                kind=kind,
                table=table,
                partition=partition,
                rows=rows,
                verdict=verdict.get("verdict", "missing"),
                named=verdict.get("verdict") == "write_mismatch"
                and names_partition(verdict, kind, partition, rows, table),
            )
        )
    _first_detection(result, executions, verdicts)


def parse_lost_write(fault: str) -> tuple[str, str, int]:
    """``lost_writes:KIND:COL=VALUE:N rows not applied`` -> (kind, "COL=VALUE", N)."""
    _, kind, rest = fault.split(":", 2)
    partition, rows_text = rest.rsplit(":", 1)
    return kind, partition, int(rows_text.split()[0])


def names_partition(
    verdict: dict[str, Any], kind: str, partition: str, rows: int, table_name: str = ""
) -> bool:
    """Does the verdict's evidence name ``partition`` (of ``table_name``, when given) with
    ``rows`` rows lost (a CTAS or INSERT: missing or short by ``rows``) or left behind (a
    DELETE: extra or over by ``rows``)?"""
    for name, table in verdict.get("evidence", {}).get("tables", {}).items():
        if table_name and name != table_name:
            continue
        entries = [
            *table.get("missing_partitions", []),
            *table.get("extra_partitions", []),
            *table.get("different_partitions", []),
        ]
        for entry in entries:
            if entry["partition"] != partition:
                continue
            base = entry["baseline_rows"] or 0
            cand = entry["candidate_rows"] or 0
            if (cand - base if kind == "delete" else base - cand) == rows:
                return True
    return False


def _first_detection(
    result: IncidentRun, executions: list[dict[str, Any]], verdicts: dict[tuple[str, str], Any]
) -> None:
    """Seconds from the run's start (run.json) and from its first execution to the moment
    the first write_mismatch could be judged (both sides of that statement recorded)."""
    finished: dict[tuple[str, str], float] = {}
    for record in executions:
        if record["phase"] == "load" and record.get("finished_at"):
            finished[(record["engine"], record["query_id"])] = record["finished_at"]
    meta = read_meta(result.run_dir)
    baseline = meta.baseline
    moments = [
        max(finished.get((candidate, query_id), 0.0), finished.get((baseline, query_id), 0.0))
        for (candidate, query_id), v in verdicts.items()
        if v["verdict"] == "write_mismatch"
    ]
    starts = [r["started_at"] for r in executions if r.get("started_at")]
    if not moments or not starts:
        return
    started = datetime.fromisoformat(meta.started_at).timestamp()
    result.first_write_mismatch_s = min(moments) - started
    result.first_write_mismatch_after_first_execution_s = min(moments) - min(starts)
