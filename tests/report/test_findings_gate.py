"""Finding identity, new/known/fixed classification, acceptances, the gate and the ship
decision."""

from __future__ import annotations

from datetime import date

from simulator.config import ReportSection
from simulator.report.findings import (
    Acceptance,
    FindingKey,
    classify,
    collect_findings,
    collect_observations,
    covered_patterns,
)
from simulator.report.gate import apply_gate, ship_decisions
from simulator.results.exit_codes import failing_verdicts
from simulator.results.verdicts import PerfVerdict, Verdict

TODAY = date(2026, 11, 25)
FAILING = failing_verdicts(ReportSection())


def verdict(tenant: str, pattern: str, name: str, query: str = "q1", **kw: object) -> Verdict:
    return Verdict(
        run_id="r",
        candidate=str(kw.pop("candidate", "rc")),
        tenant=tenant,
        query_id=query,
        pattern_id=pattern,
        kind="select",
        verdict=name,
        **kw,  # type: ignore[arg-type]
    )


def perf(tenant: str, pattern: str, name: str, ratio: float) -> PerfVerdict:
    return PerfVerdict(
        run_id="r",
        candidate="rc",
        tenant=tenant,
        pattern_id=pattern,
        kind="select",
        verdict=name,
        ratio=ratio,
        ci_low=ratio * 0.9,
        ci_high=ratio * 1.1,
        p_value=0.001,
        q_value=0.01,
        pairs=10,
        baseline_ms=10.0,
        candidate_ms=10.0 * ratio,
    )


def accepted(pattern: str, **kw: object) -> Acceptance:
    return Acceptance(
        id=1, pattern_id=pattern, reason="known", accepted_by="ana", accepted_at="x", **kw
    )  # type: ignore[arg-type]


VERDICTS = [
    verdict("t1", "pA", "result_mismatch", "q1", weight=3.0),
    verdict("t1", "pA", "result_mismatch", "q2", weight=5.0),
    verdict("t1", "pA", "match", "q3"),
    verdict("t1", "pB", "candidate_error", "q4"),
    verdict("t2", "pA", "baseline_error", "q5"),
    verdict("t2", "pC", "match", "q6"),
]
PERF = [perf("t1", "pA", "unchanged", 1.0), perf("t2", "pC", "regressed", 1.5)]


def test_findings_group_by_candidate_tenant_pattern_and_verdict() -> None:
    findings = collect_findings(VERDICTS, PERF, FAILING)
    assert [f.id for f in findings] == [
        "rc/t1/pA/result_mismatch",
        "rc/t1/pB/candidate_error",
        "rc/t2/pC/regressed",
    ]
    mismatch = findings[0]
    assert len(mismatch.verdicts) == 2 and mismatch.weight == 8.0
    assert mismatch.example is not None and mismatch.example.query_id == "q2"  # heaviest
    assert findings[2].category == "performance" and findings[2].weight == 1.0


def test_new_known_and_fixed_against_the_previous_run() -> None:
    findings = collect_findings(VERDICTS, PERF, FAILING)
    previous = {
        FindingKey("rc", "t1", "pB", "candidate_error"),  # still there: known
        FindingKey("rc", "t2", "pC", "result_mismatch"),  # judged, now gone: fixed
        FindingKey("rc", "t9", "pZ", "write_mismatch"),  # not judged this run: not fixed
    }
    changes = classify(findings, covered_patterns(VERDICTS, PERF), previous, "r0", [], TODAY)
    status = {f.id: f.status for f in changes.findings}
    assert status == {
        "rc/t1/pA/result_mismatch": "new",
        "rc/t1/pB/candidate_error": "known",
        "rc/t2/pC/regressed": "new",
    }
    assert [k.id for k in changes.fixed] == ["rc/t2/pC/result_mismatch"]
    assert changes.previous_run_id == "r0"


def test_acceptance_scope_and_expiry() -> None:
    key = FindingKey("rc", "t1", "pA", "result_mismatch")
    assert accepted("pA").matches(key, TODAY)
    assert accepted("pA", candidate="rc", tenant="t1", verdict="result_mismatch").matches(
        key, TODAY
    )
    assert not accepted("pA", candidate="other").matches(key, TODAY)
    assert not accepted("pA", tenant="t2").matches(key, TODAY)
    assert not accepted("pA", verdict="candidate_error").matches(key, TODAY)
    assert not accepted("pB").matches(key, TODAY)
    assert accepted("pA", until="2026-11-25").matches(key, TODAY)  # inclusive
    assert not accepted("pA", until="2026-11-24").matches(key, TODAY)


def _gate(previous: set[FindingKey], acceptances: list[Acceptance], **settings: object):
    findings = collect_findings(VERDICTS, PERF, FAILING)
    changes = classify(
        findings, covered_patterns(VERDICTS, PERF), previous, "r0", acceptances, TODAY
    )
    cfg = ReportSection(**settings)  # type: ignore[arg-type]
    return apply_gate(changes.findings, cfg, complete=True), changes.findings, cfg


def test_gate_fails_on_new_unaccepted_correctness_findings() -> None:
    gate, _, _ = _gate(set(), [], gate_perf=False)
    assert gate.exit_code == 1
    assert [f.id for f in gate.failing] == [
        "rc/t1/pA/result_mismatch",
        "rc/t1/pB/candidate_error",
    ]
    assert gate.reasons[0] == "new correctness finding rc/t1/pA/result_mismatch"


def test_known_findings_pass_the_gate_unless_strict() -> None:
    seen = {
        FindingKey("rc", "t1", "pA", "result_mismatch"),
        FindingKey("rc", "t1", "pB", "candidate_error"),
    }
    gate, findings, cfg = _gate(seen, [], gate_perf=False)
    assert gate.exit_code == 0
    # The report still says do not ship: a known, unaccepted finding is still a bug.
    assert ship_decisions(findings, ["rc"], cfg, complete=True) == {"rc": False}
    strict, _, _ = _gate(seen, [], gate_perf=False, gate_known=True)
    assert strict.exit_code == 1 and len(strict.failing) == 2


def test_accepted_findings_pass_the_gate_and_ship() -> None:
    gate, findings, cfg = _gate(set(), [accepted("pA"), accepted("pB")], gate_perf=False)
    assert gate.exit_code == 0
    assert all(f.status == "known" and f.accepted for f in findings if f.category == "correctness")
    assert ship_decisions(findings, ["rc"], cfg, complete=True) == {"rc": True}


def test_perf_regressions_gate_by_ratio_even_when_known() -> None:
    acceptances = [accepted("pA"), accepted("pB")]
    seen = {FindingKey("rc", "t2", "pC", "regressed")}
    gate, _, _ = _gate(seen, acceptances)
    assert gate.exit_code == 1
    assert gate.reasons == ["known performance finding rc/t2/pC/regressed (ratio 1.50)"]
    assert _gate(seen, acceptances, gate_perf_ratio=1.6)[0].exit_code == 0
    assert _gate(seen, acceptances, gate_perf=False)[0].exit_code == 0
    assert _gate(seen, [*acceptances, accepted("pC")])[0].exit_code == 0


def test_incomplete_run_cannot_pass() -> None:
    findings = collect_findings([], [], FAILING)
    gate = apply_gate(findings, ReportSection(), complete=False)
    assert gate.exit_code == 2 and gate.reasons == ["run did not complete"]
    assert ship_decisions(findings, ["rc"], ReportSection(), complete=False) == {"rc": False}


KNOWN_CAUSES = [
    verdict("t1", "pH", "harness_error", "q7"),
    verdict("t1", "pC", "cosmetic_difference", "q8"),
    verdict("t1", "pE", "estimate_changed", "q9"),
    verdict("t1", "pS", "skipped", "q10", weight=9.0),
]


def _known_causes_gate(settings: ReportSection) -> tuple[list[str], list[str], int]:
    failing = failing_verdicts(settings)
    findings = collect_findings(KNOWN_CAUSES, [], failing)
    observed = collect_observations(KNOWN_CAUSES, failing)
    classify(findings, {}, None, None, [], TODAY)
    gate = apply_gate(findings + observed, settings, complete=True)
    return [f.key.verdict for f in findings], [f.key.verdict for f in observed], gate.exit_code


def test_harness_errors_fail_by_default_and_known_causes_do_not() -> None:
    findings, observed, code = _known_causes_gate(ReportSection())
    assert findings == ["harness_error"] and code == 1
    # Observations are listed worst first (by severity, then weight), and never fail.
    assert observed == ["estimate_changed", "cosmetic_difference", "skipped"]


def test_gate_keys_turn_known_causes_into_failing_findings() -> None:
    strict = ReportSection(gate_cosmetic=True, gate_estimates=True, gate_harness_errors=False)
    findings, observed, code = _known_causes_gate(strict)
    assert sorted(findings) == ["cosmetic_difference", "estimate_changed"] and code == 1
    assert observed == ["harness_error", "skipped"]
    _, _, code = _known_causes_gate(ReportSection(gate_harness_errors=False))
    assert code == 0
