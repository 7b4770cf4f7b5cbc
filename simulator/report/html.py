"""``report.html``: one self-contained page (inline CSS, inline script, inline SVG charts)
rendered with jinja2 with autoescape on. A Content-Security-Policy allows only the page's
own script (by hash) and no network fetch at all, a second guard behind escaping."""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import jinja2
import markupsafe

from simulator import __version__
from simulator.config import ReportSection
from simulator.report import charts
from simulator.report.evidence import Evidence
from simulator.report.findings import Acceptance, Changes, Finding, by_severity
from simulator.report.gate import GateResult, fails_gate
from simulator.report.plan_view import plan_view
from simulator.report.rollup import PatternRow, TenantRow
from simulator.report.under_load import load_settings, under_load_view
from simulator.results.masking import neutralize_bidi
from simulator.results.reader import RunData
from simulator.results.verdicts import QUERY_VERDICTS, PerfVerdict

TEMPLATES = Path(__file__).parent / "templates"


def _shown(value: object) -> object:
    """What the page shows for a value: text without bidirectional controls (markup the
    page built itself, such as the SVG charts, stays markup)."""
    if isinstance(value, markupsafe.Markup):
        return markupsafe.Markup(neutralize_bidi(value))
    return neutralize_bidi(value) if isinstance(value, str) else value


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        # Every value the page shows (reasons, SQL, tenant names, errors) loses its
        # bidirectional controls, which would otherwise reorder the text after them.
        finalize=_shown,
    )
    env.filters["ms"] = lambda v: "—" if v is None else f"{v:,.2f}"
    env.filters["ratio"] = lambda v: "—" if v is None else f"{v:.2f}×"
    env.filters["num"] = lambda v: f"{v:,.0f}" if float(v).is_integer() else f"{v:,.2f}"
    return env


@cache
def _static(name: str) -> str:
    return (TEMPLATES / name).read_text(encoding="utf-8")


def content_security_policy(script: str) -> str:
    """The page's CSP: no fetches, inline styles, and only the exact script given."""
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
    return (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"
    )


@dataclass
class FindingView:
    """A finding with its evidence and an anchor safe to use as an HTML id."""

    anchor: str
    finding: Finding
    ev: Evidence
    fails_gate: bool

    @property
    def id(self) -> str:
        return self.finding.id

    @property
    def verdict(self) -> str:
        return self.finding.key.verdict

    @property
    def pattern_id(self) -> str:
        return self.finding.key.pattern_id

    @property
    def tenant(self) -> str:
        return self.finding.key.tenant

    @property
    def candidate(self) -> str:
        return self.finding.key.candidate

    @property
    def queries(self) -> int:
        return len(self.finding.verdicts)

    @property
    def status(self) -> str:
        return self.finding.status

    @property
    def accepted(self) -> Acceptance | None:
        return self.finding.accepted

    @property
    def kind(self) -> str:
        return self.finding.kind

    @property
    def weight(self) -> float:
        return self.finding.weight

    @property
    def under_load_only(self) -> bool:
        return self.finding.under_load_only

    @property
    def intermittent(self) -> bool:
        return self.finding.intermittent

    @property
    def perf(self) -> PerfVerdict | None:
        return self.finding.perf


def render_html(
    data: RunData,
    changes: Changes,
    gate: GateResult,
    decisions: dict[str, bool],
    settings: ReportSection,
    patterns: list[PatternRow],
    tenants: list[TenantRow],
    evidence: dict[str, Evidence],
    observations: list[Finding],
) -> str:
    """The report page as a string."""
    # Correctness before performance, new before known, then worst and heaviest first:
    # what a reader must see first.
    ordered = sorted(by_severity(changes.findings), key=lambda f: f.status != "new")
    views = [
        FindingView(f"f{i}", f, evidence[f.id], fails_gate(f, settings))
        for i, f in enumerate(ordered, start=1)
    ]
    observed = [
        FindingView(f"o{i}", f, evidence[f.id], False)
        for i, f in enumerate(by_severity(observations), start=1)
    ]
    failing = Counter(f"{f.status} {f.category}" for f in gate.failing)
    gate_summary = ", ".join(f"{n} {what}" for what, n in sorted(failing.items()))
    by_pattern: dict[tuple[str, str, str], list[str]] = {}
    for f in changes.findings:
        labels = by_pattern.setdefault((f.key.candidate, f.key.tenant, f.key.pattern_id), [])
        labels.append(f.status)
        if f.accepted:
            labels.append("accepted")
    for key in changes.fixed:
        by_pattern.setdefault((key.candidate, key.tenant, key.pattern_id), []).append("fixed")
    candidate_lines = []
    for c in data.candidates:
        counts = {v: 0 for v in QUERY_VERDICTS}
        perf: dict[str, int] = {}
        for v in data.verdicts:
            if v.candidate == c:
                counts[v.verdict] += 1
        for p in data.perf:
            if p.candidate == c:
                perf[p.verdict] = perf.get(p.verdict, 0) + 1
                if p.memory is not None:
                    perf[p.memory.verdict] = perf.get(p.memory.verdict, 0) + 1
        candidate_lines.append(
            {
                "name": c,
                "version": data.engine_version(c),
                "ship": decisions.get(c, False),
                "counts": [(v, n) for v, n in counts.items() if n],
                "perf": sorted(perf.items()),
            }
        )
    engines = [
        {
            "name": name,
            "role": str(info.get("role") or ""),
            "version": data.engine_version(name),
            "adapter": str(info.get("adapter") or ""),
            "requirements": " ".join(str(r) for r in info.get("requirements") or []),
            "faults_enabled": bool(info.get("faults_enabled")),
        }
        for name, info in data.engines.items()
        if isinstance(info, dict)
    ]
    # Without the perf phase a pattern's latency is one load-phase timing per side, which
    # is noise under concurrent load: no latency chart is drawn from it.
    perf_enabled = data.perf_enabled()
    measured = [p for p in patterns if perf_enabled or p.latency_source == "perf"]
    ratios = [p.ratio for p in measured if p.ratio is not None]
    scatter = [
        (
            p.baseline_ms,
            p.candidate_ms,
            f"{p.candidate} {p.tenant} {p.pattern_id}",
            p.perf_verdict == "regressed",
        )
        for p in measured
        if p.baseline_ms is not None and p.candidate_ms is not None
    ]
    raw_load = data.run.get("load")
    load = (
        {key: raw_load.get(key) for key in ("mode", "concurrency", "peak_in_flight", "wall_s")}
        if isinstance(raw_load, dict)
        else {}
    )
    script = _static("report.js")
    page = _environment().get_template("report.html.j2")
    return page.render(
        csp=content_security_policy(script),
        css=_static("report.css"),
        script=script,
        qsim_version=__version__,
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
        run={
            "run_id": data.run_id,
            "pipeline": data.pipeline,
            "status": data.status,
            "generation_id": str(data.run.get("generation_id") or ""),
            "workload_id": str(data.run.get("workload_id") or ""),
            "workload_name": str(data.run.get("workload_name") or ""),
            "started_at": str(data.run.get("started_at") or ""),
            "finished_at": str(data.run.get("finished_at") or ""),
            "baseline": data.baseline,
            "baseline_version": data.engine_version(data.baseline),
        },
        complete=data.complete,
        filters=data.filters,
        load=load,
        ship=bool(decisions) and all(decisions.values()),
        candidate_lines=candidate_lines,
        gate=gate,
        gate_summary=gate_summary,
        faulty_engines=[e["name"] for e in engines if e["faults_enabled"]],
        diff_sample_rows=settings.diff_sample_rows,
        mask_literals=settings.mask_literals,
        missing=data.missing,
        previous_run_id=changes.previous_run_id,
        new=[v for v in views if v.status == "new"],
        known=[v for v in views if v.status == "known"],
        fixed=changes.fixed,
        engines=engines,
        bank_count=sum(1 for e in data.executions if e.engine == data.baseline and e.from_bank),
        perf_enabled=perf_enabled,
        charts={
            "histogram": charts.ratio_histogram(ratios),
            "scatter": charts.latency_scatter(scatter),
            "concurrency": charts.concurrency_timeline(data.executions),
        },
        verdict_columns=QUERY_VERDICTS,
        tenants=tenants,
        patterns=[
            {"row": p, "statuses": by_pattern.get((p.candidate, p.tenant, p.pattern_id), [])}
            for p in patterns
        ],
        findings=views,
        observed=observed,
        gate_rules=settings,
        under_load_only=[v for v in views + observed if v.under_load_only],
        under_load=under_load_view(data),
        load_rules=load_settings(data),
        plans=plan_view(data),
        load_schedule=raw_load.get("schedule") if isinstance(raw_load, dict) else None,
    )
