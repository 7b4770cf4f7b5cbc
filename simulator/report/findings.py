"""Findings: the regressions of one run, their identity across runs, and their status.

A finding's identity is ``candidate / tenant / pattern_id / verdict``: every query of one
pattern of one tenant that got the same failing verdict
(:func:`~simulator.results.exit_codes.failing_verdicts`) against the same candidate is one
finding. Performance regressions are findings with verdict ``regressed`` (latency) or
``memory_regressed`` (peak memory), one per pattern each. The other
verdicts but ``match`` (skipped, baseline_error, nondeterministic, estimate_changed ...)
are grouped the same way as *observations*: shown with their evidence, never failing.

Status against the previous complete run of the same pipeline (see docs/summary-schema.md):

- ``new``: not in the previous run, and not accepted;
- ``known``: in the previous run, or accepted (``accepted`` then says by whom and why);
- ``fixed``: in the previous run, absent now although this run judged that pattern of that
  tenant against that candidate (a pattern this run did not cover is not "fixed").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date

from simulator.results.verdicts import MEMORY_REGRESSED, SEVERITY, PerfVerdict, Verdict

CORRECTNESS = "correctness"
PERFORMANCE = "performance"
PERF_REGRESSED = "regressed"
PERFORMANCE_VERDICTS = (PERF_REGRESSED, MEMORY_REGRESSED)
# The status of an observation: a non-match verdict that does not fail (never new or known).
OBSERVED = "observed"


@dataclass(frozen=True, order=True)
class FindingKey:
    """The identity of a finding across runs."""

    candidate: str
    tenant: str
    pattern_id: str
    verdict: str

    @property
    def id(self) -> str:
        return f"{self.candidate}/{self.tenant}/{self.pattern_id}/{self.verdict}"

    @property
    def category(self) -> str:
        return PERFORMANCE if self.verdict in PERFORMANCE_VERDICTS else CORRECTNESS


@dataclass(frozen=True)
class Acceptance:
    """A recorded decision that a finding is a known, accepted incompatibility.

    Empty ``candidate``/``tenant``/``verdict`` match any; ``until`` (ISO date, inclusive)
    ends the acceptance, None means open-ended.
    """

    id: int
    pattern_id: str
    reason: str
    accepted_by: str
    accepted_at: str
    until: str | None = None
    candidate: str = ""
    tenant: str = ""
    verdict: str = ""

    def active(self, today: date) -> bool:
        return self.until is None or today <= date.fromisoformat(self.until)

    def matches(self, key: FindingKey, today: date) -> bool:
        """True when this acceptance covers ``key`` on ``today``."""
        return (
            self.active(today)
            and self.pattern_id == key.pattern_id
            and self.candidate in ("", key.candidate)
            and self.tenant in ("", key.tenant)
            and self.verdict in ("", key.verdict)
        )


@dataclass
class Finding:
    """One finding of this run: its verdicts (correctness) or perf verdict, and status."""

    key: FindingKey
    kind: str
    verdicts: list[Verdict] = field(default_factory=list)
    perf: PerfVerdict | None = None
    status: str = "new"
    accepted: Acceptance | None = None

    @property
    def id(self) -> str:
        return self.key.id

    @property
    def category(self) -> str:
        return self.key.category

    @property
    def weight(self) -> float:
        """Log queries this finding represents."""
        if self.perf is not None:
            return self.perf.weight
        return sum(v.weight for v in self.verdicts)

    @property
    def ratio(self) -> float | None:
        """Candidate/baseline ratio of a performance finding: peak memory for a
        ``memory_regressed`` one, the judged time otherwise; None for correctness."""
        if self.perf is None:
            return None
        if self.key.verdict == MEMORY_REGRESSED and self.perf.memory is not None:
            return self.perf.memory.ratio
        return self.perf.ratio

    @property
    def under_load_only(self) -> bool:
        """True when every query of the finding failed only under concurrent load."""
        return bool(self.verdicts) and all(v.under_load_only for v in self.verdicts)

    @property
    def intermittent(self) -> bool:
        """True when a query of the finding failed intermittently in quiet replays too."""
        return any(v.intermittent for v in self.verdicts)

    @property
    def severity(self) -> int:
        """Rank of the verdict in :data:`~simulator.results.verdicts.SEVERITY` (0 worst);
        performance regressions rank after every correctness verdict."""
        verdict = self.key.verdict
        return SEVERITY.index(verdict) if verdict in SEVERITY else len(SEVERITY)

    @property
    def baseline_from_bank(self) -> bool:
        return any(v.baseline_from_bank for v in self.verdicts)

    @property
    def example(self) -> Verdict | None:
        """The concrete query shown as evidence: the heaviest one, then by query id."""
        if not self.verdicts:
            return None
        return sorted(self.verdicts, key=lambda v: (-v.weight, v.query_id))[0]


@dataclass
class Changes:
    """This run's findings sorted by status, plus the previous run's findings now fixed."""

    findings: list[Finding]
    fixed: list[FindingKey]
    previous_run_id: str | None

    def with_status(self, status: str) -> list[Finding]:
        return [f for f in self.findings if f.status == status]


def by_severity(findings: list[Finding]) -> list[Finding]:
    """``findings`` worst first: correctness before performance, then severity, then
    weight (heaviest first), then id."""
    return sorted(
        findings,
        key=lambda f: (f.category != CORRECTNESS, f.severity, -f.weight, f.key),
    )


def _group(verdicts: list[Verdict], keep: Collection[str]) -> dict[FindingKey, Finding]:
    grouped: dict[FindingKey, Finding] = {}
    for verdict in verdicts:
        if verdict.verdict not in keep:
            continue
        key = FindingKey(verdict.candidate, verdict.tenant, verdict.pattern_id, verdict.verdict)
        finding = grouped.setdefault(key, Finding(key=key, kind=verdict.kind))
        finding.verdicts.append(verdict)
    return grouped


def collect_observations(verdicts: list[Verdict], failing: Collection[str]) -> list[Finding]:
    """Group the verdicts that are neither ``match`` nor failing (skipped, baseline_error,
    nondeterministic, estimate_changed ...) like findings, worst first; status
    ``observed``."""
    keep = {v.verdict for v in verdicts} - set(failing) - {"match"}
    observed = list(_group(verdicts, keep).values())
    for finding in observed:
        finding.status = OBSERVED
    return by_severity(observed)


def collect_findings(
    verdicts: list[Verdict], perf: list[PerfVerdict], failing: Collection[str]
) -> list[Finding]:
    """Group the ``failing`` verdicts and regressed perf verdicts (latency and memory)
    into findings, sorted by id."""
    grouped = _group(verdicts, failing)
    for record in perf:
        for verdict in {record.verdict, record.memory_verdict} & set(PERFORMANCE_VERDICTS):
            key = FindingKey(record.candidate, record.tenant, record.pattern_id, verdict)
            grouped[key] = Finding(key=key, kind=record.kind, perf=record)
    return [grouped[k] for k in sorted(grouped)]


def covered_patterns(
    verdicts: list[Verdict], perf: list[PerfVerdict]
) -> dict[str, set[tuple[str, str, str]]]:
    """Per category, the (candidate, tenant, pattern_id) triples this run judged."""
    covered: dict[str, set[tuple[str, str, str]]] = defaultdict(set)
    for v in verdicts:
        if v.verdict != "skipped":
            covered[CORRECTNESS].add((v.candidate, v.tenant, v.pattern_id))
    for p in perf:
        covered[PERFORMANCE].add((p.candidate, p.tenant, p.pattern_id))
    return covered


def classify(
    findings: list[Finding],
    covered: dict[str, set[tuple[str, str, str]]],
    previous: set[FindingKey] | None,
    previous_run_id: str | None,
    acceptances: list[Acceptance],
    today: date,
) -> Changes:
    """Set each finding's status and acceptance; list previous findings that are now fixed.

    ``previous`` is None when the pipeline has no earlier complete run: then nothing is
    known or fixed except by acceptance.
    """
    previous = previous or set()
    current = {f.key for f in findings}
    for finding in findings:
        finding.accepted = next((a for a in acceptances if a.matches(finding.key, today)), None)
        seen = finding.key in previous
        finding.status = "known" if seen or finding.accepted else "new"
    fixed = sorted(
        key
        for key in previous - current
        if (key.candidate, key.tenant, key.pattern_id) in covered.get(key.category, set())
    )
    return Changes(findings=findings, fixed=fixed, previous_run_id=previous_run_id)
