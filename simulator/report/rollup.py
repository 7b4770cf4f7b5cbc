"""Roll verdicts and latencies up to one row per pattern and per tenant (per candidate).

Latency comes from the pattern's performance verdict when the run measured one (paired,
isolated repetitions: ratio and confidence interval); otherwise from the median wall time
of the load-phase executions, which has no confidence interval. Peak memory (ratio, CI and
verdict) comes from the same performance verdict only: load-phase peaks are not paired.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field

from simulator.results.reader import RunData
from simulator.results.verdicts import MEMORY_REGRESSED, QUERY_VERDICTS, SEVERITY


@dataclass
class PatternRow:
    """One pattern of one tenant against one candidate."""

    candidate: str
    tenant: str
    pattern_id: str
    kind: str = ""
    queries: int = 0
    weight: float = 0.0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(QUERY_VERDICTS, 0))
    perf_verdict: str = ""
    baseline_ms: float | None = None
    candidate_ms: float | None = None
    ratio: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    latency_source: str = ""
    memory_verdict: str = ""
    memory_ratio: float | None = None
    memory_ci_low: float | None = None
    memory_ci_high: float | None = None

    @property
    def verdict(self) -> str:
        """The worst verdict among this pattern's queries ('' when none is judged yet)."""
        return next((v for v in SEVERITY if self.counts.get(v)), "")


@dataclass
class TenantRow:
    """One tenant against one candidate."""

    candidate: str
    tenant: str
    queries: int = 0
    weight: float = 0.0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(QUERY_VERDICTS, 0))
    perf_regressed: int = 0
    memory_regressed: int = 0
    patterns: int = 0


def _load_latency(data: RunData) -> dict[tuple[str, str, str], list[float]]:
    """Load-phase wall times keyed by (engine, tenant, pattern_id)."""
    latency: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for e in data.executions:
        query = data.queries.get((e.tenant, e.query_id))
        if e.phase != "load" or e.status != "ok" or query is None:
            continue
        latency[(e.engine, e.tenant, str(query.get("pattern_id") or ""))].append(e.wall_ms)
    return latency


def pattern_rows(data: RunData) -> list[PatternRow]:
    """Rows for every (candidate, tenant, pattern) with a verdict or a workload query."""
    rows: dict[tuple[str, str, str], PatternRow] = {}

    def row(candidate: str, tenant: str, pattern_id: str, kind: str) -> PatternRow:
        key = (candidate, tenant, pattern_id)
        if key not in rows:
            rows[key] = PatternRow(candidate, tenant, pattern_id, kind=kind)
        return rows[key]

    for candidate in data.candidates:
        for (tenant, _), query in data.queries.items():
            row(candidate, tenant, str(query.get("pattern_id") or ""), str(query.get("kind", "")))
    for v in data.verdicts:
        r = row(v.candidate, v.tenant, v.pattern_id, v.kind)
        r.queries += 1
        r.weight += v.weight
        r.counts[v.verdict] += 1
    for p in data.perf:
        r = row(p.candidate, p.tenant, p.pattern_id, p.kind)
        r.perf_verdict = p.verdict
        r.baseline_ms, r.candidate_ms = p.baseline_ms, p.candidate_ms
        r.ratio, r.ci_low, r.ci_high = p.ratio, p.ci_low, p.ci_high
        r.latency_source = "perf"
        if p.memory is not None:
            r.memory_verdict = p.memory.verdict
            r.memory_ratio = p.memory.ratio
            r.memory_ci_low, r.memory_ci_high = p.memory.ci_low, p.memory.ci_high
    latency = _load_latency(data)
    for r in rows.values():
        if r.latency_source:
            continue
        base = latency.get((data.baseline, r.tenant, r.pattern_id))
        cand = latency.get((r.candidate, r.tenant, r.pattern_id))
        if base and cand:
            r.baseline_ms, r.candidate_ms = statistics.median(base), statistics.median(cand)
            r.ratio = r.candidate_ms / r.baseline_ms if r.baseline_ms > 0 else None
            r.latency_source = "load"
    return [rows[k] for k in sorted(rows)]


def tenant_rows(patterns: list[PatternRow]) -> list[TenantRow]:
    """Per (candidate, tenant) sums of the pattern rows."""
    rows: dict[tuple[str, str], TenantRow] = {}
    for p in patterns:
        r = rows.setdefault((p.candidate, p.tenant), TenantRow(p.candidate, p.tenant))
        r.queries += p.queries
        r.weight += p.weight
        r.patterns += 1
        r.perf_regressed += p.perf_verdict == "regressed"
        r.memory_regressed += p.memory_verdict == MEMORY_REGRESSED
        for verdict, n in p.counts.items():
            r.counts[verdict] += n
    return [rows[k] for k in sorted(rows)]
