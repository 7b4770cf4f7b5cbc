"""Classification of one SQL statement with sqlglot: kind, tables read and written, the
top-level ORDER BY and LIMIT, which output names the engine derives, and the static
reasons its result may not be deterministic with where they reach (``lineage``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from simulator.workload.lineage import ORDER, ROWS, category, function_name, lineage

KINDS = ("select", "ctas", "insert", "delete", "update", "merge", "ddl", "other", "unparseable")
# Kinds that write rows into a table (the post-state of the written table is their result).
ROW_WRITE_KINDS = frozenset({"ctas", "insert", "delete", "update", "merge"})
# Kinds that change a table, its rows or its definition (CREATE, DROP, ALTER, TRUNCATE too):
# what the sampler follows to keep a pipeline's statements together.
TABLE_WRITE_KINDS = ROW_WRITE_KINDS | {"ddl"}
_DDL = (exp.Create, exp.Drop, exp.Alter, exp.TruncateTable)
_PARSE_ERROR_CHARS = 300
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass(frozen=True)
class Classification:
    """What qsim needs to know about a statement before replaying it.

    ``order_keys`` are the output column names the top-level ORDER BY sorts by, as far as
    they resolve: a prefix of the sort keys, empty when the first key does not resolve.

    Where the ``nondeterministic`` reasons reach (see ``lineage.Lineage``):
    ``nondeterministic_columns`` are the output positions they feed (None: unknown, all),
    ``estimate_columns`` those fed only by approximate aggregates, ``row_set_fixed`` is
    False when they can change which rows come out or how many, ``row_set_estimate_only``
    True when only approximate aggregates can, ``row_count_fixed`` True when they change
    which rows a top-level LIMIT keeps but not how many. ``derived_names`` says per
    output position whether the engine derives the column name from the expression text
    (an unaliased expression); empty when unknown (a ``*`` in the select list).
    """

    kind: str
    tables_read: tuple[str, ...] = ()
    tables_written: tuple[str, ...] = ()
    order_by: bool = False
    order_keys: tuple[str, ...] = ()
    limit: int | None = None
    nondeterministic: tuple[str, ...] = ()
    nondeterministic_columns: tuple[int, ...] | None = None
    estimate_columns: tuple[int, ...] = ()
    row_set_fixed: bool = False
    row_set_estimate_only: bool = False
    row_count_fixed: bool = False
    derived_names: tuple[bool, ...] = ()
    parse_error: str = ""

    def reach_fields(self) -> dict[str, Any]:
        """Where the nondeterminism reaches and which names are derived, as the workload
        record stores them (lists; None stays None)."""
        columns = self.nondeterministic_columns
        return {
            "nondeterministic_columns": None if columns is None else list(columns),
            "estimate_columns": list(self.estimate_columns),
            "row_set_fixed": self.row_set_fixed,
            "row_set_estimate_only": self.row_set_estimate_only,
            "row_count_fixed": self.row_count_fixed,
            "derived_names": list(self.derived_names),
        }


def parse_statement(sql: str, dialect: str) -> exp.Expression:
    """Parse exactly one statement. Raises ValueError with sqlglot's one-line message."""
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except SqlglotError as err:
        message = " ".join(_ANSI.sub("", str(err)).split())
        raise ValueError(message[:_PARSE_ERROR_CHARS] or type(err).__name__) from None
    except RecursionError:
        raise ValueError("statement nests too deeply to parse") from None
    if not statements:
        raise ValueError("no statement in the text")
    if len(statements) > 1:
        raise ValueError(f"{len(statements)} statements in one query; qsim replays one")
    return statements[0]


def unparseable(message: str) -> Classification:
    """The classification of a text sqlglot could not parse."""
    return Classification(kind="unparseable", parse_error=message)


def classify(tree: exp.Expression) -> Classification:
    """Return the classification of a parsed statement (the tree is not modified)."""
    kind = kind_of(tree)
    targets = _target_tables(tree, kind)
    target_ids = {id(t) for t in targets}
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    read: dict[str, None] = {}
    for table in tree.find_all(exp.Table):
        name = _table_name(table)
        if id(table) in target_ids or not name or name in ctes:
            continue
        read[name] = None
    written = tuple(dict.fromkeys(_table_name(t) for t in targets if _table_name(t)))
    query = tree if kind == "select" else None
    order_by, order_keys, limit = _top_level_order(query)
    reasons = _nondeterministic(tree)
    reached: tuple[int, ...] | None = ()
    estimate: tuple[int, ...] = ()
    fixed, estimate_only, count_fixed = True, False, True
    if reasons:
        source = (
            tree if kind == "select" else tree.expression if kind in ("ctas", "insert") else None
        )
        if isinstance(source, exp.Query):
            found = lineage(source)
            reached, estimate, fixed = found.columns, found.estimate_columns, found.row_set_fixed
            estimate_only, count_fixed = found.row_set_estimate_only, found.row_count_fixed
        else:
            reached, fixed, count_fixed = None, False, False
    return Classification(
        kind=kind,
        tables_read=tuple(sorted(read)),
        tables_written=written,
        order_by=order_by,
        order_keys=order_keys,
        limit=limit,
        nondeterministic=reasons,
        nondeterministic_columns=reached,
        estimate_columns=estimate,
        row_set_fixed=fixed,
        row_set_estimate_only=estimate_only,
        row_count_fixed=count_fixed,
        derived_names=_derived_names(query),
    )


def kind_of(tree: exp.Expression) -> str:
    """The statement kind of a parsed statement: one of ``KINDS`` but ``unparseable``.

    The one definition of the kinds: the workload records it, fault injection draws on it.
    """
    if isinstance(tree, exp.Query):
        return "select"
    if isinstance(tree, exp.Create):
        if tree.kind and tree.kind.upper() == "TABLE" and isinstance(tree.expression, exp.Query):
            return "ctas"
        return "ddl"
    if isinstance(tree, exp.Insert):
        return "insert"
    if isinstance(tree, exp.Delete):
        return "delete"
    if isinstance(tree, exp.Update):
        return "update"
    if isinstance(tree, exp.Merge):
        return "merge"
    if isinstance(tree, _DDL):
        return "ddl"
    return "other"


def only_adds_or_removes_rows(tree: exp.Expression) -> bool:
    """Whether a write can only append rows or delete whole rows, never rewrite one in
    place: a DELETE, or an INSERT with no ON CONFLICT, OR REPLACE/IGNORE or OVERWRITE
    clause, with no UPDATE or MERGE nested anywhere (a data-modifying CTE)."""
    if isinstance(tree, exp.Insert):
        if tree.args.get("conflict") or tree.args.get("alternative") or tree.args.get("overwrite"):
            return False
    elif not isinstance(tree, exp.Delete):
        return False
    return tree.find(exp.Update, exp.Merge) is None


def _target_tables(tree: exp.Expression, kind: str) -> list[exp.Table]:
    if kind == "select" or kind == "other":
        return []
    if isinstance(tree, exp.Drop):
        return [t for t in tree.args.get("tables") or [tree.this] if isinstance(t, exp.Table)]
    target = tree.this
    if isinstance(target, exp.Schema):
        target = target.this
    if isinstance(target, exp.Table):
        return [target]
    return []


def _table_name(table: exp.Table) -> str:
    """Lower-cased, dot-qualified name as written (``events``, ``t01.events``)."""
    parts = [p.name for p in table.parts if isinstance(p, exp.Identifier | exp.Var)]
    return ".".join(parts).lower()


def _top_level_order(query: exp.Expression | None) -> tuple[bool, tuple[str, ...], int | None]:
    if query is None:
        return False, (), None
    order = query.args.get("order")
    limit = _limit_value(query)
    if not isinstance(order, exp.Order):
        return False, (), limit
    return True, _order_keys(query, order), limit


def _limit_value(query: exp.Expression) -> int | None:
    node = query.args.get("limit")
    if isinstance(node, exp.Limit):
        value = node.expression
    elif isinstance(node, exp.Fetch):
        value = node.args.get("count")
    else:
        return None
    if isinstance(value, exp.Literal) and value.is_int:
        return int(value.name)
    return None


def _order_keys(query: exp.Expression, order: exp.Order) -> tuple[str, ...]:
    projections = list(query.selects) if isinstance(query, exp.Query) else []
    has_star = any(
        isinstance(p, exp.Star) or (isinstance(p, exp.Column) and p.is_star) for p in projections
    )
    names = [_output_name(p) for p in projections]
    by_name = {name.lower(): name for name in names if name}
    by_sql = {p.unalias().sql(): name for p, name in zip(projections, names, strict=True) if name}
    keys: list[str] = []
    for ordered in order.expressions:
        key = ordered.this
        name = ""
        if isinstance(key, exp.Literal) and key.is_int:
            position = int(key.name) - 1
            if 0 <= position < len(projections) and not has_star:
                name = names[position]
        elif isinstance(key, exp.Column):
            name = by_name.get(key.name.lower(), "") or by_sql.get(key.sql(), "")
            if not name and has_star:
                name = key.name
        else:
            name = by_sql.get(key.sql(), "")
        if not name:
            break
        keys.append(name)
    return tuple(keys)


def _output_name(projection: exp.Expression) -> str:
    """The column name an engine reports for a projection, when it does not depend on the
    engine (an alias or a plain column); else ""."""
    if isinstance(projection, exp.Alias):
        return projection.alias
    if isinstance(projection, exp.Column) and not projection.is_star:
        return projection.name
    return ""


def _derived_names(query: exp.Expression | None) -> tuple[bool, ...]:
    """Per output position, True when the engine derives the name from the expression text
    (the leftmost SELECT names a set operation's columns); () when unknown."""
    while isinstance(query, exp.SetOperation | exp.Subquery):
        query = query.this
    if not isinstance(query, exp.Select) or any(p.is_star for p in query.selects):
        return ()
    return tuple(_output_name(p) == "" for p in query.selects)


def _nondeterministic(tree: exp.Expression) -> tuple[str, ...]:
    reasons: dict[str, None] = {}
    for node in tree.walk():
        found = category(node)
        if found == ROWS:
            reasons["tablesample"] = None
        elif found == ORDER:
            reasons[f"{function_name(node)}_without_order_by"] = None
        elif found is not None:
            reasons[function_name(node)] = None
        elif isinstance(node, exp.Select) and node.args.get("limit") and not node.args.get("order"):
            reasons["limit_without_order_by"] = None
    parent_limits = _set_operation_limits(tree)
    if parent_limits:
        reasons["limit_without_order_by"] = None
    return tuple(reasons)


def _set_operation_limits(tree: exp.Expression) -> bool:
    """A LIMIT on a UNION without ORDER BY picks arbitrary rows too."""
    return any(
        node.args.get("limit") and not node.args.get("order")
        for node in tree.find_all(exp.SetOperation)
    )
