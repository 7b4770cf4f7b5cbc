"""What the comparison needs to know about a query: the ``QueryFacts`` protocol.

The workload's ``WorkloadQuery`` satisfies it; so does any object with these attributes,
which keeps the comparison testable without the workload stage.

The facts of ``OPTIONAL_FACTS`` (where the static nondeterminism reaches, which output
names are derived) are read with ``optional_fact``: an object without them, like a
workload sampled before they existed, is judged with their defaults (unknown reach, an
unfixed row set: the static reasons excuse any difference but a schema change; no
derived names: every rename fails).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

# Static reason the workload's classifier gives for a LIMIT without ORDER BY anywhere in
# the statement (top level, subquery or set operation).
LIMIT_REASON = "limit_without_order_by"
# Facts a query may carry beyond the protocol, with the value that stands for "unknown".
OPTIONAL_FACTS: dict[str, Any] = {
    "nondeterministic_columns": None,
    "estimate_columns": (),
    "row_set_fixed": False,
    "row_set_estimate_only": False,
    "row_count_fixed": False,
    "derived_names": (),
}


@runtime_checkable
class QueryFacts(Protocol):
    """The attributes of a workload query that the comparison reads."""

    query_id: str
    tenant: str
    pattern_id: str
    kind: str
    order_by: bool
    order_keys: Sequence[str]
    limit: int | None
    nondeterministic: Sequence[str]
    tables_written: Sequence[str]
    weight: float


def optional_fact(query: QueryFacts, name: str) -> Any:
    """The optional fact ``name`` of ``query``, or its ``OPTIONAL_FACTS`` default when the
    query lacks it or holds None."""
    value = getattr(query, name, None)
    return OPTIONAL_FACTS[name] if value is None else value


def order_is_total(query: QueryFacts, column_names: Sequence[str]) -> bool:
    """True when the top-level ORDER BY sorts by every output column.

    Then rows tying on every key are identical rows, so the order-sensitive digest is
    meaningful. Name matching is case-insensitive (SQL identifiers usually are).
    """
    if not query.order_by or not query.order_keys:
        return False
    keys = {k.casefold() for k in query.order_keys}
    return all(name.casefold() in keys for name in column_names)


def limit_without_total_order(query: QueryFacts, column_names: Sequence[str]) -> bool:
    """True when a LIMIT may return a different subset of rows on a correct engine."""
    return query.limit is not None and not order_is_total(query, column_names)


def static_reasons(query: QueryFacts) -> list[str]:
    """The workload's static nondeterminism reasons that can excuse a mismatch.

    A top-level LIMIT without ORDER BY is handled structurally (row count and schema are
    compared, which a correct engine does fix), so its reason is left out and a row count
    change stays a mismatch. The same reason on a query with a top-level ORDER BY comes from
    a subquery or set operation, which can change any value: it is kept. What else the
    classifier reports (rand, now, approx_*, TABLESAMPLE, array_agg without ORDER BY...)
    can legitimately change values between runs.
    """
    structural = query.limit is not None and not query.order_by
    return [
        reason
        for reason in query.nondeterministic
        if not (structural and reason.lower().replace(" ", "_") == LIMIT_REASON)
    ]
