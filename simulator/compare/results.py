"""Comparison of two query results: schema, row count, multiset, columns, order, floats.

Inputs are the ``ResultChecksum`` dicts of two executions and, when the runner kept them,
their full result files. The order of checks and what each one concludes:

1. schema (count, names under the policy, canonical types; harmless widenings are notes); a
   mismatch still compares the values where it can (``cross_type.py``) and says so;
2. row count;
3. LIMIT without a total ORDER BY: row count and schema are all a correct engine fixes
   (unless the judge can run a subset check against an unlimited result);
4. the multiset checksum; when it differs, the per-column checksums name the columns, and a
   difference confined to float/decimal columns is confirmed with a tolerant comparison on
   the kept rows before it is reported;
5. order, only for a top-level ORDER BY: when the keys cover every output column the
   order-sensitive digest decides; otherwise rows tying on the keys are compared as a
   multiset per tie group, which needs the kept rows (without them, the multiset check
   stands and the evidence says the order was not verified).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from simulator.canonical import ResultChecksum, row_hashes
from simulator.compare.cross_type import compare_across_types
from simulator.compare.facts import (
    QueryFacts,
    limit_without_total_order,
    optional_fact,
    order_is_total,
)
from simulator.compare.floats import compare_with_tolerance
from simulator.compare.result_files import read_result
from simulator.compare.schema import compare_schema, is_float_type
from simulator.config import CompareSection
from simulator.results.execution import Execution


@dataclass
class Outcome:
    """What one comparison step concludes: a verdict name, a reason and its evidence."""

    verdict: str
    reason: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)


def _no_rows(summary: ResultChecksum | None) -> bool:
    return summary is None or summary.row_count == 0


def load_checksum(execution: Execution) -> ResultChecksum | None:
    """The execution's result checksum, or None when it returned no result set."""
    return ResultChecksum.from_dict(execution.result) if execution.result else None


def differing_positions(baseline: ResultChecksum, candidate: ResultChecksum) -> list[int]:
    """Positions of the columns whose per-column checksums differ."""
    return [
        i
        for i, (bsum, csum) in enumerate(zip(baseline.columns, candidate.columns, strict=False))
        if bsum != csum
    ]


def differing_columns(baseline: ResultChecksum, candidate: ResultChecksum) -> list[str]:
    """Names (baseline spelling) of the columns whose per-column checksums differ."""
    return [baseline.column_names[i] for i in differing_positions(baseline, candidate)]


def floats_only(checksums: Sequence[ResultChecksum], positions: Sequence[int]) -> bool:
    """True when ``positions`` is non-empty and float/decimal in every checksum."""
    return bool(positions) and all(
        is_float_type(checksum.column_types[i]) for checksum in checksums for i in positions
    )


def _physical(execution: Execution) -> list[str]:
    return [pair[1] for pair in execution.result_schema if len(pair) == 2]


def _batch_hashes(table: pa.Table, columns: Sequence[int] | None = None) -> np.ndarray:
    """Canonical row hashes of ``table`` (restricted to ``columns``), in row order."""
    if columns is not None:
        table = table.select(list(columns))
    parts = [row_hashes(batch) for batch in table.to_batches() if batch.num_rows]
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.uint64)


def tie_groups_match(
    baseline: pa.Table,
    candidate: pa.Table,
    key_columns: Sequence[int],
    *,
    last_partial: bool,
    row_columns: Sequence[int] | None = None,
) -> tuple[bool, int | None]:
    """Compare two ordered results group by group, where a group is a run of rows tying on
    the ORDER BY keys: the key sequence must match and each group must hold the same multiset
    of rows (of ``row_columns`` only, when given: float columns already confirmed within
    tolerance are left out). With ``last_partial`` (a LIMIT cut inside the last group) only
    that group's key and size must match.

    Returns (match, index of the first differing group or None). Refuses (ValueError) tables
    with different row counts.
    """
    if baseline.num_rows != candidate.num_rows:
        raise ValueError("tie groups are compared only between results of equal row count")
    if baseline.num_rows == 0:
        return True, None
    sides = []
    for table in (baseline, candidate):
        keys = _batch_hashes(table, key_columns)
        rows = _batch_hashes(table, row_columns)
        change = np.concatenate(([True], keys[1:] != keys[:-1]))
        sides.append((keys, rows, np.flatnonzero(change), np.cumsum(change) - 1))
    (bkeys, brows, bstarts, bgroup), (ckeys, crows, cstarts, cgroup) = sides
    shared = min(bstarts.size, cstarts.size)
    bad = (bstarts[:shared] != cstarts[:shared]) | (
        bkeys[bstarts[:shared]] != ckeys[cstarts[:shared]]
    )
    if bad.any():
        return False, int(np.flatnonzero(bad)[0])
    if bstarts.size != cstarts.size:
        return False, shared
    keep = np.ones(brows.size, dtype=bool)
    if last_partial and bstarts.size:
        keep[bstarts[-1] :] = False
    border = np.lexsort((brows, bgroup))
    corder = np.lexsort((crows, cgroup))
    bsorted, csorted = brows[border][keep[border]], crows[corder][keep[corder]]
    if np.array_equal(bsorted, csorted):
        return True, None
    first_row = int(np.flatnonzero(bsorted != csorted)[0])
    return False, int(bgroup[border][keep[border]][first_row])


def _side(checksum: ResultChecksum) -> dict[str, Any]:
    return {
        "row_count": checksum.row_count,
        "multiset": checksum.multiset,
        "ordered": checksum.ordered,
        "column_names": list(checksum.column_names),
        "column_types": list(checksum.column_types),
    }


def _key_positions(names: Sequence[str], keys: Sequence[str]) -> list[int] | None:
    """Output positions of the ORDER BY keys; None when unknown or not all output columns."""
    if not keys:
        return None
    folded = [n.casefold() for n in names]
    positions = []
    for key in keys:
        if key.casefold() not in folded:
            return None
        positions.append(folded.index(key.casefold()))
    return positions


def _check_order(
    query: QueryFacts,
    baseline: Execution,
    candidate: Execution,
    bsum: ResultChecksum,
    csum: ResultChecksum,
    evidence: dict[str, Any],
    *,
    values_exact: bool,
) -> Outcome:
    """Order check after the multiset matched (exactly, or within float tolerance)."""
    names = list(bsum.column_names)
    if values_exact and bsum.ordered == csum.ordered:
        # Same rows in the same order: whatever the keys, the order agrees.
        evidence["order_check"] = "ordered_digest"
        return Outcome("match", "", evidence)
    if order_is_total(query, names) and values_exact:
        evidence["order_check"] = "ordered_digest"
        return Outcome("result_mismatch", "order_mismatch", evidence)
    keys = _key_positions(names, query.order_keys)
    if keys is None:
        evidence["order_check"] = "not_verified: ORDER BY keys unknown or not output columns"
        return Outcome("match", "", evidence)
    if any(is_float_type(bsum.column_types[i]) for i in keys) and not values_exact:
        evidence["order_check"] = "not_verified: float ORDER BY key compared within tolerance"
        return Outcome("match", "", evidence)
    if not (baseline.result_path and candidate.result_path):
        evidence["order_check"] = "not_verified: ties possible and no result rows kept"
        return Outcome("match", "", evidence)
    exact_columns = None
    if not values_exact:
        exact_columns = [i for i, t in enumerate(bsum.column_types) if not is_float_type(t)]
    ok, group = tie_groups_match(
        read_result(baseline.result_path),
        read_result(candidate.result_path),
        keys,
        last_partial=query.limit is not None,
        row_columns=exact_columns,
    )
    evidence["order_check"] = "tie_groups"
    if not ok:
        evidence["first_differing_tie_group"] = group
        return Outcome("result_mismatch", "order_mismatch", evidence)
    return Outcome("match", "", evidence)


def compare_results(
    query: QueryFacts, baseline: Execution, candidate: Execution, cfg: CompareSection
) -> Outcome:
    """Compare the result sets of two successful executions of ``query``.

    Returns ``match`` or ``result_mismatch`` with evidence: checksums and row counts of both
    sides, ``schema_note`` / ``schema_problems``, ``derived_column_names`` (derived names
    that differ: the judge calls a match with them cosmetic), ``differing_columns``, and
    ``float_tolerance_applied`` with the largest relative differences when a float-only
    difference was confirmed within tolerance.
    """
    bsum, csum = load_checksum(baseline), load_checksum(candidate)
    if bsum is None and csum is None:
        return Outcome("match", "", {"result": "no result set on either side"})
    if bsum is None or csum is None:
        if query.kind != "select" and _no_rows(bsum) and _no_rows(csum):
            # DuckDB answers DROP / CREATE / INSERT with an empty result set, SQLite and
            # DataFusion with none: for a statement that is not a query that is not a change.
            return Outcome("match", "", {"result": "no rows returned on either side"})
        present = "candidate" if bsum is None else "baseline"
        return Outcome(
            "result_mismatch",
            "result_set_missing",
            {"result": f"only the {present} returned a result set"},
        )
    evidence: dict[str, Any] = {"baseline_result": _side(bsum), "candidate_result": _side(csum)}
    schema = compare_schema(
        bsum.column_names,
        bsum.column_types,
        csum.column_names,
        csum.column_types,
        baseline_physical=_physical(baseline),
        candidate_physical=_physical(candidate),
        column_names=cfg.column_names,
        type_equivalence=cfg.type_equivalence,
        derived_names=optional_fact(query, "derived_names"),
    )
    if schema.notes:
        evidence["schema_note"] = schema.notes
    if schema.derived_renames:
        evidence["derived_column_names"] = schema.derived_renames
    if not schema.ok:
        evidence["schema_problems"] = schema.problems
        evidence.update(compare_across_types(bsum, csum, baseline, candidate, cfg))
        return Outcome("result_mismatch", "schema_mismatch", evidence)
    if bsum.row_count != csum.row_count:
        return Outcome("result_mismatch", "row_count", evidence)
    names = list(bsum.column_names)
    if query.limit is not None and bsum.row_count < query.limit:
        # Fewer rows than the LIMIT: the result is complete, so it compares as without one.
        query = dataclasses.replace(query, limit=None)  # type: ignore[type-var]
        evidence["limit_not_reached"] = True
    if bsum.multiset == csum.multiset:
        if not query.order_by:
            return Outcome("match", "", evidence)
        return _check_order(query, baseline, candidate, bsum, csum, evidence, values_exact=True)
    if limit_without_total_order(query, names) and not query.order_by:
        evidence["compared"] = "row_count_and_schema"
        return Outcome("match", "limit_without_order_by", evidence)
    positions = differing_positions(bsum, csum)
    evidence["differing_columns"] = [names[i] for i in positions]
    if limit_without_total_order(query, names):
        return _limited_partial_order(query, baseline, candidate, bsum, csum, evidence, cfg)
    if not floats_only((bsum, csum), positions):
        return Outcome("result_mismatch", "values_differ", evidence)
    if not (baseline.result_path and candidate.result_path):
        evidence["float_confirmation"] = "unavailable: no result rows kept"
        return Outcome("result_mismatch", "values_differ", evidence)
    tolerance = compare_with_tolerance(
        read_result(baseline.result_path),
        read_result(candidate.result_path),
        cfg.float_rel_tol,
        cfg.float_abs_tol,
    )
    evidence["float_rel_tol"] = cfg.float_rel_tol
    evidence["float_abs_tol"] = cfg.float_abs_tol
    evidence["max_rel_diff"] = tolerance.max_rel_diff
    if not tolerance.match:
        evidence["float_tolerance_applied"] = False
        evidence["columns_out_of_tolerance"] = tolerance.columns_out_of_tolerance
        evidence["mismatched_rows"] = tolerance.mismatched_rows
        if tolerance.reason:
            evidence["tolerance_reason"] = tolerance.reason
        return Outcome("result_mismatch", "values_differ", evidence)
    evidence["float_tolerance_applied"] = True
    if not query.order_by:
        return Outcome("match", "", evidence)
    return _check_order(query, baseline, candidate, bsum, csum, evidence, values_exact=False)


def _limited_partial_order(
    query: QueryFacts,
    baseline: Execution,
    candidate: Execution,
    bsum: ResultChecksum,
    csum: ResultChecksum,
    evidence: dict[str, Any],
    cfg: CompareSection,
) -> Outcome:
    """ORDER BY on some columns plus LIMIT: rows before the last tie group are fixed.

    When only float/decimal columns differ, the groups are matched on the other columns and
    the float values of the rows before the last group are confirmed within tolerance.
    """
    keys = _key_positions(list(bsum.column_names), query.order_keys)
    if keys is None or not (baseline.result_path and candidate.result_path):
        evidence["compared"] = "row_count_and_schema"
        return Outcome("match", "limit_without_total_order", evidence)
    base, cand = read_result(baseline.result_path), read_result(candidate.result_path)
    tolerant = floats_only((bsum, csum), differing_positions(bsum, csum))
    exact_columns = None
    if tolerant:
        exact_columns = [i for i, t in enumerate(bsum.column_types) if not is_float_type(t)]
    ok, group = tie_groups_match(base, cand, keys, last_partial=True, row_columns=exact_columns)
    evidence["compared"] = "tie_groups_before_limit"
    if ok and tolerant:
        keys_hashes = _batch_hashes(base, keys)
        changes = np.flatnonzero(keys_hashes[1:] != keys_hashes[:-1])
        cut = int(changes[-1]) + 1 if changes.size else 0
        within = compare_with_tolerance(
            base.slice(0, cut), cand.slice(0, cut), cfg.float_rel_tol, cfg.float_abs_tol
        )
        evidence["float_tolerance_applied"] = within.match
        evidence["max_rel_diff"] = within.max_rel_diff
        ok = within.match
    if not ok:
        if group is not None:
            evidence["first_differing_tie_group"] = group
        return Outcome("result_mismatch", "values_differ", evidence)
    return Outcome("match", "limit_without_total_order", evidence)
