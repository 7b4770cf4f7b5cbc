"""A pasted statement, checked before any engine sees it.

The engines' sandboxes (``engines/adapters/*_sandbox``) are what keeps a replayed statement
inside its workspace; this module only refuses early, with one clear line, what a pasted
statement must never be: longer than the service's limit, more than one statement, a
statement kind a workload never replays (COPY, ATTACH, SET, PRAGMA, INSTALL ...), or a read
of anything but a table (a table function such as ``read_csv`` or a quoted file path).
What passes is replayed exactly as a workload query of the tenant would be.
"""

from __future__ import annotations

from sqlglot import exp

from simulator.errors import QsimError
from simulator.workload.classify import classify, parse_statement
from simulator.workload.fingerprint import fingerprint
from simulator.workload.store import WorkloadQuery

DEFAULT_MAX_CHARS = 10_000
REPLAYABLE_KINDS = ("select", "insert", "update", "delete", "merge", "ctas", "ddl")


class RefusedStatement(QsimError):
    """A pasted statement the service will not send to any engine (one line saying why)."""


def _refuse_file_reads(tree: exp.Expression) -> None:
    """Refuse a table function or a quoted path where a table is read."""
    for table in tree.find_all(exp.Table):
        source = table.this
        if isinstance(source, exp.Func):
            raise RefusedStatement(
                f"refused: table function {source.sql().split('(')[0].lower()[:40]}(); a pasted "
                "statement may read only the tenant's tables"
            )
        if isinstance(source, exp.Literal) or (
            isinstance(source, exp.Identifier) and ("/" in source.name or "." in source.name)
        ):
            raise RefusedStatement(
                "refused: a file path where a table is read; a pasted statement may read only "
                "the tenant's tables"
            )
    for function in tree.find_all(exp.Anonymous):
        name = str(function.this).lower()
        if name.startswith(("read_", "sniff_", "parquet_")) or name in ("glob", "pg_read_file"):
            raise RefusedStatement(f"refused: function {name}() reads files")


def pasted_query(
    sql: str, tenant: str, dialect: str, max_chars: int = DEFAULT_MAX_CHARS
) -> WorkloadQuery:
    """The workload query a pasted statement stands for (``query_id`` and ``pattern_id``
    from its fingerprint). Raises RefusedStatement for what the module docstring lists."""
    text = sql.strip()
    if not text:
        raise RefusedStatement("refused: the statement is empty")
    if len(text) > max_chars:
        raise RefusedStatement(
            f"refused: the statement has {len(text)} characters; the limit is {max_chars}"
        )
    try:
        tree = parse_statement(text, dialect)
    except ValueError as err:
        raise RefusedStatement(f"refused: cannot parse as {dialect}: {err}") from None
    facts = classify(tree)
    if facts.kind not in REPLAYABLE_KINDS:
        keyword = text.split(None, 1)[0].upper()[:20]
        raise RefusedStatement(
            f"refused: {keyword} statements are not replayed (allowed: "
            f"{', '.join(REPLAYABLE_KINDS)})"
        )
    _refuse_file_reads(tree)
    pattern = fingerprint(tree.copy())
    return WorkloadQuery(
        query_id=f"pasted-{pattern[:12]}",
        tenant=tenant,
        seq=0,
        submitted_at=0.0,
        sql=text,
        dialect=dialect,
        kind=facts.kind,
        pattern_id=pattern,
        tables_read=list(facts.tables_read),
        tables_written=list(facts.tables_written),
        order_by=facts.order_by,
        order_keys=list(facts.order_keys),
        limit=facts.limit,
        nondeterministic=list(facts.nondeterministic),
        **facts.reach_fields(),
    )
