"""What each target engine cannot run, as data: checked on the SQL as sent (prepare time).

sqlglot passes some constructs through unchanged to a dialect whose engine cannot run them
(Trino ``INTERVAL`` arithmetic for SQLite, ``date('...')`` for DataFusion, which is
transpiled with the PostgreSQL dialect). Sent anyway, they come back as engine errors and
read like regressions. Here each engine kind (the adapter name) lists the sqlglot
expression types it lacks; a statement whose rendered SQL, parsed back in the target
dialect, holds one is not sent: it is recorded ``skipped`` with the reason
``unsupported_on_target: <engine> lacks <feature>``.

An entry may carry a ``when`` predicate on the node (a construct only in some positions)
and ``fixed_in``: the engine version that runs it (the entry applies when the engine
declares no version or an older one).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from sqlglot import exp

from simulator.config import EngineSpec
from simulator.workload.classify import parse_statement

UNSUPPORTED_PREFIX = "unsupported_on_target"
_VERSION = re.compile(r"^(\d+)(?:\.(\d+))?")


@dataclass(frozen=True)
class Gap:
    """One construct an engine cannot run: its sqlglot type and a name a user reads."""

    node: type[exp.Expression]
    feature: str
    when: Callable[[exp.Expression], bool] | None = None
    fixed_in: tuple[int, int] | None = None


def _unaliased_from_subquery(node: exp.Expression) -> bool:
    return not node.alias and isinstance(node.parent, (exp.From, exp.Join))


GAPS: dict[str, tuple[Gap, ...]] = {
    "sqlite": (
        Gap(exp.Interval, "INTERVAL arithmetic"),
        Gap(exp.Extract, "EXTRACT"),
        Gap(exp.Rollup, "GROUP BY ROLLUP"),
        Gap(exp.Cube, "GROUP BY CUBE"),
        Gap(exp.GroupingSets, "GROUPING SETS"),
        Gap(exp.Grouping, "GROUPING()"),
    ),
    # DataFusion 55 runs ROLLUP and GROUPING() (checked by hand); it has no date().
    "datafusion": (Gap(exp.Date, "the date('...') function"),),
    "postgres": (
        Gap(
            exp.Subquery,
            "a subquery in FROM without an alias",
            when=_unaliased_from_subquery,
            fixed_in=(16, 0),
        ),
    ),
}


def _version(engine: EngineSpec) -> tuple[int, int] | None:
    match = _VERSION.match(engine.version or "")
    return (int(match.group(1)), int(match.group(2) or 0)) if match else None


def unsupported_feature(sql: str, dialect: str, engine: EngineSpec) -> str:
    """The skip reason for ``sql`` (already rendered in ``dialect``) on ``engine``, or "".

    SQL that does not parse back is not judged here (the engine will say)."""
    gaps = GAPS.get(engine.adapter, ())
    if not gaps:
        return ""
    try:
        tree = parse_statement(sql, dialect)
    except ValueError:
        return ""
    version = _version(engine)
    for gap in gaps:
        if gap.fixed_in is not None and version is not None and version >= gap.fixed_in:
            continue
        for node in tree.find_all(gap.node):
            if gap.when is None or gap.when(node):
                return f"{UNSUPPORTED_PREFIX}: {engine.adapter} lacks {gap.feature}"
    return ""
