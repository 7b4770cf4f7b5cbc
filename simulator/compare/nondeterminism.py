"""What a query's static nondeterminism can excuse, and what stays a mismatch.

The workload records, beside the static reasons (rand, now, approx_*, array_agg without
ORDER BY, TABLESAMPLE, a LIMIT without ORDER BY in a subquery), where they reach: the output
columns they feed (``nondeterministic_columns``, None when unknown), those fed only by
approximate aggregates (``estimate_columns``) and whether they can change the row set
(``row_set_fixed``). A result mismatch is excused only as far as that reach explains it:

- a schema change or a missing result set: never (nondeterminism does not change them);
- the row set not fixed (a random filter, a sample, a LIMIT choosing rows below the top):
  any difference;
- otherwise a row count change stays a mismatch, and so do equal rows in another order
  and a value difference in a column outside the reached ones; a difference confined to
  reached columns (or a change of pairing between rows when a column is reached) is
  excused;
- a difference confined to columns only approximate aggregates feed, or any difference
  when only approximate aggregates choose the rows (``row_set_estimate_only``: a HAVING
  or a top-k on an estimate), on a query whose baseline repeated runs agreed with each
  other, is ``estimate_changed``: the estimate changed, repeatably. Without repeated
  runs it stays ``nondeterministic``.

A write post-state is compared per partition, not per column: a write mismatch on a query
with a static reason is excused as a whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from simulator.compare.facts import QueryFacts, optional_fact, static_reasons
from simulator.compare.results import Outcome, differing_positions, load_checksum
from simulator.results.execution import Execution
from simulator.results.verdicts import ESTIMATE_CHANGED

_NEVER_EXCUSED = ("schema_mismatch", "result_set_missing")
# What a fixed row set leaves nothing nondeterministic to explain.
_FIXED_BY_THE_ROW_SET = {
    "row_count": "the row count changed; nondeterminism cannot change the row set",
    "order_mismatch": "equal rows in another order; nondeterministic values cannot reorder them",
}


def _estimate_chooses_rows(query: QueryFacts, baseline_runs: Sequence[Execution]) -> bool:
    """True when only approximate aggregates choose the rows, nothing else nondeterministic
    feeds a column, and the baseline repeated its result."""
    columns = optional_fact(query, "nondeterministic_columns")
    return (
        bool(optional_fact(query, "row_set_estimate_only"))
        and columns is not None
        and set(columns) <= set(optional_fact(query, "estimate_columns"))
        and len(baseline_runs) >= 2
    )


def excuse(
    query: QueryFacts,
    outcome: Outcome,
    evidence: dict[str, Any],
    baseline_runs: Sequence[Execution],
    candidate: Execution,
) -> Outcome:
    """``outcome`` after the static nondeterminism of ``query`` excused what it can.

    ``evidence`` (the verdict's) gains ``mismatch_reason`` and either ``excused_columns`` /
    ``estimate_columns`` or ``not_excused`` / ``not_excused_columns``.
    """
    reasons = static_reasons(query)
    if not reasons or outcome.verdict not in ("write_mismatch", "result_mismatch"):
        return outcome
    static = Outcome("nondeterministic", "static: " + ", ".join(reasons))
    evidence["mismatch_reason"] = outcome.reason
    if outcome.verdict == "write_mismatch":
        return static
    if outcome.reason in _NEVER_EXCUSED:
        evidence["not_excused"] = "nondeterminism changes neither the schema nor the result set"
        return outcome
    if not optional_fact(query, "row_set_fixed"):
        count_fixed = optional_fact(query, "row_count_fixed")
        if outcome.reason == "row_count" and count_fixed:
            evidence["not_excused"] = (
                "the row count changed; nondeterminism here changes which rows the LIMIT "
                "keeps, not how many"
            )
            return outcome
        if (
            outcome.reason == "limited_rows_not_in_unlimited_result"
            and count_fixed
            and optional_fact(query, "nondeterministic_columns") == []
        ):
            evidence["not_excused"] = (
                "a returned row is not among the baseline's unlimited rows; nondeterminism "
                "here only picks which rows the LIMIT keeps"
            )
            return outcome
        if _estimate_chooses_rows(query, baseline_runs):
            evidence["estimate_chooses_rows"] = True
            return Outcome(ESTIMATE_CHANGED, "approximate_aggregate")
        evidence["excused_columns"] = "all: the row set is not fixed"
        return static
    if outcome.reason in _FIXED_BY_THE_ROW_SET:
        evidence["not_excused"] = _FIXED_BY_THE_ROW_SET[outcome.reason]
        return outcome
    bsum, csum = load_checksum(baseline_runs[0]), load_checksum(candidate)
    if bsum is None or csum is None:
        return outcome
    names = list(bsum.column_names)
    columns = optional_fact(query, "nondeterministic_columns")
    reached = list(range(len(names))) if columns is None else [p for p in columns if p < len(names)]
    positions = differing_positions(bsum, csum)
    outside = [p for p in positions if p not in reached]
    if outside or not reached:
        evidence["not_excused_columns"] = [names[p] for p in outside] or "row pairing"
        evidence["nondeterministic_columns"] = [names[p] for p in reached]
        return outcome
    estimates = set(optional_fact(query, "estimate_columns"))
    if positions and set(positions) <= estimates and len(baseline_runs) >= 2:
        evidence["estimate_columns"] = [names[p] for p in positions]
        return Outcome(ESTIMATE_CHANGED, "approximate_aggregate")
    evidence["excused_columns"] = [names[p] for p in positions or reached]
    return static
