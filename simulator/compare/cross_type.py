"""Values compared across a schema mismatch: a type change alone vs a type change with
different values.

A schema mismatch is reported whatever the values are, but the evidence says whether the
values also differ, column by column, where a canonical comparison is possible:

- same canonical type, or a pair the canonical hashes treat alike (``timestamp`` vs
  ``timestamptz`` hash the same stored numbers; an all-NULL ``null`` column hashes every
  value to ``NULL_HASH``): the per-column checksums decide (``column_checksum``);
- a numeric pair (int, float, decimal in any mix) hashes under different tags, so the kept
  result rows decide: both columns cast to float64 and compared as sorted multisets within
  the float tolerance (``within_tolerance_as_float64``); without kept rows, or with
  different row counts, the column is ``not_compared``;
- any other pair (a string vs an int, a list vs a scalar...) has no canonical comparison:
  ``impossible``. A different column count makes the whole comparison impossible.

``values_equal`` is True when every column was compared and agreed, False when a column
differs (or the row count does), None when nothing differs but some column could not be
compared.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from simulator.canonical import ResultChecksum
from simulator.compare.floats import compare_with_tolerance
from simulator.compare.result_files import read_result
from simulator.config import CompareSection
from simulator.results.execution import Execution

NUMERIC_TYPES = frozenset({"int", "float", "decimal"})
# Distinct canonical names whose values hash alike (canonical/spec.py).
HASH_COMPARABLE = frozenset({frozenset({"timestamp", "timestamptz"})})


def _method(btype: str, ctype: str) -> str:
    """How a column pair is compared: ``checksum``, ``numeric`` or ``impossible``."""
    if btype == ctype or "null" in (btype, ctype) or frozenset({btype, ctype}) in HASH_COMPARABLE:
        return "checksum"
    if btype in NUMERIC_TYPES and ctype in NUMERIC_TYPES:
        return "numeric"
    return "impossible"


def _as_float_table(table: pa.Table, position: int) -> pa.Table:
    column = table.column(position).combine_chunks()
    return pa.table({"v": pc.cast(column, pa.float64(), safe=False)})


def compare_across_types(
    bsum: ResultChecksum,
    csum: ResultChecksum,
    baseline: Execution,
    candidate: Execution,
    cfg: CompareSection,
) -> dict[str, Any]:
    """Evidence on the values of two results whose schemas differ: ``value_comparison``
    (per column name: how it was compared, or why not; a sentence when nothing could be),
    ``differing_columns`` (baseline names) and ``values_equal`` (True, False or None)."""
    if len(bsum.column_names) != len(csum.column_names):
        return {"value_comparison": "impossible: column count differs", "values_equal": None}
    same_rows = bsum.row_count == csum.row_count
    kept = bool(baseline.result_path and candidate.result_path)
    tables: tuple[pa.Table, pa.Table] | None = None
    how: dict[str, str] = {}
    differing: list[str] = []
    for i, name in enumerate(bsum.column_names):
        method = _method(bsum.column_types[i], csum.column_types[i])
        pair = f"{bsum.column_types[i]} vs {csum.column_types[i]}"
        if method == "checksum":
            how[name] = "column_checksum"
            if bsum.columns[i] != csum.columns[i]:
                differing.append(name)
        elif method == "impossible":
            how[name] = f"impossible: {pair} have no canonical comparison"
        elif not same_rows:
            how[name] = "not_compared: row counts differ"
        elif not kept:
            how[name] = f"not_compared: {pair} needs the result rows, none kept"
        else:
            if tables is None:
                tables = read_result(baseline.result_path), read_result(candidate.result_path)
            within = compare_with_tolerance(
                _as_float_table(tables[0], i),
                _as_float_table(tables[1], i),
                cfg.float_rel_tol,
                cfg.float_abs_tol,
            )
            how[name] = "within_tolerance_as_float64"
            if not within.match:
                differing.append(name)
    complete = all(v in ("column_checksum", "within_tolerance_as_float64") for v in how.values())
    equal: bool | None = None
    if differing or not same_rows:
        equal = False
    elif complete:
        equal = True
    return {"value_comparison": how, "differing_columns": differing, "values_equal": equal}
