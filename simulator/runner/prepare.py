"""Everything a run needs before the first statement: inputs resolved and checked, and each
tenant's statements rendered for each engine.

Refusals here are user errors (one line, exit code 2): a generation or workload that does
not exist, a filter that keeps no query, a workload of zero queries, a tenant that has no
tables in the generation.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import sqlglot
from sqlglot.errors import SqlglotError

from simulator.config import EngineSpec, RunConfig
from simulator.datasets.store import Generation
from simulator.errors import RunError, WorkloadError
from simulator.runner.execute import Statement
from simulator.workload.classify import only_adds_or_removes_rows
from simulator.workload.store import QUERY_SCHEMA, Workload, WorkloadQuery
from simulator.workload.transpile import transpile


def _close(value: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(value, choices, n=3, cutoff=0.5)
    return f" (close matches: {', '.join(close)})" if close else ""


def select_queries(
    workload: Workload,
    tenants: list[str] | None = None,
    query_ids: list[str] | None = None,
    pattern_ids: list[str] | None = None,
) -> list[WorkloadQuery]:
    """The workload's queries kept by the filters, in replay order (tenant, seq).

    Refuses a workload of zero queries, and a filter value that matches nothing (naming
    close matches), so a typo never turns into an empty green run. When queries or patterns
    are picked, the tenant's earlier writes come along (their state is what the picked
    statements read), so one query of a pipeline replays correctly on its own.
    """
    queries = sorted(workload.queries, key=lambda q: (q.tenant, q.seq))
    where = f"workload {workload.name} ({workload.path})"
    if not queries:
        raise WorkloadError(f"{where}: has zero queries; nothing to replay")
    for label, wanted, attr in (
        ("tenant", tenants, "tenant"),
        ("query id", query_ids, "query_id"),
        ("pattern", pattern_ids, "pattern_id"),
    ):
        if not wanted:
            continue
        present = sorted({getattr(q, attr) for q in queries})
        for value in wanted:
            if value not in present:
                raise WorkloadError(f"{where}: no {label} {value!r}{_close(value, present)}")
        picked = [q for q in queries if getattr(q, attr) in set(wanted)]
        if attr == "tenant":
            queries = picked
            continue
        last = {}
        for q in picked:
            last[q.tenant] = max(last.get(q.tenant, q.seq), q.seq)
        chosen = {q.query_id for q in picked}
        queries = [
            q
            for q in queries
            if q.query_id in chosen
            or (q.kind != "select" and q.tables_written and q.seq < last.get(q.tenant, -1))
        ]
    return queries


def check_tenants(generation: Generation, queries: list[WorkloadQuery], workload: str) -> list[str]:
    """The tenants of ``queries``; refuses one the generation has no tables for."""
    known = generation.tenants()
    tenants = sorted({q.tenant for q in queries})
    for tenant in tenants:
        if tenant not in known or not generation.tables(tenant):
            raise RunError(
                f"workload {workload}: tenant {tenant!r} has no tables in generation "
                f"{generation.id[:12]} ({generation.name}; tenants: {', '.join(known) or 'none'})"
            )
    return tenants


def by_tenant(queries: list[WorkloadQuery]) -> dict[str, list[WorkloadQuery]]:
    """Queries grouped by tenant, each list in log order."""
    groups: dict[str, list[WorkloadQuery]] = defaultdict(list)
    for query in sorted(queries, key=lambda q: (q.tenant, q.seq)):
        groups[query.tenant].append(query)
    return dict(groups)


def writable_tables(generation: Generation, tenant: str, queries: list[WorkloadQuery]) -> list[str]:
    """The generation tables of ``tenant`` that its statements write (copied per workspace)."""
    tables = set(generation.tables(tenant))
    written = {t for q in queries if q.kind != "select" for t in q.tables_written}
    return sorted(written & tables)


def partition_columns(
    cfg: RunConfig, generation: Generation, tenant: str, table: str
) -> tuple[str, ...] | None:
    """How a written table's post-state is split: its hive partitions when the generation
    has it, else ``compare.partition_columns[table]``; None means "by ``day`` if the table
    has such a column" (decided when its rows are read)."""
    if table in generation.tables(tenant):
        return tuple(generation.partition_columns(tenant, table))
    configured = cfg.compare.partition_columns.get(table)
    return tuple(configured) if configured is not None else None


def build_statements(
    cfg: RunConfig, generation: Generation, tenant: str, queries: list[WorkloadQuery]
) -> dict[str, list[Statement]]:
    """Each engine's view of ``tenant``'s statements: transpiled SQL or a skip reason."""
    lanes: dict[str, list[Statement]] = {}
    appends_or_deletes = [_only_adds_or_removes_rows(query) for query in queries]
    for name in (cfg.run.baseline, *cfg.run.candidates):
        spec = cfg.engines[name]
        statements = []
        for index, query in enumerate(queries):
            if query.kind == "unparseable":
                sql, reason = None, f"unparseable: {query.parse_error or 'parse error'}"
            else:
                rendered = transpile(query.sql, query.dialect, spec, tenant)
                sql, reason = rendered.sql, rendered.skip_reason
            parts = {
                table: cols
                for table in query.tables_written
                if (cols := partition_columns(cfg, generation, tenant, table)) is not None
            }
            statements.append(
                Statement(
                    index=index,
                    query_id=query.query_id,
                    kind=query.kind,
                    sql=sql,
                    skip_reason=reason,
                    tables_written=tuple(query.tables_written),
                    partition_columns=parts,
                    order_keys=tuple(query.order_keys),
                    ordered=query.order_by,
                    limit=query.limit,
                    unlimited_sql=unlimited_sql(query, spec, tenant)
                    if name == cfg.run.baseline and sql is not None
                    else None,
                    only_adds_or_removes_rows=appends_or_deletes[index],
                )
            )
        lanes[name] = statements
    return lanes


STATEMENT_SCHEMA = pa.schema(
    [
        ("tenant", pa.string()),
        ("query_id", pa.string()),
        ("index", pa.int64()),
        ("engine", pa.string()),
        ("sql", pa.string()),
        ("skip_reason", pa.string()),
    ]
)


def statements_parquet(statements: dict[str, dict[str, list[Statement]]]) -> bytes:
    """The run's ``statements.parquet`` as bytes: per tenant, engine and statement, the SQL
    as sent (null when not sent) and the skip reason (``unsupported_on_target: ...``,
    ``cannot transpile ...``, or empty)."""
    rows = [
        {
            "tenant": tenant,
            "query_id": st.query_id,
            "index": st.index,
            "engine": engine,
            "sql": st.sql,
            "skip_reason": st.skip_reason,
        }
        for tenant, lanes in sorted(statements.items())
        for engine, lane in lanes.items()
        for st in lane
    ]
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pylist(rows, schema=STATEMENT_SCHEMA), sink)
    return sink.getvalue().to_pybytes()


def _only_adds_or_removes_rows(query: WorkloadQuery) -> bool:
    """Whether ``query`` is a plain INSERT or a DELETE (see ``only_adds_or_removes_rows``)."""
    if query.kind not in ("insert", "delete"):
        return False
    try:
        tree = sqlglot.parse_one(query.sql, read=query.dialect)
    except (SqlglotError, ValueError):
        return False
    return tree is not None and only_adds_or_removes_rows(tree)


def unlimited_sql(query: WorkloadQuery, spec: EngineSpec, tenant: str) -> str | None:
    """A SELECT's text for ``spec`` without its top-level LIMIT (and OFFSET), for the
    baseline's unlimited run; None for a statement without one or that cannot be rendered."""
    if query.kind != "select" or query.limit is None:
        return None
    try:
        tree = sqlglot.parse_one(query.sql, read=query.dialect)
    except (SqlglotError, ValueError):
        return None
    if tree is None or tree.args.get("limit") is None:
        return None
    tree.set("limit", None)
    tree.set("offset", None)
    return transpile(tree.sql(dialect=query.dialect), query.dialect, spec, tenant).sql


def write_queries(path: Path, queries: list[WorkloadQuery]) -> None:
    """Write the run's workload rows (the workload's own schema) to ``queries.parquet``."""
    columns = {f: [getattr(q, f) for q in queries] for f in QUERY_SCHEMA.names}
    pq.write_table(pa.table(columns, schema=QUERY_SCHEMA), path)


def read_queries(path: Path) -> list[WorkloadQuery]:
    """Read back a run's ``queries.parquet``; RunError when it is missing or damaged."""
    try:
        rows = pq.read_table(path).select(QUERY_SCHEMA.names).to_pylist()
    except (OSError, pa.ArrowException, KeyError) as err:
        raise RunError(f"{path}: cannot read the run's queries ({err})") from None
    names = {f.name for f in dataclasses.fields(WorkloadQuery)}
    return [WorkloadQuery(**{k: v for k, v in row.items() if k in names}) for row in rows]
