"""The nightly gate and the ship decision.

Gate (the exit code of ``qsim nightly`` and ``qsim report --gate``):

- exit 2 when the run did not complete: nothing can be concluded from a partial run;
- exit 1 when any correctness finding is ``new`` and not accepted (a correctness finding is
  a verdict of :func:`~simulator.results.exit_codes.failing_verdicts`: a regression, a
  ``harness_error`` unless ``report.gate_harness_errors = false``, a
  ``cosmetic_difference`` with ``report.gate_cosmetic``, an ``estimate_changed`` with
  ``report.gate_estimates``; other non-match verdicts are observations and never fail) (with
  ``report.gate_known = true`` also any ``known`` one that is not accepted);
- exit 1 when ``report.gate_perf`` is on and a pattern is a confirmed performance
  regression (perf verdict ``regressed``, or memory verdict ``memory_regressed``, each of
  which already passed the statistical test and the practical threshold) with ratio >=
  ``report.gate_perf_ratio`` (the memory ratio for a memory finding) and not accepted. A
  slower or hungrier release stays so on the second night, so being known does not pass
  this rule;
- exit 0 otherwise.

Ship decision (the verdict line of the report, per candidate): DO NOT SHIP while the
candidate has any unaccepted correctness finding, new or known, or a gating performance
regression, or the run is incomplete; SHIP otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simulator.config import ReportSection
from simulator.report.findings import CORRECTNESS, OBSERVED, Finding
from simulator.results.exit_codes import EXIT_PASS, exit_code


@dataclass
class GateResult:
    """The gate's exit code, the findings that failed it and one line per reason."""

    exit_code: int
    failing: list[Finding] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.exit_code == EXIT_PASS


def _perf_gates(finding: Finding, settings: ReportSection) -> bool:
    return (
        settings.gate_perf
        and finding.ratio is not None
        and finding.ratio >= settings.gate_perf_ratio
        and finding.accepted is None
    )


def fails_gate(finding: Finding, settings: ReportSection) -> bool:
    """True when this finding alone makes the nightly gate fail (an observation never)."""
    if finding.status == OBSERVED:
        return False
    if finding.category == CORRECTNESS:
        if finding.accepted is not None:
            return False
        return finding.status == "new" or settings.gate_known
    return _perf_gates(finding, settings)


def blocks_ship(finding: Finding, settings: ReportSection) -> bool:
    """True when this finding makes its candidate DO NOT SHIP (new or known alike; an
    observation never)."""
    if finding.status == OBSERVED:
        return False
    if finding.category == CORRECTNESS:
        return finding.accepted is None
    return _perf_gates(finding, settings)


def apply_gate(findings: list[Finding], settings: ReportSection, complete: bool) -> GateResult:
    """Apply the gate rules above to a classified list of findings."""
    failing = [f for f in findings if fails_gate(f, settings)]
    reasons = [
        f"{f.status} {f.category} finding {f.id}"
        + (f" (ratio {f.ratio:.2f})" if f.ratio is not None else "")
        for f in failing
    ]
    if not complete:
        reasons = ["run did not complete", *reasons]
    return GateResult(exit_code(failing=bool(failing), complete=complete), failing, reasons)


def ship_decisions(
    findings: list[Finding], candidates: list[str], settings: ReportSection, complete: bool
) -> dict[str, bool]:
    """Per candidate: True for SHIP, False for DO NOT SHIP."""
    return {
        c: complete and not any(f.key.candidate == c and blocks_ship(f, settings) for f in findings)
        for c in candidates
    }
