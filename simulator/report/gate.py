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
- exit 1 when ``report.gate_load`` is on and a pattern, or the whole workload, is
  ``regressed`` under load (:mod:`simulator.compare.load`). Off by default: the load phase
  runs each query once per side on shared cores, interleaved with the other engine, so its
  verdicts have far less power than the isolated perf phase and depend on the machine
  being as loaded on the next night; a speed gate belongs to the isolated phase, and errors
  and timeouts under load already gate as correctness verdicts (``candidate_error``,
  ``timeout``). A pipeline on dedicated hardware can turn it on;
- exit 0 otherwise.

Ship decision (the verdict line of the report, per candidate): DO NOT SHIP while the
candidate has any unaccepted correctness finding, new or known, or a gating performance
regression, or (with ``report.gate_load``) a regression under load, or the run is
incomplete; SHIP otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simulator.config import ReportSection
from simulator.report.findings import CORRECTNESS, OBSERVED, Finding
from simulator.results.exit_codes import EXIT_PASS, exit_code
from simulator.results.load_verdicts import LoadVerdict


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


def load_gates(verdict: LoadVerdict, settings: ReportSection) -> bool:
    """True when this load verdict alone fails the gate (``report.gate_load``)."""
    return settings.gate_load and verdict.verdict == "regressed"


def apply_gate(
    findings: list[Finding],
    settings: ReportSection,
    complete: bool,
    load: list[LoadVerdict] | None = None,
) -> GateResult:
    """Apply the gate rules above to a classified list of findings and the load verdicts."""
    failing = [f for f in findings if fails_gate(f, settings)]
    reasons = [
        f"{f.status} {f.category} finding {f.id}"
        + (f" (ratio {f.ratio:.2f})" if f.ratio is not None else "")
        for f in failing
    ]
    slow = [v for v in load or [] if load_gates(v, settings)]
    reasons += [
        f"{v.candidate} regressed under load on "
        + (f"pattern {v.pattern_id}" if v.pattern_id else "the whole workload")
        + (f" (ratio {v.ratio:.2f})" if v.ratio is not None else "")
        for v in slow
    ]
    if not complete:
        reasons = ["run did not complete", *reasons]
    failed = bool(failing) or bool(slow)
    return GateResult(exit_code(failing=failed, complete=complete), failing, reasons)


def ship_decisions(
    findings: list[Finding],
    candidates: list[str],
    settings: ReportSection,
    complete: bool,
    load: list[LoadVerdict] | None = None,
) -> dict[str, bool]:
    """Per candidate: True for SHIP, False for DO NOT SHIP."""
    return {
        c: complete
        and not any(f.key.candidate == c and blocks_ship(f, settings) for f in findings)
        and not any(v.candidate == c and load_gates(v, settings) for v in load or [])
        for c in candidates
    }
