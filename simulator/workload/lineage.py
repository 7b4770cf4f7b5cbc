"""Column lineage of the nondeterministic expressions of a query, with sqlglot.

A static nondeterminism reason (rand, now, approx_*, array_agg without ORDER BY,
TABLESAMPLE, a LIMIT without ORDER BY in a subquery) may excuse a difference only where it
can reach. This module follows each such expression through CTEs, subqueries in FROM and
set operations to the output columns it feeds, and says whether it can change which rows
come out or how many (a nondeterministic value in WHERE, JOIN ON, GROUP BY, HAVING,
QUALIFY, DISTINCT, an ORDER BY that a LIMIT cuts, a sampled table, a LIMIT without ORDER
BY below the top level). Without a schema a ``*`` hides which columns come from where:
the reached positions are then unknown (``None``: all columns).

Known-deterministic wrappers cancel the order-nondeterminism of ``array_agg`` and
``string_agg``: sorting the list, taking its length, reducing it to a sum/min/max or
unnesting it back to rows (through list_distinct, list_filter or list_transform).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

# Categories of nondeterministic expressions.
RANDOM = "random"  # rand, uuid, now, current_*: a new value on every run
ESTIMATE = "estimate"  # approximate aggregates: engine-specific but usually repeatable
ORDER = "order"  # array_agg / string_agg without ORDER BY: element order not fixed
ROWS = "rows"  # TABLESAMPLE, LIMIT without ORDER BY below the top: which rows is not fixed
CATEGORIES = frozenset({RANDOM, ESTIMATE, ORDER, ROWS})

_RANDOM_NAMES = frozenset({"rand", "random", "uuid", "gen_random_uuid", "now", "shuffle"})
_RANDOM_PREFIXES = ("current_", "localtime")
_ESTIMATE_NAMES = frozenset({"reservoir_quantile", "hll", "hll_count_distinct"})
_UNORDERED_AGGREGATES = (exp.ArrayAgg, exp.GroupConcat)
# Consumers of a list whose result does not depend on the order of its elements.
_ORDER_INSENSITIVE = (exp.ArraySort, exp.ArraySize, exp.Length, exp.Explode, exp.Unnest)
_ORDER_INSENSITIVE_NAMES = frozenset(
    {
        "array_sort",
        "list_sort",
        "sort_array",
        "array_reverse_sort",
        "list_reverse_sort",
        "cardinality",
        "len",
        "length",
        "array_length",
        "array_size",
        "list_sum",
        "list_min",
        "list_max",
        "list_avg",
        "list_count",
        "list_unique",
        "array_sum",
        "array_min",
        "array_max",
        "array_avg",
        "array_unique",
        "unnest",
    }
)
# List functions that keep the multiset relation, so an order-insensitive consumer above
# them still cancels the order.
_MULTISET_PRESERVING = (exp.ArrayDistinct,)
_MULTISET_PRESERVING_NAMES = frozenset(
    {
        "list_distinct",
        "array_distinct",
        "list_filter",
        "array_filter",
        "filter",
        "list_transform",
        "array_transform",
        "transform",
        "list_apply",
        "apply",
    }
)


def function_name(node: exp.Expression) -> str:
    """The lower-case SQL name of a function node (``string_agg`` for GroupConcat)."""
    if isinstance(node, exp.GroupConcat):
        return "string_agg"
    if isinstance(node, exp.Anonymous):
        return str(node.this).lower()
    return node.sql_name().lower() if isinstance(node, exp.Func) else node.key


def category(node: exp.Expression) -> str | None:
    """The nondeterminism category of one node (None when it is deterministic).

    A LIMIT without ORDER BY is a property of its query, not of a node: see ``Lineage``.
    """
    if isinstance(node, exp.TableSample):
        return ROWS
    if isinstance(node, _UNORDERED_AGGREGATES):
        if isinstance(node.this, exp.Order) or isinstance(node.parent, exp.WithinGroup):
            return None
        return None if _order_cancelled(node) else ORDER
    if not isinstance(node, exp.Func):
        return None
    name = function_name(node)
    if name.startswith("approx_") or name in _ESTIMATE_NAMES:
        return ESTIMATE
    if (
        name in _RANDOM_NAMES
        or name.startswith(_RANDOM_PREFIXES)
        or isinstance(node, exp.Rand | exp.Uuid | exp.CurrentTimestamp)
    ):
        return RANDOM
    return None


def _order_cancelled(node: exp.Expression) -> bool:
    """True when an order-insensitive consumer takes the list ``node`` returns."""
    parent = node.parent
    while isinstance(parent, exp.Func):
        name = function_name(parent)
        if isinstance(parent, _ORDER_INSENSITIVE) or name in _ORDER_INSENSITIVE_NAMES:
            return True
        if not (isinstance(parent, _MULTISET_PRESERVING) or name in _MULTISET_PRESERVING_NAMES):
            return False
        parent = parent.parent
    return False


@dataclass(frozen=True)
class Lineage:
    """Where a query's nondeterminism can reach.

    ``columns``: output positions a nondeterministic expression feeds (None: unknown, all);
    ``estimate_columns``: positions fed only by approximate aggregates (and by nothing
    random); ``row_set_fixed``: False when nondeterminism can change which rows come out
    or how many; ``row_set_estimate_only``: it is not fixed, and only because of
    approximate aggregates (``HAVING approx_distinct(x) > 3``, a top-k by an estimate);
    ``row_count_fixed``: how many rows come out is fixed even when which ones is not (the
    only nondeterministic choice is the top-level ORDER BY ... LIMIT: ``ORDER BY rand()
    LIMIT 5`` keeps five rows, whichever).
    """

    columns: tuple[int, ...] | None
    estimate_columns: tuple[int, ...]
    row_set_fixed: bool
    row_set_estimate_only: bool
    row_count_fixed: bool = False


@dataclass(frozen=True)
class _Shape:
    """What one query (or source) exposes: output names (None: unknown), reached
    positions (None: all) and whether its row set is fixed."""

    names: tuple[str, ...] | None
    reached: frozenset[int] | None
    fixed: bool

    def reaches(self, name: str) -> bool:
        """True when nondeterminism may reach the output column called ``name``."""
        if self.reached is None:
            return True
        if not self.reached:
            return False
        if self.names is None:
            return True
        folded = name.casefold()
        return any(self.names[i].casefold() == folded for i in self.reached)


_DETERMINISTIC = _Shape(None, frozenset(), True)


def _one_row(node: exp.Select) -> bool:
    """True for a SELECT that aggregates without GROUP BY, HAVING or LIMIT: one row."""
    if any(node.args.get(clause) for clause in ("group", "having", "limit", "offset")):
        return False
    return any(
        isinstance(agg, exp.AggFunc) and agg.find_ancestor(exp.Window) is None
        for projection in node.selects
        for agg in projection.find_all(exp.AggFunc)
    ) and not any(p.is_star for p in node.selects)


def lineage(query: exp.Expression) -> Lineage:
    """The lineage of the nondeterministic expressions of ``query`` (a SELECT, a set
    operation, or the query of a CTAS / INSERT)."""
    analysis = _Analysis(CATEGORIES)
    every = analysis.query(query, {}, top=True)
    unpredictable = _Analysis(CATEGORIES - {ESTIMATE}).query(query, {}, top=True)
    columns = None if every.reached is None else tuple(sorted(every.reached))
    estimate: tuple[int, ...] = ()
    if every.reached is not None and unpredictable.reached is not None:
        estimate = tuple(sorted(every.reached - unpredictable.reached))
    return Lineage(
        columns=columns,
        estimate_columns=estimate,
        row_set_fixed=every.fixed,
        row_set_estimate_only=unpredictable.fixed and not every.fixed,
        row_count_fixed=every.fixed or analysis.top_count_fixed,
    )


def _arg(node: exp.Expression, name: str) -> exp.Expression | None:
    """``node.args[name]``, also under the trailing-underscore key newer sqlglot uses."""
    value = node.args.get(name)
    return value if value is not None else node.args.get(name + "_")


def _alias_columns(node: exp.Expression) -> tuple[str, ...] | None:
    alias = node.args.get("alias")
    if isinstance(alias, exp.TableAlias) and alias.columns:
        return tuple(c.name for c in alias.columns)
    return None


class _Analysis:
    """One pass over a query, counting only the nondeterminism ``categories``."""

    def __init__(self, categories: frozenset[str]) -> None:
        # Set by the top-level SELECT: its row set was fixed up to its own LIMIT's choice.
        self.top_count_fixed = False
        self.categories = categories

    def query(self, node: exp.Expression, ctes: dict[str, _Shape], *, top: bool) -> _Shape:
        """The shape of a query node; ``top`` marks the statement's own result."""
        while isinstance(node, exp.Subquery | exp.Paren):
            node = node.this
        ctes = self._ctes(node, ctes)
        if isinstance(node, exp.SetOperation):
            left = self.query(node.left, ctes, top=False)
            right = self.query(node.right, ctes, top=False)
            reached = None
            if left.reached is not None and right.reached is not None:
                reached = left.reached | right.reached
            fixed = left.fixed and right.fixed
            if node.args.get("distinct") and reached != frozenset():
                fixed = False  # deduplication over a changing value changes the row count
            if not self._limit_fixed(node, ctes, {}, _Shape(left.names, reached, fixed), top=top):
                fixed = False
                reached = reached if top else None
            return _Shape(left.names, reached, fixed)
        if isinstance(node, exp.Select):
            return self._select(node, ctes, top=top)
        return _Shape(None, None if self._expr(node, ctes, {}) else frozenset(), True)

    def _ctes(self, node: exp.Expression, ctes: dict[str, _Shape]) -> dict[str, _Shape]:
        with_ = _arg(node, "with")
        if not isinstance(with_, exp.With):
            return ctes
        ctes = dict(ctes)
        for cte in with_.expressions:
            shape = self.query(cte.this, ctes, top=False)
            renamed = _alias_columns(cte)
            ctes[cte.alias_or_name.lower()] = _Shape(
                renamed or shape.names, shape.reached, shape.fixed
            )
        return ctes

    def _source(
        self, node: exp.Expression, ctes: dict[str, _Shape], sources: dict[str, _Shape]
    ) -> _Shape:
        """The shape of one FROM / JOIN source; ``sources`` are those left of it (which a
        lateral source or table function may refer to)."""
        if isinstance(node, exp.Table):
            shape = ctes.get(node.name.lower(), _DETERMINISTIC) if not node.db else _DETERMINISTIC
            if node.args.get("sample") is not None and ROWS in self.categories:
                return _Shape(shape.names, None, False)
            return shape
        if isinstance(node, exp.Subquery):
            shape = self.query(node.this, ctes, top=False)
            return _Shape(_alias_columns(node) or shape.names, shape.reached, shape.fixed)
        # Table functions, UNNEST, VALUES, LATERAL: nondeterministic anywhere means unknown.
        return _Shape(None, None, False) if self._expr(node, ctes, sources) else _DETERMINISTIC

    def _select(self, node: exp.Select, ctes: dict[str, _Shape], *, top: bool) -> _Shape:
        sources: dict[str, _Shape] = {}
        from_ = _arg(node, "from")
        tables = [from_.this] if isinstance(from_, exp.From) else []
        tables += [join.this for join in node.args.get("joins") or []]
        for table in tables:
            sources[table.alias_or_name.lower()] = self._source(table, ctes, sources)
        fixed = all(shape.fixed for shape in sources.values())
        if node.args.get("sample") is not None and ROWS in self.categories:
            fixed = False
            sources = {name: _Shape(s.names, None, False) for name, s in sources.items()}
        for join in node.args.get("joins") or []:
            if self._expr(join.args.get("on"), ctes, sources):
                fixed = False
        projections = node.selects
        star = any(p.is_star for p in projections)
        reached = frozenset(i for i, p in enumerate(projections) if self._expr(p, ctes, sources))
        if star and (reached or any(s.reached != frozenset() for s in sources.values())):
            output = _Shape(None, None, True)
        else:
            output = _Shape(
                None if star else tuple(p.alias_or_name for p in projections), reached, True
            )
        for clause in ("where", "group", "having", "qualify"):
            if self._clause(node.args.get(clause), ctes, sources, output):
                fixed = False
        if node.args.get("distinct") and output.reached != frozenset():
            fixed = False
        if top:
            # An aggregate without GROUP BY returns exactly one row, whatever it reads.
            self.top_count_fixed = fixed or _one_row(node)
        if not self._limit_fixed(node, ctes, sources, output, top=top):
            fixed = False
            if not top:  # which rows a LIMIT keeps changes every column
                output = _Shape(output.names, None, fixed)
        return _Shape(output.names, output.reached, fixed)

    def _limit_fixed(
        self,
        node: exp.Expression,
        ctes: dict[str, _Shape],
        sources: dict[str, _Shape],
        output: _Shape,
        *,
        top: bool,
    ) -> bool:
        """False when a LIMIT keeps rows that nondeterminism chooses: a LIMIT without
        ORDER BY below the top level, or an ORDER BY on a nondeterministic value."""
        if _arg(node, "limit") is None and node.args.get("offset") is None:
            return True
        order = node.args.get("order")
        if order is None:
            return top or ROWS not in self.categories
        return not self._clause(order, ctes, sources, output)

    def _clause(
        self,
        node: exp.Expression | None,
        ctes: dict[str, _Shape],
        sources: dict[str, _Shape],
        output: _Shape,
    ) -> bool:
        """``_expr`` for a clause that may also name an output column by position or
        alias (GROUP BY 2, ORDER BY r)."""
        if node is None:
            return False
        for ref in node.find_all(exp.Literal, exp.Column):
            if (
                isinstance(ref, exp.Literal)
                and ref.is_int
                and isinstance(ref.parent, exp.Ordered | exp.Group)
            ):
                position = int(ref.name) - 1
                if output.reached is None or position in output.reached:
                    return True
            elif isinstance(ref, exp.Column) and not ref.table and output.reaches(ref.name):
                return True
        return self._expr(node, ctes, sources)

    def _expr(
        self,
        node: exp.Expression | None,
        ctes: dict[str, _Shape],
        sources: dict[str, _Shape],
    ) -> bool:
        """True when nondeterminism of the counted categories reaches expression ``node``:
        a nondeterministic function in it, a column a source's nondeterminism reaches, or
        a nested query whose result nondeterminism reaches."""
        if node is None:
            return False
        stack = [node]
        while stack:
            current = stack.pop()
            if current is not node and isinstance(current, exp.Query):
                shape = self.query(current, ctes, top=False)
                if shape.reached != frozenset() or not shape.fixed:
                    return True
                if self._correlated(current, sources):
                    return True
                continue
            if category(current) in self.categories:
                return True
            if isinstance(current, exp.Column) and self._column(current, sources):
                return True
            stack.extend(current.iter_expressions())
        return False

    @classmethod
    def _correlated(cls, query: exp.Expression, sources: dict[str, _Shape]) -> bool:
        """True when a nested query refers, by qualifier, to a reached column of a source
        of the enclosing query (a correlated reference)."""
        inner = {t.alias_or_name.lower() for t in query.find_all(exp.Table, exp.Subquery)}
        return any(
            column.table and column.table.lower() not in inner and cls._column(column, sources)
            for column in query.find_all(exp.Column)
        )

    @staticmethod
    def _column(column: exp.Column, sources: dict[str, _Shape]) -> bool:
        if column.table:
            shape = sources.get(column.table.lower())
            return shape is not None and (column.is_star or shape.reaches(column.name))
        return any(shape.reaches(column.name) for shape in sources.values())
