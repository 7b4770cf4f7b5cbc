"""The gate rule for regressions under load: reported apart, failing only with
``report.gate_load``; and the self-test's load rows."""

from __future__ import annotations

from pathlib import Path

from simulator.config import ReportSection
from simulator.report.gate import apply_gate, ship_decisions
from simulator.results.load_verdicts import LoadVerdict
from simulator.selftest.calibration import LOAD_SLOW, CalibrationRun
from simulator.selftest.suite import load_rows


def _load(verdict: str, pattern_id: str = "", candidate: str = "cand") -> LoadVerdict:
    return LoadVerdict("r", candidate, pattern_id, "select", verdict, 40, ratio=2.5)


def test_a_regression_under_load_gates_only_when_gate_load_is_on() -> None:
    load = [_load("regressed"), _load("unchanged", "p1"), _load("insufficient", "p2")]
    off = apply_gate([], ReportSection(), True, load)
    assert off.exit_code == 0 and off.reasons == []
    assert ship_decisions([], ["cand"], ReportSection(), True, load) == {"cand": True}
    on = ReportSection(gate_load=True)
    gated = apply_gate([], on, True, load)
    assert gated.exit_code == 1
    assert gated.reasons == ["cand regressed under load on the whole workload (ratio 2.50)"]
    assert ship_decisions([], ["cand", "other"], on, True, load) == {"cand": False, "other": True}
    assert apply_gate([], on, True, [_load("unstable"), _load("improved", "p1")]).exit_code == 0


def test_selftest_load_rows_pass_only_on_a_quiet_replica_and_a_found_slowdown() -> None:
    run = CalibrationRun("r", Path("."), 1.0, replicas=["duckdb_same_r1"])
    run.load = {
        "duckdb_same_r1": [
            {"pattern_id": "", "verdict": "unchanged"},
            {"pattern_id": "p1", "verdict": "insufficient"},
        ],
        LOAD_SLOW: [{"pattern_id": "", "verdict": "regressed", "ratio": 2.4, "samples": 60}],
    }
    aa, found = load_rows(run)
    assert aa.ok and found.ok and "ratio 2.40" in found.seen
    run.load["duckdb_same_r1"][0]["verdict"] = "improved"
    run.load[LOAD_SLOW][0]["verdict"] = "unstable"
    aa, found = load_rows(run)
    assert not aa.ok and not found.ok
