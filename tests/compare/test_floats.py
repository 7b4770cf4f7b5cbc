"""Float tolerance: summation order and last-bit noise match, real changes do not, and the
special values (NaN, +-inf, -0.0, NULL) are exact."""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from compare_records import Query, execution, straddling_pair

from simulator.canonical import value_hashes
from simulator.compare.floats import compare_with_tolerance
from simulator.compare.judge import judge_query
from simulator.config import CompareSection

CFG = CompareSection()


def judge(base: pa.Table, cand: pa.Table, folder, keep: bool = True, **query):
    folder = folder if keep else None
    return judge_query(
        Query(**query),
        [execution(base, folder=folder)],
        execution(cand, folder=folder, engine="candidate"),
        CFG,
        "candidate",
        "run",
    )


def grouped(sums: list[float]) -> pa.Table:
    return pa.table(
        {"g": pa.array(range(len(sums)), pa.int64()), "s": pa.array(sums, pa.float64())}
    )


def test_duckdb_sums_in_different_orders_match_within_tolerance(tmp_path):
    rng = np.random.default_rng(3)
    values = rng.lognormal(0, 3, 20000) * rng.choice([-1, 1], 20000)
    groups = rng.integers(0, 50, 20000)
    con = duckdb.connect()
    data = pa.table({"g": groups, "v": values})
    shuffled = data.take(rng.permutation(data.num_rows))
    sql = "SELECT g, sum(v) AS s FROM {} GROUP BY g ORDER BY g"
    con.register("a", data)
    con.register("b", shuffled)
    base = con.sql(sql.format("a")).to_arrow_table()
    cand = con.sql(sql.format("b")).to_arrow_table()
    base_values = base.column("s").to_numpy()
    cand_values = cand.column("s").to_numpy()
    assert not np.array_equal(base_values, cand_values)  # the order really changed the sums
    verdict = judge(base, cand, tmp_path, order_by=True, order_keys=["g"])
    assert verdict.verdict == "match", verdict.evidence
    # Either the hash quantization absorbed the noise or the tolerant check confirmed it.
    assert verdict.evidence.get("float_tolerance_applied", True) is True
    assert verdict.evidence["order_check"] in ("ordered_digest", "tie_groups")


def test_sums_in_different_orders_match_and_say_tolerance_was_applied(tmp_path):
    rng = np.random.default_rng(11)
    sums_a, sums_b = [], []
    for _ in range(40):
        x = (rng.standard_normal(5000) * 10.0 ** rng.integers(-3, 9, 5000)).tolist()
        sums_a.append(sum(x))
        sums_b.append(sum(reversed(x)))
    assert sums_a != sums_b
    below, above = straddling_pair()
    # One sum pair that certainly hashes apart, so the tolerant confirmation runs.
    base, cand = grouped([*sums_a, below]), grouped([*sums_b, above])
    verdict = judge(base, cand, tmp_path)
    assert verdict.verdict == "match"
    assert verdict.evidence["float_tolerance_applied"] is True
    assert verdict.evidence["differing_columns"] == ["s"]
    assert 0 < verdict.evidence["max_rel_diff"]["s"] < 1e-9


def test_relative_change_of_1e_3_is_a_mismatch(tmp_path):
    base = grouped([100.0, 2.5, 1e9])
    cand = grouped([100.0, 2.5 * 1.001, 1e9])
    verdict = judge(base, cand, tmp_path)
    assert verdict.verdict == "result_mismatch"
    assert verdict.reason == "values_differ"
    assert verdict.evidence["float_tolerance_applied"] is False
    assert verdict.evidence["columns_out_of_tolerance"] == ["s"]
    assert verdict.evidence["mismatched_rows"] == 1
    assert verdict.evidence["max_rel_diff"]["s"] == pytest.approx(1e-3 / 1.001, rel=1e-6)


def test_nan_versus_null_is_a_mismatch(tmp_path):
    base = grouped([1.0, math.nan])
    cand = pa.table({"g": pa.array([0, 1], pa.int64()), "s": pa.array([1.0, None], pa.float64())})
    verdict = judge(base, cand, tmp_path)
    assert verdict.verdict == "result_mismatch"
    assert verdict.evidence["columns_out_of_tolerance"] == ["s"]


def test_values_straddling_a_hash_quantization_boundary_match(tmp_path):
    below, above = straddling_pair()
    assert math.nextafter(below, math.inf) == above
    hashes = value_hashes(pa.array([below, above]))
    assert hashes[0] != hashes[1]  # the hash alone would call this a mismatch
    verdict = judge(grouped([7.0, below]), grouped([7.0, above]), tmp_path)
    assert verdict.verdict == "match"
    assert verdict.evidence["float_tolerance_applied"] is True


def test_ordered_result_with_float_noise_checks_order_on_the_exact_columns(tmp_path):
    below, above = straddling_pair()
    base, cand = grouped([1.0, below, 3.0]), grouped([1.0, above, 3.0])
    verdict = judge(base, cand, tmp_path, order_by=True, order_keys=["g"])
    assert verdict.verdict == "match"
    assert verdict.evidence["order_check"] == "tie_groups"
    reordered = cand.take([1, 0, 2])
    verdict = judge(base, reordered, tmp_path, order_by=True, order_keys=["g"])
    assert (verdict.verdict, verdict.reason) == ("result_mismatch", "order_mismatch")


def test_float_only_difference_without_kept_rows_stays_a_mismatch_and_says_why(tmp_path):
    below, above = straddling_pair()
    verdict = judge(grouped([below]), grouped([above]), tmp_path, keep=False)
    assert verdict.verdict == "result_mismatch"
    assert verdict.evidence["float_confirmation"] == "unavailable: no result rows kept"


def tol(base: list, cand: list, type_: pa.DataType | None = None):
    return compare_with_tolerance(
        pa.table({"x": pa.array(base, type_ or pa.float64())}),
        pa.table({"x": pa.array(cand, type_ or pa.float64())}),
        CFG.float_rel_tol,
        CFG.float_abs_tol,
    )


def test_special_values_are_exact():
    inf = math.inf
    assert tol([math.nan, inf, -inf, -0.0, None], [math.nan, inf, -inf, 0.0, None]).match
    assert not tol([inf], [-inf]).match
    assert not tol([inf], [1e308]).match
    assert not tol([math.nan], [0.0]).match
    assert not tol([None], [0.0]).match


def test_opposite_extremes_report_a_finite_relative_difference():
    result = tol([1.7e308], [-1.7e308])
    assert not result.match and result.max_rel_diff["x"] == 2.0


def test_near_zero_uses_the_absolute_tolerance():
    assert tol([1e-13], [-1e-13]).match
    assert not tol([1e-6], [0.0]).match


def test_float_only_rows_pair_up_by_value_after_sorting():
    result = tol([3.0, 1.0, 2.0, 2.0], [2.0, 1.0 + 1e-12, 3.0, 2.0])
    assert result.match and result.rows_compared == 4


def test_non_float_columns_must_still_match_exactly():
    base = pa.table({"k": ["a", "b"], "x": [1.0, 2.0]})
    cand = pa.table({"k": ["a", "c"], "x": [1.0, 2.0]})
    result = compare_with_tolerance(base, cand, 1e-9, 1e-12)
    assert not result.match and result.reason == "non-float columns differ after sorting"


def test_float32_columns_get_a_float32_sized_tolerance():
    rng = np.random.default_rng(5)
    x = rng.standard_normal(3000).astype(np.float32)
    forward = np.float32(0)
    for v in x:
        forward = np.float32(forward + v)
    backward = np.float32(0)
    for v in x[::-1]:
        backward = np.float32(backward + v)
    assert forward != backward
    assert tol([float(forward)], [float(backward)], pa.float32()).match


def test_decimal_last_digit_noise_is_within_tolerance(tmp_path):
    from decimal import Decimal

    type_ = pa.decimal128(38, 12)
    base = pa.table({"avg": pa.array([Decimal("12345.678901234567")], type_)})
    cand = pa.table({"avg": pa.array([Decimal("12345.678901234568")], type_)})
    verdict = judge(base, cand, tmp_path)
    assert verdict.verdict == "match" and verdict.evidence["float_tolerance_applied"] is True


def test_configured_decimal_float_equivalence_compares_values_within_tolerance(tmp_path):
    from decimal import Decimal

    base = pa.table({"avg": pa.array([Decimal("2.50"), Decimal("0.10")], pa.decimal128(10, 2))})
    cand = pa.table({"avg": pa.array([2.5, 0.1], pa.float64())})
    cfg = CompareSection(type_equivalence=(("decimal", "float"),))
    verdict = judge_query(
        Query(),
        [execution(base, folder=tmp_path)],
        execution(cand, folder=tmp_path, engine="candidate"),
        cfg,
        "candidate",
        "run",
    )
    assert verdict.verdict == "match"
    assert verdict.evidence["float_tolerance_applied"] is True
    assert "configured equivalent" in verdict.evidence["schema_note"][0]
    assert judge(base, cand, tmp_path).reason == "schema_mismatch"


def test_a_decimal_rounded_to_fewer_digits_is_a_mismatch_even_below_the_float_tolerance(
    tmp_path,
):
    # A cent-level change on a large amount is 5e-18 relative: far inside float tolerance,
    # and still money that moved (the mutation suite's decimal_round found this).
    from decimal import Decimal

    type_ = pa.decimal128(20, 2)
    base = pa.table({"revenue": pa.array([Decimal("10000000003096524.95")], type_)})
    cand = pa.table({"revenue": pa.array([Decimal("10000000003096525.00")], type_)})
    verdict = judge(base, cand, tmp_path)
    assert (verdict.verdict, verdict.reason) == ("result_mismatch", "values_differ")
    assert verdict.evidence["columns_out_of_tolerance"] == ["revenue"]
