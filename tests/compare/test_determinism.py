"""Determinism: a baseline that disagrees with itself makes the query nondeterministic and
names what moved; float noise within tolerance does not count as movement."""

from __future__ import annotations

import math

import pyarrow as pa
from compare_records import Query, execution, table_state

from simulator.compare.determinism import baseline_consistency
from simulator.compare.judge import judge_query
from simulator.config import CompareSection

CFG = CompareSection()


def result(values, picked="x") -> pa.Table:
    return pa.table({"id": [1, 2], "picked": [picked, picked], "score": values})


def test_baseline_disagreeing_with_itself_is_nondeterministic_naming_the_columns():
    runs = [execution(result([1.0, 2.0], "x")), execution(result([1.0, 2.0], "y"))]
    candidate = execution(result([1.0, 2.0], "z"), engine="c")
    verdict = judge_query(Query(), runs, candidate, CFG, "c", "run")
    assert (verdict.verdict, verdict.reason) == (
        "nondeterministic",
        "baseline_disagrees_with_itself",
    )
    assert verdict.evidence["moved_columns"] == ["picked"]
    assert verdict.evidence["baseline_runs"] == 2
    assert not verdict.is_regression


def test_row_count_movement_is_reported():
    runs = [execution(result([1.0, 2.0])), execution(result([1.0, 2.0]).slice(0, 1))]
    outcome = baseline_consistency(Query(), runs, CFG)
    assert outcome.evidence["moved_columns"] == ["row_count"]


def test_float_noise_within_tolerance_is_not_movement(tmp_path):
    below = 1234.5678
    noisy = math.nextafter(below, math.inf)
    runs = [
        execution(result([below, 2.0]), folder=tmp_path),
        execution(result([noisy, 2.0]), folder=tmp_path),
    ]
    assert baseline_consistency(Query(), runs, CFG) is None


def test_consistent_runs_and_single_runs_are_fine():
    same = [execution(result([1.0, 2.0])), execution(result([1.0, 2.0]))]
    assert baseline_consistency(Query(), same, CFG) is None
    assert baseline_consistency(Query(), same[:1], CFG) is None


def test_flaky_baseline_status_is_nondeterministic():
    runs = [execution(result([1.0, 2.0])), execution(status="timeout")]
    outcome = baseline_consistency(Query(), runs, CFG)
    assert outcome.reason == "baseline_status_flaky"
    assert outcome.evidence["baseline_statuses"] == ["ok", "timeout"]


def test_moved_partitions_are_named_and_different_prestates_ignored():
    table = pa.table({"day": ["d1", "d2"], "v": [0.5, 0.7]})
    moved = pa.table({"day": ["d1", "d2"], "v": [0.5, 0.9]})
    query = Query(kind="insert", tables_written=["t"])
    runs = [
        execution(writes={"t": table_state(table, "t", ["day"], rows_before=0)}),
        execution(writes={"t": table_state(moved, "t", ["day"], rows_before=0)}),
    ]
    outcome = baseline_consistency(query, runs, CFG)
    assert outcome.evidence["moved_partitions"] == {"t": ["day=d2"]}
    runs[1].writes["t"].rows_before = 5
    assert baseline_consistency(query, runs, CFG) is None


def test_limit_without_order_value_movement_is_expected():
    runs = [execution(result([1.0, 2.0], "x")), execution(result([1.0, 2.0], "y"))]
    assert baseline_consistency(Query(limit=2), runs, CFG) is None
