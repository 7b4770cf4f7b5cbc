"""Write a run's reports: summary.json, junit.xml and report.html, and record the run in
the history. History is read and written before any file is written, so a locked or
corrupt history database stops the command with the run folder untouched."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from simulator.report.evidence import build_evidence
from simulator.report.findings import (
    classify,
    collect_findings,
    collect_observations,
    covered_patterns,
)
from simulator.report.gate import GateResult, apply_gate, ship_decisions
from simulator.report.history import History
from simulator.report.html import render_html
from simulator.report.junit import build_junit
from simulator.report.rollup import pattern_rows, tenant_rows
from simulator.report.summary import build_summary
from simulator.results.exit_codes import failing_verdicts
from simulator.results.layout import HISTORY_FILE, HTML_FILE, JUNIT_FILE, SUMMARY_FILE
from simulator.results.reader import load_run


@dataclass
class ReportOutcome:
    """Where the report is, what the summary says, and the gate's result."""

    report_path: Path
    summary: dict[str, Any]
    gate: GateResult


def _write_atomically(path: Path, payload: bytes) -> None:
    """Write via a temporary file and rename, so a reader never sees half a report."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(payload)
    os.replace(tmp, path)


def generate_reports(
    run_dir: Path,
    *,
    history_db: Path | None = None,
    use_history: bool = True,
    today: date | None = None,
) -> ReportOutcome:
    """Load ``run_dir``, classify its findings against the history, write all outputs.

    ``history_db`` defaults to ``history.sqlite`` beside the run folder. With
    ``use_history=False`` nothing is read from or recorded in a history (every finding is
    new). A filtered run (a replay) is recorded but never serves as a previous run.
    Raises ReportError for a folder that is not a run, or an unusable history.
    """
    data = load_run(run_dir)
    settings = data.report_settings()
    today = today or datetime.now(UTC).date()
    failing = failing_verdicts(settings)
    findings = collect_findings(data.verdicts, data.perf, failing)
    observations = collect_observations(data.verdicts, failing)
    report_path = run_dir / HTML_FILE
    history = History(history_db or run_dir.parent / HISTORY_FILE) if use_history else None
    try:
        previous_id, previous = None, None
        acceptances = []
        if history is not None:
            started_at = str(data.run.get("started_at") or datetime.now(UTC).isoformat())
            previous_id, previous = history.previous_findings(
                data.pipeline, data.run_id, started_at
            )
            acceptances = history.acceptances()
        changes = classify(
            findings,
            covered_patterns(data.verdicts, data.perf),
            previous,
            previous_id,
            acceptances,
            today,
        )
        gate = apply_gate(findings, settings, data.complete, data.load)
        decisions = ship_decisions(findings, data.candidates, settings, data.complete, data.load)
        patterns = pattern_rows(data)
        evidence = build_evidence(findings + observations, data, settings)
        summary = build_summary(data, changes, gate, decisions, settings, observations)
        junit = build_junit(data, findings + observations, evidence, settings)
        html = render_html(
            data,
            changes,
            gate,
            decisions,
            settings,
            patterns,
            tenant_rows(patterns),
            evidence,
            observations,
        )
        if history is not None:
            history.record_run(summary, patterns, changes, report_path.resolve())
    finally:
        if history is not None:
            history.close()
    _write_atomically(
        run_dir / SUMMARY_FILE, (json.dumps(summary, indent=2, sort_keys=True) + "\n").encode()
    )
    _write_atomically(run_dir / JUNIT_FILE, junit)
    _write_atomically(report_path, html.encode("utf-8"))
    return ReportOutcome(report_path=report_path, summary=summary, gate=gate)
