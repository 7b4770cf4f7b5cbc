"""Static nondeterminism excuses only what it reaches: the reached columns, the row count
only when the row set is not fixed; approximate aggregates that repeat on the baseline but
changed on the candidate are ``estimate_changed``. Ends with a real DuckDB run."""

from __future__ import annotations

import duckdb
import pyarrow as pa
from compare_records import Query, execution

from simulator.compare.judge import judge_query
from simulator.config import CompareSection
from simulator.workload.classify import classify, parse_statement

CFG = CompareSection()
BASE = pa.table({"k": [1, 2, 3], "r": [0.25, 0.5, 0.75]})


def judge(base_runs, cand, query):
    return judge_query(query, base_runs, cand, CFG, "candidate", "run-1")


def ok(table, engine="baseline"):
    return execution(table, engine=engine)


def rand_query(**facts):
    defaults = {"nondeterministic": ["rand"], "nondeterministic_columns": [1]}
    return Query(**{**defaults, "row_set_fixed": True, **facts})


def test_a_difference_confined_to_the_reached_column_is_excused_and_named():
    cand = ok(pa.table({"k": [1, 2, 3], "r": [0.1, 0.5, 0.9]}), "c")
    result = judge([ok(BASE)], cand, rand_query())
    assert (result.verdict, result.reason) == ("nondeterministic", "static: rand")
    assert result.evidence["excused_columns"] == ["r"]
    assert result.evidence["mismatch_reason"] == "values_differ"


def test_a_difference_outside_the_reached_columns_is_a_mismatch():
    cand = ok(pa.table({"k": [1, 2, 4], "r": [0.1, 0.5, 0.9]}), "c")
    result = judge([ok(BASE)], cand, rand_query())
    assert (result.verdict, result.reason) == ("result_mismatch", "values_differ")
    assert result.evidence["not_excused_columns"] == ["k"]
    assert result.evidence["nondeterministic_columns"] == ["r"]


def test_a_row_count_change_is_a_mismatch_when_the_row_set_is_fixed():
    cand = ok(BASE.slice(0, 2), "c")
    result = judge([ok(BASE)], cand, rand_query())
    assert (result.verdict, result.reason) == ("result_mismatch", "row_count")
    assert "row set" in result.evidence["not_excused"]


def test_a_row_count_change_is_excused_when_nondeterminism_picks_the_rows():
    query = rand_query(nondeterministic_columns=[], row_set_fixed=False)
    result = judge([ok(BASE)], ok(BASE.slice(0, 2), "c"), query)
    assert (result.verdict, result.reason) == ("nondeterministic", "static: rand")
    assert result.evidence["excused_columns"] == "all: the row set is not fixed"


def test_unknown_reach_excuses_any_column_but_not_the_row_count():
    query = rand_query(nondeterministic_columns=None)
    moved = ok(pa.table({"k": [1, 2, 4], "r": [0.25, 0.5, 0.75]}), "c")
    assert judge([ok(BASE)], moved, query).verdict == "nondeterministic"
    assert judge([ok(BASE)], ok(BASE.slice(0, 2), "c"), query).verdict == "result_mismatch"


def test_a_pairing_change_is_excused_only_when_a_column_is_reached():
    swapped = ok(pa.table({"k": [1, 2, 3], "r": [0.75, 0.5, 0.25]}), "c")
    assert judge([ok(BASE)], swapped, rand_query()).verdict == "nondeterministic"
    sampled = rand_query(nondeterministic=["tablesample"], nondeterministic_columns=[])
    assert judge([ok(BASE)], swapped, sampled).verdict == "result_mismatch"


def test_equal_rows_in_another_order_are_a_mismatch_when_the_row_set_is_fixed():
    query = rand_query(order_by=True, order_keys=["k", "r"])
    reordered = ok(BASE.take([2, 1, 0]), "c")
    result = judge([ok(BASE)], reordered, query)
    assert (result.verdict, result.reason) == ("result_mismatch", "order_mismatch")
    assert "reorder" in result.evidence["not_excused"]


def test_a_schema_change_is_never_excused():
    cand = ok(pa.table({"k": [1, 2, 3], "r": ["a", "b", "c"]}), "c")
    result = judge([ok(BASE)], cand, rand_query())
    assert (result.verdict, result.reason) == ("result_mismatch", "schema_mismatch")


def approx_query(**facts):
    base = {"nondeterministic": ["approx_distinct"], "estimate_columns": [1]}
    return rand_query(**{**base, **facts})


def test_an_estimate_stable_on_the_baseline_but_changed_is_estimate_changed():
    cand = ok(pa.table({"k": [1, 2, 3], "r": [0.25, 0.5, 0.8]}), "c")
    result = judge([ok(BASE), ok(BASE)], cand, approx_query())
    assert (result.verdict, result.reason) == ("estimate_changed", "approximate_aggregate")
    assert result.evidence["estimate_columns"] == ["r"]
    assert not result.is_regression


def test_an_estimate_without_repeated_baseline_runs_stays_nondeterministic():
    cand = ok(pa.table({"k": [1, 2, 3], "r": [0.25, 0.5, 0.8]}), "c")
    result = judge([ok(BASE)], cand, approx_query())
    assert result.verdict == "nondeterministic"


def test_an_estimate_the_baseline_disagrees_on_stays_nondeterministic():
    other = ok(pa.table({"k": [1, 2, 3], "r": [0.25, 0.5, 0.7]}))
    cand = ok(pa.table({"k": [1, 2, 3], "r": [0.25, 0.5, 0.8]}), "c")
    result = judge([ok(BASE), other], cand, approx_query())
    assert (result.verdict, result.reason) == ("nondeterministic", "baseline_disagrees_with_itself")


def test_a_random_column_beside_an_estimate_stays_nondeterministic():
    table = pa.table({"k": [1, 2, 3], "n": [5, 6, 7], "r": [0.25, 0.5, 0.75]})
    cand = ok(pa.table({"k": [1, 2, 3], "n": [5, 6, 8], "r": [0.1, 0.5, 0.75]}), "c")
    query = approx_query(
        nondeterministic=["approx_distinct", "rand"], nondeterministic_columns=[1, 2]
    )
    result = judge([ok(table), ok(table)], cand, query)
    assert (result.verdict, result.reason) == ("nondeterministic", "static: approx_distinct, rand")


def test_rows_an_estimate_chooses_are_estimate_changed_when_the_baseline_repeats():
    query = approx_query(
        nondeterministic_columns=[], row_set_fixed=False, row_set_estimate_only=True
    )
    cand = ok(BASE.slice(0, 2), "c")
    result = judge([ok(BASE), ok(BASE)], cand, query)
    assert (result.verdict, result.reason) == ("estimate_changed", "approximate_aggregate")
    assert result.evidence["estimate_chooses_rows"] is True
    assert judge([ok(BASE)], cand, query).verdict == "nondeterministic"


def _duckdb_execution(con, sql, engine):
    return execution(con.sql(sql).to_arrow_table(), engine=engine)


def test_real_duckdb_random_column_beside_a_changed_exact_column():
    """A real DuckDB result of a query with rand() in one column: the random column is
    excused, a change of the exact column beside it (a mutant candidate) is not."""
    sql = "SELECT k, random() AS r FROM range(5) t(k) ORDER BY k"
    facts = classify(parse_statement(sql, "duckdb"))
    query = Query(
        order_by=True,
        order_keys=list(facts.order_keys),
        nondeterministic=list(facts.nondeterministic),
        **facts.reach_fields(),
    )
    con = duckdb.connect()
    base = [_duckdb_execution(con, sql, "baseline") for _ in range(2)]
    fair = _duckdb_execution(con, sql, "c")
    mutant = _duckdb_execution(con, sql.replace("SELECT k", "SELECT k + (k = 4)::INT AS k"), "c")
    assert judge(base[:1], fair, query).verdict == "nondeterministic"
    result = judge(base[:1], mutant, query)
    assert (result.verdict, result.evidence["not_excused_columns"]) == ("result_mismatch", ["k"])


def test_a_row_count_change_is_a_mismatch_when_only_the_limits_choice_is_random():
    # ORDER BY rand() LIMIT 3: which rows is random, how many is not.
    query = rand_query(nondeterministic_columns=[], row_set_fixed=False, row_count_fixed=True)
    result = judge([ok(BASE)], ok(BASE.slice(0, 2), "c"), query)
    assert (result.verdict, result.reason) == ("result_mismatch", "row_count")
    assert "not how many" in result.evidence["not_excused"]


def test_a_row_outside_the_unlimited_result_is_a_mismatch_when_only_the_limits_choice_is_random():
    # ORDER BY rand() LIMIT n: the LIMIT may keep any rows, but only rows that exist.
    from simulator.compare.nondeterminism import excuse
    from simulator.compare.results import Outcome

    query = rand_query(nondeterministic_columns=[], row_set_fixed=False, row_count_fixed=True)
    outcome = Outcome("result_mismatch", "limited_rows_not_in_unlimited_result")
    evidence: dict = {}
    result = excuse(query, outcome, evidence, [ok(BASE)], ok(BASE, "c"))
    assert (result.verdict, result.reason) == (
        "result_mismatch",
        "limited_rows_not_in_unlimited_result",
    )
    assert "only picks which rows" in evidence["not_excused"]
    reached = rand_query(nondeterministic_columns=[1], row_set_fixed=False, row_count_fixed=True)
    assert excuse(reached, outcome, {}, [ok(BASE)], ok(BASE, "c")).verdict == "nondeterministic"
