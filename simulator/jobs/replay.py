"""On-demand replay of one customer: one tenant's workload, or one pattern or one query of
it, run now with the config's pinned generation and cached runtimes, then reported.

A tenant, pattern or query id the workload does not hold is refused with one line listing
close matches, before anything starts.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from simulator.config import RunConfig, load_config
from simulator.errors import QsimError, ReportError
from simulator.jobs.candidates import with_candidates
from simulator.jobs.run_report import run_and_report
from simulator.report.writer import ReportOutcome, generate_reports
from simulator.results.layout import HISTORY_FILE, QUERIES_FILE, RUN_FILE
from simulator.workload.store import load_workload

DEFAULT_CONFIG = Path("configs/demo.toml")


def _from_workload(cfg: RunConfig) -> list[dict[str, Any]] | None:
    """The sampled workload's rows, or None when it is not built yet."""
    try:
        workload = load_workload(Path(cfg.workload.dir), cfg.workload.name)
    except (QsimError, OSError):
        return None
    return [
        {"tenant": q.tenant, "pattern_id": q.pattern_id, "query_id": q.query_id}
        for q in workload.queries
    ]


def _from_last_run(cfg: RunConfig) -> list[dict[str, Any]] | None:
    """The workload rows of the newest run of the same workload in the results folder."""
    results = Path(cfg.run.results_dir)
    newest: tuple[str, Path] | None = None
    for run_json in results.glob(f"*/{RUN_FILE}"):
        try:
            run = json.loads(run_json.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        queries = run_json.parent / QUERIES_FILE
        if run.get("workload_name") == cfg.workload.name and queries.is_file():
            started = str(run.get("started_at") or "")
            if newest is None or started > newest[0]:
                newest = (started, queries)
    if newest is None:
        return None
    columns = ["tenant", "pattern_id", "query_id"]
    return pq.read_table(newest[1], columns=columns).to_pylist()


def known_queries(cfg: RunConfig) -> list[dict[str, Any]] | None:
    """(tenant, pattern_id, query_id) rows of the config's workload, None if unknown yet."""
    return _from_workload(cfg) or _from_last_run(cfg)


def _refuse(what: str, value: str, known: set[str], where: str) -> None:
    close = difflib.get_close_matches(value, sorted(known), n=3, cutoff=0.5)
    hint = f"; close matches: {', '.join(close)}" if close else f"; {len(known)} known"
    raise ReportError(f"{what} {value!r}: not in {where}{hint}")


def check_target(
    rows: list[dict[str, Any]],
    tenant: str,
    pattern_id: str | None,
    query_id: str | None,
    where: str,
) -> None:
    """Refuse a tenant, or a pattern / query id of that tenant, that ``rows`` do not hold."""
    tenants = {str(r["tenant"]) for r in rows}
    if tenant not in tenants:
        _refuse("tenant", tenant, tenants, where)
    mine = [r for r in rows if r["tenant"] == tenant]
    if pattern_id is not None:
        patterns = {str(r["pattern_id"]) for r in mine}
        if pattern_id not in patterns:
            _refuse("pattern", pattern_id, patterns, f"tenant {tenant} of {where}")
    if query_id is not None:
        ids = {str(r["query_id"]) for r in mine}
        if query_id not in ids:
            _refuse("query id", query_id, ids, f"tenant {tenant} of {where}")


def prepare_replay(
    config_path: Path,
    tenant: str,
    *,
    pattern_id: str | None = None,
    query_id: str | None = None,
    candidate_specs: list[str] | None = None,
) -> RunConfig:
    """Load the config, apply candidate specs and check the replay target exists."""
    cfg = with_candidates(load_config(config_path), candidate_specs or [])
    rows = known_queries(cfg)
    if rows is not None:
        check_target(rows, tenant, pattern_id, query_id, f"workload {cfg.workload.name}")
    return cfg


def run_replay(
    config_path: Path,
    tenant: str,
    *,
    pattern_id: str | None = None,
    query_id: str | None = None,
    candidate_specs: list[str] | None = None,
    ray_address: str | None = None,
) -> ReportOutcome:
    """Replay one tenant (or one pattern / query of it) now and write its report.

    The replay is recorded in the history as a filtered run: it is classified against the
    last full run of its pipeline and the accepted findings, but never becomes the
    "previous run" itself (that would turn the next night's findings of other tenants
    into new ones).
    """
    cfg = prepare_replay(
        config_path,
        tenant,
        pattern_id=pattern_id,
        query_id=query_id,
        candidate_specs=candidate_specs,
    )
    outcome = run_and_report(
        cfg,
        tenants=[tenant],
        pattern_ids=[pattern_id] if pattern_id else None,
        query_ids=[query_id] if query_id else None,
        ray_address=ray_address,
    )
    history_db = Path(cfg.run.results_dir) / HISTORY_FILE
    return generate_reports(Path(outcome.run_dir), history_db=history_db)
