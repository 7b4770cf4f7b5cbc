"""The CLI summary: every non-match verdict is a visible top finding, worst first, with
its reason masked, and the failing rule is the one of results/exit_codes.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from simulator.config import ReportSection
from simulator.results.meta import RunMeta
from simulator.runner.summary import regressed, render


def _verdict(query_id: str, verdict: str, weight: float = 1.0, **kw: Any) -> dict[str, Any]:
    return {
        "candidate": "rc",
        "tenant": "t01",
        "kind": "select",
        "pattern_id": f"p_{query_id}",
        "query_id": query_id,
        "verdict": verdict,
        "weight": weight,
        "reason": "",
        **kw,
    }


VERDICTS = [
    _verdict("q1", "skipped", 50.0, reason="candidate: statement refused"),
    _verdict("q2", "estimate_changed", 9.0),
    _verdict("q3", "result_mismatch", 1.0),
    _verdict("q4", "harness_error", 2.0, reason="HarnessDecodeError"),
    _verdict(
        "q5",
        "candidate_error",
        3.0,
        reason="ConversionException",
        evidence={"candidate": {"error_message": "Could not convert string 'zq@x.org' to X"}},
    ),
    _verdict("q6", "baseline_error", 1.0, intermittent=True),
    _verdict("q7", "match", 99.0),
]


def test_top_findings_list_every_non_match_verdict_worst_first() -> None:
    meta = RunMeta(run_id="r", baseline="b", candidates=["rc"])
    text = render(meta, VERDICTS, [], Path("/r"), status="complete", code=1, wall_s=1.0, notes=[])
    lines = [line for line in text.splitlines() if " query q" in line]
    order = [line.split(" query ")[1].split()[0].rstrip(":") for line in lines]
    assert order == ["q3", "q5", "q4", "q6", "q2", "q1"]
    assert "zq@x.org" not in text
    assert "ConversionException: Could not convert string '?' to X" in lines[1]
    assert "[intermittent]" in lines[3]


def test_harness_errors_fail_the_run_unless_switched_off() -> None:
    harness = [_verdict("q4", "harness_error")]
    assert regressed(harness, [], ReportSection())
    assert not regressed(harness, [], ReportSection(gate_harness_errors=False))
    cosmetic = [_verdict("q8", "cosmetic_difference")]
    assert not regressed(cosmetic, [], ReportSection())
    assert regressed(cosmetic, [], ReportSection(gate_cosmetic=True))


def _perf(pattern: str, verdict: str, memory: str | None, ratio: float = 1.0) -> dict[str, Any]:
    record: dict[str, Any] = {
        "candidate": "rc",
        "tenant": "t01",
        "pattern_id": pattern,
        "verdict": verdict,
        "ratio": ratio,
        "ci_low": ratio * 0.95,
        "ci_high": ratio * 1.05,
        "pairs": 15,
    }
    if memory is not None:
        record["memory"] = {
            "verdict": memory,
            "ratio": 1.42,
            "ci_low": 1.4,
            "ci_high": 1.44,
            "pairs": 15,
        }
    return record


def test_a_memory_regression_fails_the_run_and_is_a_top_finding() -> None:
    hungry = [_perf("pA", "unchanged", "memory_regressed"), _perf("pB", "unchanged", None)]
    assert regressed([], hungry, ReportSection())
    assert not regressed([], hungry, ReportSection(gate_perf=False))
    assert not regressed([], [_perf("pA", "unchanged", "memory_unchanged")], ReportSection())
    meta = RunMeta(run_id="r", baseline="b", candidates=["rc"])
    text = render(meta, [], hungry, Path("/r"), status="complete", code=1, wall_s=1.0, notes=[])
    assert "performance: unchanged 2, memory_regressed 1" in text
    assert "top findings (0 correctness, 1 performance):" in text
    assert "more memory" in text and "x1.42 peak RSS (CI 1.40-1.44, 15 pairs)" in text
