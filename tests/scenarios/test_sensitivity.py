"""Sensitivity: one run over configs/aa.toml with a candidate whose SELECTs naming
``customers`` are 2x slower ([faults.latency] tables; 2x is the smallest slowdown found on
every pattern on a 2-core machine with these ~3 ms statements, see
simulator/selftest/suite.py) and one whose SELECTs fail with an injected error at a 1%
rate. Real Ray, real engine workers."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from simulator.results.layout import QUERIES_FILE, RecordKind
from simulator.results.reader import read_records
from simulator.selftest.calibration import ERRORS, SLOW, CalibrationRun, run_calibration
from simulator.selftest.suite import LATENCY_FACTOR

# Timing assertions: run alone after the parallel suite (make test), on an idle machine.
pytestmark = [pytest.mark.slow, pytest.mark.perf_isolated]


@pytest.fixture(scope="module")
def sensitivity(tmp_path_factory: pytest.TempPathFactory) -> CalibrationRun:
    return run_calibration(
        tmp_path_factory.mktemp("sensitivity"),
        replicas=0,
        latency_factor=LATENCY_FACTOR,
        error_rate=0.01,
        run_name="sensitivity",
    )


def test_every_injected_error_is_a_candidate_error_and_no_other_exists(
    sensitivity: CalibrationRun,
) -> None:
    injected, judged, others = sensitivity.error_verdicts()
    assert len(injected) >= 1
    assert judged == injected
    assert others == []
    for verdict in sensitivity.verdicts[ERRORS]:
        if verdict["query_id"] in injected:
            assert verdict["reason"] == "InjectedFault"
            assert verdict["evidence"]["baseline"]["status"] == "ok"
    # The slowed candidate returns the same results: no correctness finding at all.
    assert sensitivity.correctness_alarms(SLOW) == []


def test_latency_is_injected_on_statements_reading_customers_only(
    sensitivity: CalibrationRun,
) -> None:
    rows = pq.read_table(sensitivity.run_dir / QUERIES_FILE).to_pylist()
    reads = {row["query_id"]: {t.lower() for t in row["tables_read"]} for row in rows}
    timed = [
        r
        for r in read_records(sensitivity.run_dir, RecordKind.EXECUTIONS)
        if r["engine"] == SLOW and r["phase"] == "perf"
    ]
    assert len(timed) >= 100
    for record in timed:
        slowed = record["fault"].startswith("latency:+")
        assert slowed == ("customers" in reads[record["query_id"]]), record["query_id"]
    expected, _ = sensitivity.slow_patterns()
    assert len(expected) >= 3


def test_slowdown_is_regressed_on_those_patterns_and_no_others(
    sensitivity: CalibrationRun,
) -> None:
    expected, regressed = sensitivity.slow_patterns()
    assert regressed == expected
