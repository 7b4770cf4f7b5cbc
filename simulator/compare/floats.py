"""Tolerant confirmation of a float-only mismatch.

Checksums hash canonical values, so two sums that differ only in their last bits (a
different summation order) hash differently. Before such a difference becomes a
``result_mismatch`` it is confirmed here on the full rows: both results are sorted on their
non-float columns (by canonical value hash, so an int32 and an int64 of the same value sort
alike) and then on the float values, and compared row by row with

    |a - b| <= max(rel_tol * max(|a|, |b|), abs_tol)

NaN equals NaN, +inf and -inf only equal themselves, -0.0 equals 0.0, NULL equals only
NULL (never NaN). Float32 columns get at least ``NARROW_REL_TOL``: one float32 rounding is
6e-8 and a reordered float32 sum with cancellation moves by 1e-6 and more, so the float64
tolerance would flag every float32 aggregate. A decimal compared with a float is compared
as float64; a decimal compared with a decimal may differ by at most one unit in the last
place of the coarser scale (an average's last digit rounded another way), compared exactly
as decimals: a decimal rounded to fewer digits, or a cent lost on a large amount, is a
change even where it is far below the relative float tolerance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from simulator.canonical import value_hashes

# About 100 float32 ulps: a float32 sum of a few thousand mixed-sign values, reordered,
# moves by ~2e-6 relative (measured in tests/compare/test_floats.py).
NARROW_REL_TOL = 1e-5


@dataclass(frozen=True)
class ToleranceResult:
    """Whether two results agree within tolerance, and the evidence for it.

    ``max_rel_diff`` maps each float column name to the largest relative difference seen;
    ``columns_out_of_tolerance`` names the columns with at least one row beyond tolerance;
    ``mismatched_rows`` counts sorted rows that disagree; ``reason`` says why a comparison
    could not match before values were looked at (row count, non-float columns).
    """

    match: bool
    rows_compared: int
    max_rel_diff: dict[str, float] = field(default_factory=dict)
    columns_out_of_tolerance: list[str] = field(default_factory=list)
    mismatched_rows: int = 0
    reason: str = ""


def _float_values(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """float64 values (NULL as 0.0) and a NULL mask."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if not pa.types.is_floating(column.type):
        column = pc.cast(column, pa.float64(), safe=False)
    mask = column.is_null().to_numpy(zero_copy_only=False)
    values = column.cast(pa.float64()).fill_null(0.0).to_numpy(zero_copy_only=False)
    return values.astype(np.float64, copy=False), mask


def _is_tolerant(data_type: pa.DataType) -> bool:
    return pa.types.is_floating(data_type) or pa.types.is_decimal(data_type)


def _decimal_ok(
    baseline: pa.ChunkedArray, candidate: pa.ChunkedArray, b_order: np.ndarray, c_order: np.ndarray
) -> np.ndarray:
    """Per sorted row: the two decimals are both NULL or differ by at most one unit in the
    last place of the coarser scale."""
    ulp = Decimal(1).scaleb(-min(baseline.type.scale, candidate.type.scale))
    left = baseline.take(pa.array(b_order)).to_pylist()
    right = candidate.take(pa.array(c_order)).to_pylist()
    return np.array(
        [
            (a is None and b is None) or (a is not None and b is not None and abs(a - b) <= ulp)
            for a, b in zip(left, right, strict=True)
        ],
        dtype=bool,
    )


def _is_narrow(data_type: pa.DataType) -> bool:
    return pa.types.is_float32(data_type) or pa.types.is_float16(data_type)


def _sort_order(
    table: pa.Table, float_idx: Sequence[int], other_idx: Sequence[int]
) -> tuple[np.ndarray, list[np.ndarray], list[tuple[np.ndarray, np.ndarray]]]:
    hashes = [value_hashes(table.column(i).combine_chunks()) for i in other_idx]
    floats = [_float_values(table.column(i)) for i in float_idx]
    keys: list[np.ndarray] = []
    # np.lexsort sorts by the last key first: floats are the minor keys, hashes the major.
    for values, mask in reversed(floats):
        # -0.0 and 0.0 must sort together; NaN sorts last by numpy's rule.
        keys.append(np.where(values == 0.0, 0.0, values))
        keys.append(mask)
    keys.extend(reversed(hashes))
    order = np.lexsort(keys) if keys else np.arange(table.num_rows)
    return order, hashes, floats


def _within(
    a: np.ndarray, a_null: np.ndarray, b: np.ndarray, b_null: np.ndarray, rel: float, abs_: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per row: ok flag and relative difference (0 where not comparable numerically)."""
    both_null = a_null & b_null
    one_null = a_null ^ b_null
    a_nan, b_nan = np.isnan(a), np.isnan(b)
    both_nan = a_nan & b_nan & ~a_null & ~b_null
    one_nan = (a_nan ^ b_nan) & ~a_null & ~b_null
    a_inf, b_inf = np.isinf(a), np.isinf(b)
    any_inf = (a_inf | b_inf) & ~a_null & ~b_null & ~a_nan & ~b_nan
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(a - b)
        scale = np.maximum(np.abs(a), np.abs(b))
        finite_ok = diff <= np.maximum(rel * scale, abs_)
        # |a - b| / max(|a|, |b|) is at most 2; the cap keeps an overflowed a - b finite.
        rel_diff = np.minimum(np.where(scale > 0, diff / np.where(scale > 0, scale, 1.0), 0.0), 2.0)
    ok = np.where(
        both_null | both_nan,
        True,
        np.where(one_null | one_nan, False, np.where(any_inf, a == b, finite_ok)),
    )
    comparable = ~(a_null | b_null | a_nan | b_nan | any_inf)
    return ok, np.where(comparable, rel_diff, 0.0)


def compare_with_tolerance(
    baseline: pa.Table, candidate: pa.Table, rel_tol: float, abs_tol: float
) -> ToleranceResult:
    """Compare two full results as multisets of rows, floats within tolerance.

    Columns that are float or decimal on both sides (same position) are compared within
    tolerance, every other column exactly by canonical value. Returns a ToleranceResult.
    """
    if baseline.num_columns != candidate.num_columns:
        return ToleranceResult(False, 0, reason="column count differs")
    if baseline.num_rows != candidate.num_rows:
        return ToleranceResult(False, 0, reason="row count differs")
    float_idx = [
        i
        for i in range(baseline.num_columns)
        if _is_tolerant(baseline.schema.field(i).type)
        and _is_tolerant(candidate.schema.field(i).type)
    ]
    other_idx = [i for i in range(baseline.num_columns) if i not in float_idx]
    b_order, b_hashes, b_floats = _sort_order(baseline, float_idx, other_idx)
    c_order, c_hashes, c_floats = _sort_order(candidate, float_idx, other_idx)
    for bh, ch in zip(b_hashes, c_hashes, strict=True):
        if not np.array_equal(bh[b_order], ch[c_order]):
            return ToleranceResult(
                False, baseline.num_rows, reason="non-float columns differ after sorting"
            )
    rows_bad = np.zeros(baseline.num_rows, dtype=bool)
    max_rel: dict[str, float] = {}
    out_of_tolerance: list[str] = []
    for pos, i in enumerate(float_idx):
        narrow = _is_narrow(baseline.schema.field(i).type) or _is_narrow(
            candidate.schema.field(i).type
        )
        rel = max(rel_tol, NARROW_REL_TOL) if narrow else rel_tol
        bv, bn = b_floats[pos]
        cv, cn = c_floats[pos]
        ok, rel_diff = _within(bv[b_order], bn[b_order], cv[c_order], cn[c_order], rel, abs_tol)
        b_type, c_type = baseline.schema.field(i).type, candidate.schema.field(i).type
        if pa.types.is_decimal(b_type) and pa.types.is_decimal(c_type):
            ok = _decimal_ok(baseline.column(i), candidate.column(i), b_order, c_order)
        name = baseline.schema.field(i).name
        max_rel[name] = float(rel_diff.max()) if rel_diff.size else 0.0
        if not ok.all():
            out_of_tolerance.append(name)
            rows_bad |= ~ok
    return ToleranceResult(
        match=not out_of_tolerance,
        rows_compared=baseline.num_rows,
        max_rel_diff=max_rel,
        columns_out_of_tolerance=out_of_tolerance,
        mismatched_rows=int(rows_bad.sum()),
    )
