"""judge_query: error verdicts, skips, evidence on both sides, the static nondeterminism
downgrade, the LIMIT subset check and the opt-in diff sample."""

from __future__ import annotations

import pyarrow as pa
import pytest
from compare_records import Query, execution

from simulator.canonical import row_hashes
from simulator.compare.judge import judge_query
from simulator.compare.result_files import row_hash_file
from simulator.config import CompareSection
from simulator.results.execution import Phase
from simulator.results.verdicts import QUERY_VERDICTS

CFG = CompareSection()
TABLE = pa.table({"k": [1, 2, 3], "v": ["a", "b", "c"]})
OTHER = pa.table({"k": [1, 2, 4], "v": ["a", "b", "d"]})


def judge(base, cand, query=None, **kwargs):
    return judge_query(query or Query(), [base], cand, CFG, "candidate", "run-1", **kwargs)


def ok(table=TABLE, engine="baseline", **kwargs):
    return execution(table, engine=engine, **kwargs)


def failed(engine, status="error", error_class="BinderException", message="no such column"):
    return execution(engine=engine, status=status, error_class=error_class, error_message=message)


@pytest.mark.parametrize(
    ("base", "cand", "verdict", "reason"),
    [
        (failed("b"), failed("c"), "both_error", ""),
        (
            failed("b"),
            failed("c", error_class="ParserException"),
            "both_error",
            "different_error_classes",
        ),
        (ok(), failed("c"), "candidate_error", "BinderException"),
        (ok(), failed("c", status="crash", error_class=""), "candidate_error", "crash"),
        (failed("b"), ok(engine="c"), "baseline_error", "BinderException"),
        (
            ok(),
            failed("c", status="timeout", error_class=""),
            "timeout",
            "candidate timed out; the baseline succeeded",
        ),
        (
            failed("b", status="timeout", error_class=""),
            failed("c", status="timeout", error_class=""),
            "both_error",
            "",
        ),
    ],
)
def test_error_verdicts(base, cand, verdict, reason):
    result = judge(base, cand)
    assert (result.verdict, result.reason) == (verdict, reason)


@pytest.mark.parametrize("harness_side", ["baseline", "candidate"])
def test_a_harness_failure_is_its_own_verdict_never_an_engine_error(harness_side):
    harness = failed(
        harness_side,
        status="harness_error",
        error_class="HarnessDecodeError",
        message="qsim cannot decode this result (m map<string, int32>): ...",
    )
    sides = {"baseline": ok(), "candidate": ok(engine="c"), harness_side: harness}
    result = judge(sides["baseline"], sides["candidate"])
    assert result.verdict == "harness_error" and not result.is_regression
    assert result.reason.startswith(f"{harness_side}: HarnessDecodeError")
    assert "map<string, int32>" in result.reason


def test_error_evidence_carries_both_classes_messages_and_versions():
    result = judge(ok(version="1.1.3"), failed("c", message="boom at line 1"))
    assert result.evidence["candidate"]["error_class"] == "BinderException"
    assert result.evidence["candidate"]["error_message"] == "boom at line 1"
    assert result.evidence["baseline"]["engine_version"] == "1.1.3"
    assert result.evidence["baseline"]["row_count"] == 3
    assert result.is_regression


def test_skips_carry_their_reason():
    skipped = execution(engine="c", status="skipped", error_message="cannot transpile MERGE")
    result = judge(ok(), skipped)
    assert (result.verdict, result.reason) == ("skipped", "candidate: cannot transpile MERGE")
    no_baseline = judge_query(Query(), [], ok(), CFG, "candidate", "run-1")
    assert (no_baseline.verdict, no_baseline.reason) == ("skipped", "no baseline execution")


def test_verdict_record_fields():
    query = Query(query_id="q9", tenant="t03", pattern_id="p7", weight=12.5)
    result = judge(ok(), ok(engine="c"), query)
    assert result.verdict == "match" and result.verdict in QUERY_VERDICTS
    assert (result.run_id, result.candidate, result.tenant) == ("run-1", "candidate", "t03")
    assert (result.query_id, result.pattern_id, result.weight) == ("q9", "p7", 12.5)
    assert result.evidence["candidate"]["multiset"] == result.evidence["baseline"]["multiset"]


def test_static_nondeterminism_turns_a_mismatch_into_nondeterministic():
    query = Query(nondeterministic=["rand()"])
    result = judge(ok(), ok(OTHER, engine="c"), query)
    assert (result.verdict, result.reason) == ("nondeterministic", "static: rand()")
    assert result.evidence["mismatch_reason"] == "values_differ"
    assert result.evidence["differing_columns"] == ["k", "v"]
    assert judge(ok(), ok(engine="c"), query).verdict == "match"


def test_limit_reason_is_not_a_static_excuse_for_a_row_count_change():
    query = Query(limit=3, nondeterministic=["limit without order by"])
    short = pa.table({"k": [1, 2], "v": ["a", "b"]})
    assert judge(ok(), ok(short, engine="c"), query).verdict == "result_mismatch"


def test_limit_in_a_subquery_is_a_static_reason():
    query = Query(order_by=True, order_keys=["k", "v"], nondeterministic=["limit_without_order_by"])
    result = judge(ok(), ok(OTHER, engine="c"), query)
    assert (result.verdict, result.reason) == ("nondeterministic", "static: limit_without_order_by")


def test_limit_subset_check_against_an_unlimited_result(tmp_path):
    query = Query(limit=2)
    unlimited = execution(TABLE, folder=tmp_path)
    base = execution(TABLE.slice(0, 2), folder=tmp_path)
    good = execution(TABLE.slice(1, 2), folder=tmp_path, engine="c")
    bad = execution(pa.table({"k": [1, 9], "v": ["a", "z"]}), folder=tmp_path, engine="c")
    result = judge(base, good, query, unlimited_baseline=unlimited)
    assert result.verdict == "match"
    assert result.evidence["compared"] == "row_count_schema_and_subset_of_unlimited"
    result = judge(base, bad, query, unlimited_baseline=unlimited)
    assert (result.verdict, result.reason) == (
        "result_mismatch",
        "limited_rows_not_in_unlimited_result",
    )


def test_diff_sample_is_off_by_default_and_bounded_when_asked(tmp_path):
    base = execution(TABLE, folder=tmp_path)
    cand = execution(OTHER, folder=tmp_path, engine="c")
    assert "diff_sample" not in judge(base, cand).evidence
    sample = judge(base, cand, diff_sample_rows=5).evidence["diff_sample"]
    assert sample["only_in_baseline"] == [{"k": 3, "v": "c"}]
    assert sample["only_in_candidate"] == [{"k": 4, "v": "d"}]


def test_derived_column_names_that_differ_with_equal_values_are_cosmetic():
    query = Query(derived_names=[False, True])
    base = ok(pa.table({"k": [1, 2], "upper(v)": ["A", "B"]}))
    cand = ok(pa.table({"k": [1, 2], "main.upper(v)": ["A", "B"]}), engine="c")
    result = judge(base, cand, query)
    assert (result.verdict, result.reason) == ("cosmetic_difference", "derived_column_name")
    assert result.evidence["derived_column_names"] == [
        {"position": 1, "baseline": "upper(v)", "candidate": "main.upper(v)"}
    ]
    assert not result.is_regression


def test_derived_column_names_do_not_hide_a_value_change():
    query = Query(derived_names=[False, True])
    base = ok(pa.table({"k": [1, 2], "upper(v)": ["A", "B"]}))
    cand = ok(pa.table({"k": [1, 2], "main.upper(v)": ["A", "b"]}), engine="c")
    result = judge(base, cand, query)
    assert (result.verdict, result.reason) == ("result_mismatch", "values_differ")
    assert result.evidence["derived_column_names"][0]["position"] == 1


def test_renamed_aliased_column_is_a_schema_mismatch():
    query = Query(derived_names=[False, False])
    cand = ok(pa.table({"key": [1, 2, 3], "v": ["a", "b", "c"]}), engine="c")
    result = judge(ok(), cand, query)
    assert (result.verdict, result.reason) == ("result_mismatch", "schema_mismatch")


def _unlimited(tmp_path, table, rows_returned=None):
    """The baseline's unlimited execution as the runner records it: row hashes only."""
    path = tmp_path / f"unlimited-{table.num_rows}-{rows_returned}.arrow"
    if rows_returned is None:
        path.write_bytes(row_hash_file([pa.array(row_hashes(table), pa.uint64())]))
    record = execution(engine="baseline")
    record.phase = Phase.UNLIMITED
    record.rows_returned = table.num_rows if rows_returned is None else rows_returned
    record.result_path = str(path) if rows_returned is None else ""
    return record


def test_limit_rows_are_checked_against_the_baselines_unlimited_row_hashes(tmp_path):
    whole = pa.table({"k": [1, 2, 3, 4], "v": ["a", "b", "c", "d"]})
    query = Query(limit=2)
    base = execution(whole.slice(0, 2), folder=tmp_path)
    good = execution(whole.slice(2, 2), folder=tmp_path, engine="c")
    bad = execution(pa.table({"k": [1, 9], "v": ["a", "z"]}), folder=tmp_path, engine="c")
    runs = [base, _unlimited(tmp_path, whole)]  # the runner hands the unlimited run along
    result = judge_query(query, runs, good, CFG, "candidate", "run-1")
    assert (result.verdict, result.evidence["compared"]) == (
        "match",
        "row_count_schema_and_subset_of_unlimited",
    )
    result = judge_query(query, runs, bad, CFG, "candidate", "run-1")
    assert (result.verdict, result.reason) == (
        "result_mismatch",
        "limited_rows_not_in_unlimited_result",
    )
    assert result.evidence["baseline_runs"] == 1  # the unlimited run is no determinism repeat
    too_large = [base, _unlimited(tmp_path, whole, rows_returned=10**9)]
    result = judge_query(query, too_large, bad, CFG, "candidate", "run-1")
    assert result.verdict == "match"
    assert result.evidence["subset_check"] == "not verified: unlimited result too large"


def test_the_cut_tie_group_must_come_from_the_unlimited_result(tmp_path):
    whole = pa.table({"k": [1, 2, 2, 2], "v": ["a", "b", "c", "d"]})
    query = Query(order_by=True, order_keys=["k"], limit=3)
    base = execution(whole.slice(0, 3), folder=tmp_path)
    other_tie = execution(pa.table({"k": [1, 2, 2], "v": ["a", "d", "b"]}), folder=tmp_path)
    invented = execution(pa.table({"k": [1, 2, 2], "v": ["a", "b", "x"]}), folder=tmp_path)
    runs = [base, _unlimited(tmp_path, whole)]
    assert judge_query(query, runs, other_tie, CFG, "c", "r").verdict == "match"
    result = judge_query(query, runs, invented, CFG, "c", "r")
    assert (result.verdict, result.reason) == (
        "result_mismatch",
        "limited_rows_not_in_unlimited_result",
    )
