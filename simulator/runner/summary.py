"""The one-screen summary printed at the end of a run, and the run's exit code.

Exit codes: 0 nothing regressed, 1 a failing verdict (a correctness regression or, by
default, a harness error: :func:`~simulator.results.exit_codes.failing_verdicts`) or, with
``report.gate_perf``, a confirmed performance regression (latency ``regressed`` or peak
memory ``memory_regressed``), 130 interrupted. The top findings
list every verdict but ``match``, worst first, then heaviest.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from simulator.config import ReportSection
from simulator.results.exit_codes import EXIT_PASS, EXIT_REGRESSION, failing_verdicts
from simulator.results.masking import mask_error, raw_values_allowed
from simulator.results.meta import RunMeta
from simulator.results.verdicts import (
    MEMORY_REGRESSED,
    MEMORY_VERDICTS,
    PERF_VERDICTS,
    QUERY_VERDICTS,
    SEVERITY,
)

TOP_FINDINGS = 8


def verdict_counts(
    verdicts: list[dict[str, Any]], candidates: list[str]
) -> dict[str, dict[str, int]]:
    """candidate -> verdict -> count (every candidate present, zero counts left out)."""
    counts: dict[str, Counter[str]] = {c: Counter() for c in candidates}
    for v in verdicts:
        counts.setdefault(v["candidate"], Counter())[v["verdict"]] += 1
    return {c: {k: n[k] for k in QUERY_VERDICTS if n[k]} for c, n in counts.items()}


def perf_counts(perf: list[dict[str, Any]], candidates: list[str]) -> dict[str, dict[str, int]]:
    """candidate -> performance verdict (latency, then peak memory) -> count."""
    counts: dict[str, Counter[str]] = {c: Counter() for c in candidates}
    for v in perf:
        counts.setdefault(v["candidate"], Counter())[v["verdict"]] += 1
        if memory_verdict(v):
            counts[v["candidate"]][memory_verdict(v)] += 1
    known = (*PERF_VERDICTS, *MEMORY_VERDICTS)
    return {c: {k: n[k] for k in known if n[k]} for c, n in counts.items()}


def memory_verdict(perf: dict[str, Any]) -> str:
    """A perf record's peak-memory verdict, "" when memory was not judged."""
    return str((perf.get("memory") or {}).get("verdict") or "")


def regressed(
    verdicts: list[dict[str, Any]],
    perf: list[dict[str, Any]],
    settings: ReportSection,
    load: list[dict[str, Any]] | None = None,
) -> bool:
    """True when any verdict fails the run (:func:`~simulator.results.exit_codes.
    failing_verdicts`), a performance regression when ``report.gate_perf``, or a regression
    under load when ``report.gate_load``: what fails a complete run (the exit code is
    :func:`simulator.results.exit_codes.exit_code`)."""
    failing = failing_verdicts(settings)
    if any(v["verdict"] in failing for v in verdicts):
        return True
    if settings.gate_load and any(v["verdict"] == "regressed" for v in load or []):
        return True
    return settings.gate_perf and any(
        v["verdict"] == "regressed" or memory_verdict(v) == MEMORY_REGRESSED for v in perf
    )


def _severity_and_weight(v: dict[str, Any]) -> tuple[int, float, str, str]:
    """Sort key of a top finding: worst verdict first, then heaviest, then by name."""
    verdict = str(v["verdict"])
    rank = SEVERITY.index(verdict) if verdict in SEVERITY else len(SEVERITY)
    return (rank, -float(v.get("weight", 1.0)), v["candidate"], v["query_id"])


def _error_text(v: dict[str, Any]) -> str:
    """The failing side's error message from the verdict's evidence (candidate first)."""
    evidence = v.get("evidence") or {}
    for side in ("candidate", "baseline"):
        info = evidence.get(side)
        if isinstance(info, dict) and info.get("error_message"):
            return str(info["error_message"])
    return ""


def _finding_line(v: dict[str, Any], raw_values: bool) -> str:
    """One top finding: its reason and the engine's error text, masked (they may quote
    customer values) unless the run opted in to customer values."""
    reason = ": ".join(t for t in (str(v.get("reason", "")), _error_text(v)) if t)
    reason = " ".join((reason if raw_values else mask_error(reason)).split())
    if len(reason) > 100:
        reason = reason[:97] + "..."
    labels = "".join(
        f" [{label}]"
        for label, on in (
            ("under load only", v.get("under_load_only")),
            ("intermittent", v.get("intermittent")),
        )
        if on
    )
    return (
        f"  {v['candidate']:<12} {v['verdict']:<16} {v['tenant']:<5} {v['kind']:<7} "
        f"pattern {str(v['pattern_id'])[:10]} query {v['query_id']}{labels}: {reason}"
    )


def render(
    meta: RunMeta,
    verdicts: list[dict[str, Any]],
    perf: list[dict[str, Any]],
    run_dir: Path,
    *,
    status: str,
    code: int,
    wall_s: float,
    notes: list[str],
) -> str:
    """The summary text; its last line is the run folder."""
    candidates = list(meta.candidates)
    baseline = meta.baseline

    def engine(name: str) -> str:
        info = meta.engines.get(name)
        adapter = info.adapter if info is not None else "?"
        version = info.version if info is not None else ""
        return f"{name} ({adapter} {version or '?'})"

    lines = [
        f"qsim run {meta.run_id}: {status} in {wall_s:.1f} s; generation "
        f"{meta.generation_id[:12]}, workload {meta.workload_name} "
        f"({meta.queries} queries, {len(meta.tenants)} tenants), "
        f"baseline {engine(baseline)}",
    ]
    vcounts = verdict_counts(verdicts, candidates)
    pcounts = perf_counts(perf, candidates)
    for candidate in candidates:
        correctness = ", ".join(f"{k} {n}" for k, n in vcounts.get(candidate, {}).items()) or "none"
        speed = (
            ", ".join(f"{k} {n}" for k, n in pcounts.get(candidate, {}).items()) or "not measured"
        )
        lines.append(f"candidate {engine(candidate)}")
        lines.append(f"  correctness: {correctness}")
        lines.append(f"  performance: {speed}")
    # Every verdict but match is a finding a reader must be able to see, worst first.
    findings = [v for v in verdicts if v["verdict"] != "match"]
    findings.sort(key=_severity_and_weight)
    regressed = [p for p in perf if p["verdict"] == "regressed"]
    hungrier = [p for p in perf if memory_verdict(p) == MEMORY_REGRESSED]
    if findings or regressed or hungrier:
        lines.append(
            f"top findings ({len(findings)} correctness, "
            f"{len(regressed) + len(hungrier)} performance):"
        )
        raw_values = raw_values_allowed(meta.config)
        lines.extend(_finding_line(v, raw_values) for v in findings[:TOP_FINDINGS])
        for p in sorted(regressed, key=lambda p: -float(p["ratio"]))[:3]:
            lines.append(
                f"  {p['candidate']:<12} {'slower':<16} {p['tenant']:<5} pattern "
                f"{str(p['pattern_id'])[:10]}: x{p['ratio']:.2f} "
                f"(CI {p['ci_low']:.2f}-{p['ci_high']:.2f}, {p['pairs']} pairs)"
            )
        for p in sorted(hungrier, key=lambda p: -float(p["memory"]["ratio"]))[:3]:
            m = p["memory"]
            lines.append(
                f"  {p['candidate']:<12} {'more memory':<16} {p['tenant']:<5} pattern "
                f"{str(p['pattern_id'])[:10]}: x{m['ratio']:.2f} peak RSS "
                f"(CI {m['ci_low']:.2f}-{m['ci_high']:.2f}, {m['pairs']} pairs)"
            )
    lines.extend(notes)
    verdict_word = {EXIT_PASS: "no regressions", EXIT_REGRESSION: "REGRESSIONS FOUND"}.get(
        code, status
    )
    lines.append(f"exit {code}: {verdict_word}")
    lines.append(str(run_dir))
    return "\n".join(lines)
