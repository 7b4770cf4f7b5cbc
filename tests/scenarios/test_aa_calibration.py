"""A/A calibration: the baseline against three identical candidates (same DuckDB release,
same settings, same cached runtime, no faults) in one run over configs/aa.toml. Real Ray,
real engine workers; the performance phase times every measured pattern."""

from __future__ import annotations

from collections import Counter

import pytest

from simulator.selftest.calibration import ERRORS, CalibrationRun, run_calibration
from simulator.selftest.suite import ERROR_RATE, calibration_rows

# Timing assertions: run alone after the parallel suite (make test), on an idle machine.
pytestmark = [pytest.mark.slow, pytest.mark.perf_isolated]

REPLICAS = 3


@pytest.fixture(scope="module")
def aa(tmp_path_factory: pytest.TempPathFactory) -> CalibrationRun:
    return run_calibration(
        tmp_path_factory.mktemp("aa"),
        replicas=REPLICAS,
        error_rate=ERROR_RATE,
        perf={"max_patterns": 16},
    )


def test_identical_candidates_have_no_correctness_finding(aa: CalibrationRun) -> None:
    assert len(aa.replicas) == REPLICAS
    for replica in aa.replicas:
        verdicts = Counter(v["verdict"] for v in aa.verdicts[replica])
        assert aa.correctness_alarms(replica) == [], replica
        assert set(verdicts) <= {"match", "nondeterministic", "both_error", "skipped"}
        assert verdicts["match"] >= 40
    # The replicas saw the same statements and agree on every query's verdict.
    by_query = [
        {v["query_id"]: v["verdict"] for v in aa.verdicts[replica]} for replica in aa.replicas
    ]
    assert by_query[0] == by_query[1] == by_query[2]


def test_every_replica_had_its_patterns_timed(aa: CalibrationRun) -> None:
    alarms, patterns = aa.false_alarm_rate()
    assert patterns == REPLICAS * 16
    for replica in aa.replicas:
        assert sum(aa.perf_counts(replica).values()) == 16
        assert all(p["pairs"] >= 5 for p in aa.perf[replica])
    assert 0 <= alarms <= patterns


def test_false_alarm_rate_is_at_most_the_configured_rate(aa: CalibrationRun) -> None:
    alarms, patterns = aa.false_alarm_rate()
    assert alarms / patterns <= aa.allowed_rate
    row = next(r for r in calibration_rows(aa) if r.fault == "none (A/A performance)")
    assert row.ok


def test_every_injected_error_is_a_candidate_error_and_no_other_exists(aa: CalibrationRun) -> None:
    injected, judged, others = aa.error_verdicts()
    assert len(injected) >= 1
    assert judged == injected
    assert others == []
    for verdict in aa.verdicts[ERRORS]:
        if verdict["query_id"] in injected:
            assert verdict["reason"] == "InjectedFault"
            assert verdict["evidence"]["baseline"]["status"] == "ok"
