"""A schema mismatch still compares values where a canonical comparison is possible
(issue 17, point 2): a type-only change and a type change with cut values read apart."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
from compare_records import Query, execution

from simulator.compare.results import compare_results
from simulator.config import CompareSection

CFG = CompareSection()
EXACT = [Decimal("1.1234567891"), Decimal("2.5000000000"), Decimal("-3.0000000001")]


def _compare(base: pa.Table, cand: pa.Table, folder=None):
    return compare_results(
        Query(),
        execution(base, folder=folder),
        execution(cand, folder=folder, engine="candidate"),
        CFG,
    )


def _decimals(values) -> pa.Table:
    return pa.table({"k": [1, 2, 3], "amount": pa.array(values, pa.decimal128(20, 10))})


def _doubles(values) -> pa.Table:
    return pa.table({"k": [1, 2, 3], "amount": pa.array(values, pa.float64())})


def test_decimal_as_double_with_equal_values_says_values_equal(tmp_path):
    outcome = _compare(_decimals(EXACT), _doubles([float(v) for v in EXACT]), tmp_path)
    assert (outcome.verdict, outcome.reason) == ("result_mismatch", "schema_mismatch")
    assert outcome.evidence["values_equal"] is True
    assert outcome.evidence["differing_columns"] == []
    assert outcome.evidence["value_comparison"]["amount"] == "within_tolerance_as_float64"


def test_decimal_cut_to_six_places_says_values_differ(tmp_path):
    cut = [round(float(v), 6) for v in EXACT]
    outcome = _compare(_decimals(EXACT), _doubles(cut), tmp_path)
    assert (outcome.verdict, outcome.reason) == ("result_mismatch", "schema_mismatch")
    assert outcome.evidence["values_equal"] is False
    assert outcome.evidence["differing_columns"] == ["amount"]


def test_other_columns_are_compared_by_their_checksums(tmp_path):
    cand = _doubles([float(v) for v in EXACT]).set_column(0, "k", pa.array([1, 2, 4]))
    outcome = _compare(_decimals(EXACT), cand, tmp_path)
    assert outcome.evidence["differing_columns"] == ["k"]
    assert outcome.evidence["value_comparison"]["k"] == "column_checksum"


def test_timestamp_vs_timestamptz_hash_comparably():
    stamps = pa.array([0, 10**9], pa.timestamp("us"))
    base = pa.table({"t": stamps})
    cand = pa.table({"t": stamps.cast(pa.timestamp("us", tz="UTC"))})
    outcome = _compare(base, cand)
    assert outcome.reason == "schema_mismatch"
    assert outcome.evidence["values_equal"] is True


def test_numeric_change_without_kept_rows_is_said_unverified():
    outcome = _compare(pa.table({"n": [1, 2]}), pa.table({"n": [1.0, 2.0]}))
    assert outcome.evidence["values_equal"] is None
    assert outcome.evidence["value_comparison"]["n"].startswith("not_compared")


def test_string_vs_int_is_said_incomparable():
    outcome = _compare(pa.table({"n": [1, 2]}), pa.table({"n": ["1", "2"]}))
    assert outcome.evidence["values_equal"] is None
    assert outcome.evidence["value_comparison"]["n"].startswith("impossible")


def test_column_count_change_says_no_comparison_is_possible():
    outcome = _compare(pa.table({"a": [1]}), pa.table({"a": [1], "b": [2]}))
    assert outcome.reason == "schema_mismatch"
    assert outcome.evidence["values_equal"] is None
    assert outcome.evidence["value_comparison"] == "impossible: column count differs"
