"""Transpilation of logged SQL to an engine's dialect, version-aware where sqlglot is
(DuckDB: ``duckdb, version=1.1`` keeps ``x -> x * 2`` lambdas, 1.3+ writes ``LAMBDA x : ...``).

Table references naming the tenant's own schema (``t01.events``, ``hive.t01.events``) are
rewritten to the unqualified names the tenant's workspace holds. What cannot be rendered
faithfully gets a skip reason (it becomes a ``skipped`` verdict), never an exception; so
does SQL the target engine cannot run (``unsupported.py``: ``unsupported_on_target``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlglot import ErrorLevel, exp
from sqlglot.dialects.dialect import Dialect, NormalizationStrategy
from sqlglot.errors import SqlglotError

from simulator.config import EngineSpec
from simulator.workload.classify import parse_statement
from simulator.workload.unsupported import unsupported_feature

_VERSION = re.compile(r"^(\d+)(?:\.(\d+))?(?:\.(\d+))?")
# SQLite has no EXTRACT; sqlglot passes it through. These parts have a strftime format
# (SQLite keeps dates and timestamps as ISO text); others stay EXTRACT, which the
# unsupported-feature check then names.
_SQLITE_STRFTIME = {"YEAR": "%Y", "MONTH": "%m", "DAY": "%d", "HOUR": "%H", "MINUTE": "%M"}


@dataclass(frozen=True)
class Transpiled:
    """The SQL to send to an engine, or None with the reason it cannot be sent."""

    sql: str | None
    skip_reason: str = ""


def target_dialect(engine: EngineSpec) -> str:
    """The sqlglot dialect string for an engine: its dialect plus ``version=X.Y.Z`` when the
    engine declares a version (only numeric leading parts are used)."""
    dialect = engine.dialect or engine.adapter
    match = _VERSION.match(engine.version or "")
    if not match:
        return dialect
    version = ".".join(p for p in match.groups() if p is not None)
    return f"{dialect}, version={version}"


def transpile(
    query_sql: str, read_dialect: str, engine: EngineSpec, tenant: str = ""
) -> Transpiled:
    """Render ``query_sql`` (written in ``read_dialect``) for ``engine``.

    Quoted identifiers of a case-insensitive source dialect (Trino) are lower-cased, as that
    dialect resolves them; qualifiers naming ``tenant`` are stripped; a reference to another
    schema, SQL sqlglot cannot parse, an unknown dialect, a construct the target cannot
    express or one its engine cannot run (``unsupported_feature``) give a skip reason
    instead of raising.
    """
    write = target_dialect(engine)
    try:
        writer = Dialect.get_or_raise(write)
        reader = Dialect.get_or_raise(read_dialect)
    except ValueError as err:
        return Transpiled(None, f"unsupported dialect: {err}")
    try:
        tree = parse_statement(query_sql, read_dialect)
    except ValueError as err:
        return Transpiled(None, f"unparseable in {read_dialect}: {err}")
    if reader.normalization_strategy is NormalizationStrategy.CASE_INSENSITIVE:
        _fold_quoted(tree)
    if (engine.dialect or engine.adapter) == "sqlite":
        _sqlite_extract(tree)
    if tenant:
        foreign = _strip_tenant(tree, tenant.lower())
        if foreign:
            return Transpiled(None, f"references {foreign}, outside tenant {tenant}'s namespace")
    try:
        sql = writer.generate(tree, unsupported_level=ErrorLevel.RAISE)
    except (SqlglotError, RecursionError) as err:
        message = " ".join(str(err).split())[:300]
        return Transpiled(None, f"cannot transpile to {write}: {message}")
    gap = unsupported_feature(sql, write, engine)
    if gap:
        return Transpiled(None, gap)
    return Transpiled(sql)


def _sqlite_extract(tree: exp.Expression) -> None:
    """``EXTRACT(YEAR FROM d)`` as ``CAST(STRFTIME('%Y', d) AS INTEGER)`` for SQLite."""
    for node in list(tree.find_all(exp.Extract)):
        fmt = _SQLITE_STRFTIME.get(node.this.name.upper())
        if fmt is None:
            continue
        strftime = exp.Anonymous(
            this="STRFTIME", expressions=[exp.Literal.string(fmt), node.expression]
        )
        node.replace(exp.Cast(this=strftime, to=exp.DataType.build("INTEGER")))


def _fold_quoted(tree: exp.Expression) -> None:
    """Lower-case quoted identifiers: in a case-insensitive dialect (Trino) ``"L_OrderKey"``
    names ``l_orderkey``, but quoted in the target's dialect it would keep its case (and miss
    the column on PostgreSQL or DataFusion)."""
    for identifier in tree.find_all(exp.Identifier):
        if identifier.quoted:
            identifier.set("this", identifier.this.lower())


def _strip_tenant(tree: exp.Expression, tenant: str) -> str:
    """Drop ``tenant`` (and any catalog before it) from table qualifiers; return the first
    qualified name that names another schema, or ""."""
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    for table in tree.find_all(exp.Table):
        schema = table.args.get("db")
        if schema is None:
            continue
        if schema.name.lower() == tenant:
            table.set("db", None)
            table.set("catalog", None)
        elif table.name.lower() not in ctes:
            return ".".join(p.name for p in table.parts)
    return ""
