"""Write verification: post-states per partition, and reported versus landed row counts.

For every table a statement wrote, the baseline's and the candidate's post-states are
compared partition by partition: a partition only the baseline has is *missing*, one only
the candidate has is *extra*, one both have with a different row count or checksum is
*different*; each is listed with its row counts on both sides.

Independently of the baseline, each engine's reported affected-row count is checked against
what actually changed in the table (the incident's detection remediation: the release
reported success while partitions were lost):

- CTAS: reported == rows in the new table;
- INSERT: reported == rows after - rows before;
- DELETE: reported == rows before - rows after;
- UPDATE: the row count must not change (the reported count cannot be checked from counts);
- MERGE: not checkable from counts alone.

A statement writing several tables is only checked per table, not for the reported count
(the count does not say which table it belongs to). ``rows_affected`` of None or below zero
means the engine did not report one, which is not a failure.
"""

from __future__ import annotations

from typing import Any

from simulator.compare.facts import QueryFacts
from simulator.compare.results import Outcome
from simulator.results.execution import Execution, TableState

# Partitions listed per table and category in the evidence; the totals are always given.
MAX_LISTED_PARTITIONS = 200


def _written_tables(query: QueryFacts, *executions: Execution) -> list[str]:
    names = list(query.tables_written)
    for execution in executions:
        names.extend(t for t in execution.writes if t not in names)
    return names


def reported_count_problem(query: QueryFacts, execution: Execution) -> dict[str, Any] | None:
    """Evidence when the engine's reported affected rows disagree with what landed, else None.

    Refuses nothing: a statement that is not a single-table CTAS/INSERT/DELETE/UPDATE, a
    missing post-state or an unreported count give None.
    """
    kind = query.kind
    if kind not in ("ctas", "insert", "delete", "update"):
        return None
    tables = [t for t in _written_tables(query, execution) if t in execution.writes]
    if len(tables) != 1:
        return None
    state = execution.writes[tables[0]]
    before, after = state.rows_before, state.row_count if state.exists else 0
    evidence = {
        "table": state.table,
        "kind": kind,
        "rows_before": before,
        "rows_after": after,
        "reported": execution.rows_affected,
    }
    if kind == "update":
        if before is None or before == after:
            return None
        evidence["landed"] = after - before
        evidence["problem"] = "UPDATE changed the table's row count"
        return evidence
    reported = execution.rows_affected
    if reported is None or reported < 0:
        return None
    if kind == "ctas":
        landed = after
    elif before is None:
        return None
    elif kind == "insert":
        landed = after - before
    else:
        landed = before - after
    if landed == reported:
        return None
    evidence["landed"] = landed
    verb = "deleted" if kind == "delete" else "written"
    evidence["problem"] = f"reported {reported} rows {verb}, {landed} actually {verb}"
    return evidence


def _partition_diff(base: TableState, cand: TableState) -> dict[str, Any]:
    missing, extra, different = [], [], []
    for key in sorted(set(base.partitions) | set(cand.partitions)):
        b, c = base.partitions.get(key), cand.partitions.get(key)
        entry = {
            "partition": key,
            "baseline_rows": b.row_count if b else None,
            "candidate_rows": c.row_count if c else None,
        }
        if c is None:
            missing.append(entry)
        elif b is None:
            extra.append(entry)
        elif b.row_count != c.row_count or b.checksum != c.checksum:
            different.append(entry)
    diff: dict[str, Any] = {}
    for name, entries in (
        ("missing_partitions", missing),
        ("extra_partitions", extra),
        ("different_partitions", different),
    ):
        diff[name] = entries[:MAX_LISTED_PARTITIONS]
        diff[f"{name}_total"] = len(entries)
    return diff


def compare_table(base: TableState, cand: TableState) -> dict[str, Any] | None:
    """Evidence of how two post-states of one table differ, or None when they agree."""
    evidence: dict[str, Any] = {
        "baseline_rows": base.row_count,
        "candidate_rows": cand.row_count,
        "baseline_checksum": base.checksum,
        "candidate_checksum": cand.checksum,
        "baseline_exists": base.exists,
        "candidate_exists": cand.exists,
    }
    if base.exists != cand.exists:
        evidence["problem"] = "table exists on one side only"
        return evidence
    if not base.exists:
        return None
    same_split = base.partition_columns == cand.partition_columns
    if same_split:
        diff = _partition_diff(base, cand)
        if any(diff[f"{change}_partitions_total"] for change in ("missing", "extra", "different")):
            evidence.update(diff)
            return evidence
    if base.row_count == cand.row_count and base.checksum == cand.checksum:
        return None
    if not same_split:
        evidence["problem"] = (
            f"partitioned by {base.partition_columns} (baseline) vs "
            f"{cand.partition_columns} (candidate): compared as whole tables"
        )
    return evidence


def compare_writes(query: QueryFacts, baseline: Execution, candidate: Execution) -> Outcome:
    """Compare the post-state of every table either side wrote.

    Returns ``write_mismatch`` naming each differing table with its partitions; ``skipped``
    when no written table has a post-state on both sides (the runner records
    ``exists=False`` for a table that is gone, so absence means it was not captured, which
    is a gap in the record, not evidence against the candidate); else ``match``.
    """
    tables_evidence: dict[str, Any] = {}
    not_captured: dict[str, str] = {}
    compared = 0
    for table in _written_tables(query, baseline, candidate):
        base, cand = baseline.writes.get(table), candidate.writes.get(table)
        if base is None or cand is None:
            sides = [s for s, state in (("baseline", base), ("candidate", cand)) if state is None]
            not_captured[table] = " and ".join(sides)
            continue
        compared += 1
        diff = compare_table(base, cand)
        if diff is not None:
            tables_evidence[table] = diff
    evidence: dict[str, Any] = {}
    if not_captured:
        evidence["writes_not_captured"] = not_captured
    if tables_evidence:
        evidence["tables"] = tables_evidence
        return Outcome("write_mismatch", "post_state_differs", evidence)
    if not_captured and not compared:
        return Outcome("skipped", "write post-state not captured", evidence)
    return Outcome("match", "", evidence)
