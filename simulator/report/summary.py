"""``summary.json``: the machine-readable result of a run. The schema is documented in
docs/summary-schema.md; bump SCHEMA_VERSION on any change that is not a pure addition."""

from __future__ import annotations

from typing import Any

from simulator import __version__
from simulator.config import ReportSection
from simulator.report.findings import Changes, Finding
from simulator.report.gate import GateResult, fails_gate, load_gates
from simulator.report.plan_view import plan_view
from simulator.results.layout import HTML_FILE, JUNIT_FILE
from simulator.results.load_verdicts import LOAD_VERDICTS, LoadVerdict
from simulator.results.masking import mask_error, neutralize_bidi
from simulator.results.reader import RunData
from simulator.results.verdicts import MEMORY_VERDICTS, PERF_VERDICTS, QUERY_VERDICTS

SCHEMA_VERSION = 1


def _finding(finding: Finding, settings: ReportSection) -> dict[str, Any]:
    example = finding.example
    accepted = finding.accepted
    reason = example.reason if example else ""
    return {
        "id": finding.id,
        "candidate": finding.key.candidate,
        "tenant": finding.key.tenant,
        "pattern_id": finding.key.pattern_id,
        "verdict": finding.key.verdict,
        "category": finding.category,
        "kind": finding.kind,
        "status": finding.status,
        "queries": len(finding.verdicts),
        "weight": finding.weight,
        "example_query_id": example.query_id if example else None,
        "under_load_only": finding.under_load_only,
        "intermittent": finding.intermittent,
        "reason": reason if settings.diff_sample_rows > 0 else mask_error(reason),
        "baseline_from_bank": finding.baseline_from_bank,
        "ratio": finding.ratio,
        "fails_gate": fails_gate(finding, settings),
        "accepted": (
            {
                "id": accepted.id,
                "by": neutralize_bidi(accepted.accepted_by),
                "at": accepted.accepted_at,
                "reason": neutralize_bidi(accepted.reason),
                "until": accepted.until,
            }
            if accepted
            else None
        ),
    }


def _load_entry(v: LoadVerdict, settings: ReportSection) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "pattern_id": v.pattern_id or None,
        "kind": v.kind,
        "verdict": v.verdict,
        "reason": v.reason,
        "samples": v.samples,
        "ratio": v.ratio,
        "ci_low": v.ci_low,
        "ci_high": v.ci_high,
        "q_value": v.q_value,
        "tail_q_value": v.tail_q_value,
        "quantiles": {
            name: {"baseline_ms": q.baseline_ms, "candidate_ms": q.candidate_ms, "ratio": q.ratio}
            for name, q in v.quantiles.items()
        },
        "fails_gate": load_gates(v, settings),
    }
    if v.whole_workload:
        entry.update(
            baseline_errors=v.baseline_errors,
            candidate_errors=v.candidate_errors,
            errors_p_value=v.errors_p_value,
            baseline_throughput=v.baseline_throughput,
            candidate_throughput=v.candidate_throughput,
        )
    return entry


def _under_load(data: RunData, settings: ReportSection) -> dict[str, Any]:
    """The ``under_load`` object: per candidate the whole workload's load verdict, verdict
    counts over patterns, and the patterns that changed (regressed, improved)."""
    out: dict[str, Any] = {}
    for c in data.candidates:
        mine = [v for v in data.load if v.candidate == c]
        if not mine:
            continue
        workload = next((v for v in mine if v.whole_workload), None)
        patterns = [v for v in mine if not v.whole_workload]
        counts = dict.fromkeys(LOAD_VERDICTS, 0)
        for v in patterns:
            counts[v.verdict] += 1
        out[c] = {
            "workload": _load_entry(workload, settings) if workload else None,
            "pattern_counts": counts,
            "changed": [
                _load_entry(v, settings) for v in patterns if v.verdict in ("regressed", "improved")
            ],
        }
    return out


def _plan_changes(data: RunData) -> dict[str, Any]:
    """The ``plan_changes`` object: per candidate, plan statuses counted over patterns and
    the patterns whose plan shape differs from the baseline's."""
    view = plan_view(data)
    out: dict[str, Any] = {}
    for (candidate, _), status in sorted(view.status.items()):
        entry = out.setdefault(candidate, {"counts": {}, "changed": []})
        entry["counts"][status] = entry["counts"].get(status, 0) + 1
    for change in view.changed:
        out[change["candidate"]]["changed"].append(change["pattern_id"])
    return out


def build_summary(
    data: RunData,
    changes: Changes,
    gate: GateResult,
    decisions: dict[str, bool],
    settings: ReportSection,
    observations: list[Finding],
) -> dict[str, Any]:
    """The summary.json document for a loaded, classified run; ``observations`` are the
    non-failing, non-match verdicts grouped like findings (listed, never failing)."""
    verdict_counts = {c: dict.fromkeys(QUERY_VERDICTS, 0) for c in data.candidates}
    weighted = {c: dict.fromkeys(QUERY_VERDICTS, 0.0) for c in data.candidates}
    for v in data.verdicts:
        verdict_counts[v.candidate][v.verdict] += 1
        weighted[v.candidate][v.verdict] += v.weight
    perf_counts = {c: dict.fromkeys(PERF_VERDICTS, 0) for c in data.candidates}
    memory_counts = {c: dict.fromkeys(MEMORY_VERDICTS, 0) for c in data.candidates}
    for p in data.perf:
        perf_counts[p.candidate][p.verdict] += 1
        if p.memory is not None:
            memory_counts[p.candidate][p.memory.verdict] += 1
    candidates = [
        {
            "name": c,
            "version": data.engine_version(c),
            "decision": "ship" if decisions.get(c) else "do_not_ship",
            "regressions": sum(1 for v in data.verdicts if v.candidate == c and v.is_regression),
            "faults_enabled": bool(data.engines.get(c, {}).get("faults_enabled")),
        }
        for c in data.candidates
    ]
    runner_exit = data.run.get("exit_code")
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": data.run_id,
        "pipeline": data.pipeline,
        "run_status": data.status,
        "started_at": str(data.run.get("started_at") or ""),
        "finished_at": str(data.run.get("finished_at") or ""),
        "generation_id": str(data.run.get("generation_id") or ""),
        "workload_id": str(data.run.get("workload_id") or ""),
        "workload_name": str(data.run.get("workload_name") or ""),
        "config_path": str(data.run.get("config_path") or ""),
        "filters": data.filters,
        "qsim_version": __version__,
        "exit_status": gate.exit_code,
        "runner_exit_code": runner_exit if isinstance(runner_exit, int) else None,
        "decision": "ship" if decisions and all(decisions.values()) else "do_not_ship",
        "gate": {
            "passed": gate.passed,
            "reasons": gate.reasons,
            "rules": {
                "gate_perf": settings.gate_perf,
                "gate_perf_ratio": settings.gate_perf_ratio,
                "gate_known": settings.gate_known,
                "gate_cosmetic": settings.gate_cosmetic,
                "gate_estimates": settings.gate_estimates,
                "gate_harness_errors": settings.gate_harness_errors,
                "gate_load": settings.gate_load,
            },
        },
        "baseline": {"name": data.baseline, "version": data.engine_version(data.baseline)},
        "candidates": candidates,
        "faults_enabled": data.faults_enabled,
        "diff_sample_rows": settings.diff_sample_rows,
        "verdict_counts": verdict_counts,
        "weighted_verdict_counts": weighted,
        "perf_counts": perf_counts,
        "under_load": _under_load(data, settings),
        "plan_changes": _plan_changes(data),
        "memory_counts": memory_counts,
        "previous_run_id": changes.previous_run_id,
        "findings": {
            "new": [_finding(f, settings) for f in changes.with_status("new")],
            "known": [_finding(f, settings) for f in changes.with_status("known")],
            "fixed": [
                {
                    "id": k.id,
                    "candidate": k.candidate,
                    "tenant": k.tenant,
                    "pattern_id": k.pattern_id,
                    "verdict": k.verdict,
                    "category": k.category,
                }
                for k in changes.fixed
            ],
        },
        "observations": [_finding(f, settings) for f in observations],
        "baseline_from_bank": sum(
            1 for e in data.executions if e.engine == data.baseline and e.from_bank
        ),
        "missing": list(data.missing),
        "report": HTML_FILE,
        "junit": JUNIT_FILE,
    }
