"""Result comparison: multiset, per-column names, row count, schema, order and tie groups,
LIMIT without a total ORDER BY."""

from __future__ import annotations

import pyarrow as pa
import pytest
from compare_records import Query, execution, straddling_pair

from simulator.compare.results import compare_results, tie_groups_match
from simulator.config import CompareSection

CFG = CompareSection()


def rows(*data, names=("k", "v")) -> pa.Table:
    columns = list(zip(*data, strict=True)) if data else [[] for _ in names]
    return pa.table({n: list(c) for n, c in zip(names, columns, strict=True)})


def compare(base, cand, folder=None, **query):
    return compare_results(
        Query(**query),
        execution(base, folder=folder),
        execution(cand, folder=folder, engine="candidate"),
        CFG,
    )


def test_shuffled_rows_match_when_unordered():
    base = rows((1, "a"), (2, "b"), (2, "b"), (3, "c"))
    cand = rows((3, "c"), (2, "b"), (1, "a"), (2, "b"))
    outcome = compare(base, cand)
    assert outcome.verdict == "match"
    assert (
        outcome.evidence["baseline_result"]["multiset"]
        == (outcome.evidence["candidate_result"]["multiset"])
    )


def test_changed_value_names_the_column():
    outcome = compare(rows((1, "a"), (2, "b")), rows((1, "a"), (2, "X")))
    assert (outcome.verdict, outcome.reason) == ("result_mismatch", "values_differ")
    assert outcome.evidence["differing_columns"] == ["v"]


def test_row_count_difference_reports_both_counts():
    outcome = compare(rows((1, "a"), (2, "b")), rows((1, "a")))
    assert outcome.reason == "row_count"
    assert outcome.evidence["baseline_result"]["row_count"] == 2
    assert outcome.evidence["candidate_result"]["row_count"] == 1


def test_duplicate_rows_count():
    outcome = compare(rows((1, "a"), (1, "a"), (2, "b")), rows((1, "a"), (2, "b"), (2, "b")))
    assert outcome.verdict == "result_mismatch"
    assert outcome.evidence["differing_columns"] == ["k", "v"]


def test_schema_type_change_is_a_mismatch_with_the_problem_named():
    base = pa.table({"k": pa.array([1], pa.int64())})
    cand = pa.table({"k": pa.array([1.0], pa.float64())})
    outcome = compare(base, cand)
    assert outcome.reason == "schema_mismatch"
    assert outcome.evidence["schema_problems"] == ["column 0 (k): type int vs float"]


def test_int_widening_matches_with_a_schema_note():
    base = pa.table({"k": pa.array([1, 2], pa.int32())})
    cand = pa.table({"k": pa.array([2, 1], pa.int64())})
    outcome = compare(base, cand)
    assert outcome.verdict == "match"
    assert outcome.evidence["schema_note"] == [
        "column 0 (k): type int32 vs int64 (harmless: both canonical int)"
    ]


def test_total_order_uses_the_ordered_digest():
    base = rows((1, "a"), (2, "b"))
    swapped = rows((2, "b"), (1, "a"))
    outcome = compare(base, swapped, order_by=True, order_keys=["k", "v"])
    assert (outcome.verdict, outcome.reason) == ("result_mismatch", "order_mismatch")
    assert outcome.evidence["order_check"] == "ordered_digest"
    assert compare(base, base, order_by=True, order_keys=["k", "v"]).verdict == "match"


def test_ties_under_partial_keys_compare_as_multisets_within_groups(tmp_path):
    base = rows((1, "a"), (1, "b"), (2, "c"))
    tie_swapped = rows((1, "b"), (1, "a"), (2, "c"))
    outcome = compare(base, tie_swapped, tmp_path, order_by=True, order_keys=["k"])
    assert outcome.verdict == "match"
    assert outcome.evidence["order_check"] == "tie_groups"
    out_of_order = rows((2, "c"), (1, "a"), (1, "b"))
    outcome = compare(base, out_of_order, tmp_path, order_by=True, order_keys=["k"])
    assert (outcome.verdict, outcome.reason) == ("result_mismatch", "order_mismatch")
    assert outcome.evidence["first_differing_tie_group"] == 0


def test_partial_keys_without_kept_rows_fall_back_to_the_multiset_and_say_so():
    base = rows((1, "a"), (1, "b"), (2, "c"))
    out_of_order = rows((2, "c"), (1, "a"), (1, "b"))
    outcome = compare(base, out_of_order, order_by=True, order_keys=["k"])
    assert outcome.verdict == "match"
    assert outcome.evidence["order_check"].startswith("not_verified: ties possible")


def test_order_keys_that_are_not_output_columns_are_not_verified():
    base, swapped = rows((1, "a"), (2, "b")), rows((2, "b"), (1, "a"))
    outcome = compare(base, swapped, order_by=True, order_keys=["hidden"])
    assert outcome.verdict == "match"
    assert outcome.evidence["order_check"].startswith("not_verified")
    same = compare(base, base, order_by=True, order_keys=["hidden"])
    assert same.evidence["order_check"] == "ordered_digest"


def test_limit_without_order_compares_row_count_and_schema_only():
    outcome = compare(rows((1, "a"), (2, "b")), rows((3, "c"), (4, "d")), limit=2)
    assert (outcome.verdict, outcome.reason) == ("match", "limit_without_order_by")
    assert outcome.evidence["compared"] == "row_count_and_schema"
    assert compare(rows((1, "a"), (2, "b")), rows((3, "c")), limit=2).reason == "row_count"


def test_limit_with_partial_order_checks_the_groups_before_the_cut(tmp_path):
    base = rows((1, "a"), (2, "b"), (2, "c"))
    other_tie = rows((1, "a"), (2, "b"), (2, "z"))
    query = {"order_by": True, "order_keys": ["k"], "limit": 3}
    outcome = compare(base, other_tie, tmp_path, **query)
    assert outcome.verdict == "match"
    assert outcome.evidence["compared"] == "tie_groups_before_limit"
    wrong_first = rows((0, "a"), (2, "b"), (2, "c"))
    assert compare(base, wrong_first, tmp_path, **query).verdict == "result_mismatch"


def test_no_result_on_either_side_matches_and_one_side_is_a_mismatch():
    query = Query()
    assert compare_results(query, execution(), execution(), CFG).verdict == "match"
    outcome = compare_results(query, execution(rows((1, "a"))), execution(), CFG)
    assert (outcome.verdict, outcome.reason) == ("result_mismatch", "result_set_missing")


def test_tie_groups_refuse_tables_of_different_length():
    with pytest.raises(ValueError, match="equal row count"):
        tie_groups_match(rows((1, "a")), rows((1, "a"), (2, "b")), [0], last_partial=False)


def test_limit_with_partial_order_confirms_float_noise_before_the_cut(tmp_path):
    def table(x: float, y: float) -> pa.Table:
        return pa.table({"k": [1, 2, 3, 3], "s": [x, y, 5.0, 6.0]})

    base_value, noisy = straddling_pair()
    query = {"order_by": True, "order_keys": ["k"], "limit": 4}
    outcome = compare(table(1.0, base_value), table(1.0, noisy), tmp_path, **query)
    assert outcome.verdict == "match"
    assert outcome.evidence["float_tolerance_applied"] is True
    wrong = compare(table(1.0, base_value), table(1.0, base_value * 1.01), tmp_path, **query)
    assert wrong.verdict == "result_mismatch"
    assert wrong.evidence["float_tolerance_applied"] is False


def test_empty_result_set_against_none_matches_for_a_statement_that_is_not_a_query():
    # DuckDB returns an empty result set for DROP TABLE; SQLite and DataFusion return none.
    empty = pa.table({"Count": pa.array([], pa.int64())})
    outcome = compare(empty, None, kind="ddl")
    assert (outcome.verdict, outcome.evidence["result"]) == (
        "match",
        "no rows returned on either side",
    )
    assert compare(None, empty, kind="insert").verdict == "match"


def test_a_query_answering_nothing_where_the_baseline_answered_is_still_a_mismatch():
    assert compare(pa.table({"k": pa.array([], pa.int64())}), None).reason == "result_set_missing"
    assert compare(rows((1, 2)), None, kind="ddl").reason == "result_set_missing"


def test_a_result_shorter_than_its_limit_is_complete_and_its_multiset_decides(tmp_path):
    base, cand = rows((1, "a"), (2, "b")), rows((1, "a"), (2, "z"))
    outcome = compare(base, cand, limit=5)
    assert (outcome.verdict, outcome.reason) == ("result_mismatch", "values_differ")
    assert outcome.evidence["differing_columns"] == ["v"]
    assert compare(base, rows((2, "b"), (1, "a")), limit=5).verdict == "match"
    # ORDER BY on some columns: a complete result has no cut last group, so ties compare.
    query = {"order_by": True, "order_keys": ["k"], "limit": 5}
    partial = compare(rows((1, "a"), (2, "b")), rows((1, "a"), (2, "c")), tmp_path, **query)
    assert (partial.verdict, partial.reason) == ("result_mismatch", "values_differ")
