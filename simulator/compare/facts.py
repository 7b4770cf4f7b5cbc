"""What the comparison needs to know about a query: the ``QueryFacts`` protocol.

The workload's ``WorkloadQuery`` satisfies it; so does any object with these attributes,
which keeps the comparison testable without the workload stage.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

# Static reason the workload's classifier gives for a LIMIT without ORDER BY anywhere in
# the statement (top level, subquery or set operation).
LIMIT_REASON = "limit_without_order_by"


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
