"""Determinism: does the baseline agree with itself?

The runner executes the baseline ``determinism_runs`` times (from the same pre-state). If
those runs disagree, a difference from the candidate proves nothing: the query is labelled
``nondeterministic`` and the evidence names what moved (row count, columns, partitions).
Float columns that moved only within tolerance (a multi-threaded SUM adds in a different
order each run) do not count as movement when the kept rows allow that check.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from simulator.compare.facts import QueryFacts, limit_without_total_order
from simulator.compare.floats import compare_with_tolerance
from simulator.compare.result_files import read_result
from simulator.compare.results import Outcome, differing_positions, floats_only, load_checksum
from simulator.config import CompareSection
from simulator.results.execution import Execution


def _result_moves(
    query: QueryFacts, reference: Execution, other: Execution, cfg: CompareSection
) -> list[str]:
    """What moved between two results of the same engine: 'row_count' and/or column names."""
    ref, oth = load_checksum(reference), load_checksum(other)
    if ref is None or oth is None:
        return [] if ref is oth else ["result_set"]
    if ref.row_count != oth.row_count:
        return ["row_count"]
    if ref.multiset == oth.multiset or limit_without_total_order(query, ref.column_names):
        return []
    positions = differing_positions(ref, oth)
    moved = [ref.column_names[i] for i in positions]
    if floats_only((ref, oth), positions) and reference.result_path and other.result_path:
        within = compare_with_tolerance(
            read_result(reference.result_path),
            read_result(other.result_path),
            cfg.float_rel_tol,
            cfg.float_abs_tol,
        )
        if within.match:
            return []
    return moved or ["row_order_or_pairing"]


def _write_moves(reference: Execution, other: Execution) -> dict[str, list[str]]:
    """Per table, the partitions whose post-state differs between two runs.

    Runs whose pre-states differ (``rows_before``) are not comparable and are skipped.
    """
    moved: dict[str, list[str]] = {}
    for table, ref in reference.writes.items():
        oth = other.writes.get(table)
        if oth is None or ref.rows_before != oth.rows_before:
            continue
        if ref.checksum == oth.checksum and ref.row_count == oth.row_count:
            continue
        keys = sorted(set(ref.partitions) | set(oth.partitions))
        moved[table] = [
            key
            for key in keys
            if (ref.partitions.get(key) is None)
            or (oth.partitions.get(key) is None)
            or ref.partitions[key] != oth.partitions[key]
        ] or ["(whole table)"]
    return moved


def baseline_consistency(
    query: QueryFacts, baseline_runs: Sequence[Execution], cfg: CompareSection
) -> Outcome | None:
    """``nondeterministic`` Outcome when the baseline runs disagree, else None.

    Compares every run with the first: statuses, results (row count, then per-column
    checksums, floats within tolerance) and write post-states per partition. Fewer than two
    runs give None (nothing to compare).
    """
    if len(baseline_runs) < 2:
        return None
    reference = baseline_runs[0]
    statuses = [run.status for run in baseline_runs]
    if len(set(statuses)) > 1:
        return Outcome(
            "nondeterministic",
            "baseline_status_flaky",
            {"baseline_statuses": statuses, "baseline_runs": len(baseline_runs)},
        )
    if reference.status != "ok":
        return None
    moved_columns: list[str] = []
    moved_partitions: dict[str, list[str]] = {}
    for other in baseline_runs[1:]:
        for column in _result_moves(query, reference, other, cfg):
            if column not in moved_columns:
                moved_columns.append(column)
        for table, keys in _write_moves(reference, other).items():
            known = moved_partitions.setdefault(table, [])
            known.extend(k for k in keys if k not in known)
    if not moved_columns and not moved_partitions:
        return None
    evidence: dict[str, Any] = {"baseline_runs": len(baseline_runs)}
    if moved_columns:
        evidence["moved_columns"] = moved_columns
    if moved_partitions:
        evidence["moved_partitions"] = moved_partitions
    evidence["baseline_multisets"] = [
        (run.result or {}).get("multiset", "") for run in baseline_runs
    ]
    return Outcome("nondeterministic", "baseline_disagrees_with_itself", evidence)
