"""Plan shapes: an engine's plan reduced to what can be compared and shown safely.

An adapter's ``explain`` gives an operator tree of names only
(:mod:`simulator.engines.plan_tree`). Normalization is a second guard: each name keeps only
words made of letters, ``_`` and ``-`` that start with a capital (operators such as
``HASH_GROUP_BY``, ``Seq Scan``, ``FilterExec``, ``USE TEMP B-TREE``); digits, quotes,
operators and lower-case words are dropped, and so is any word equal to a word of a literal
of the statement. A name with no word left becomes ``?``. The shape is the tree as text,
one operator a line indented by depth, and its hash names it; two engines (or versions)
with the same hash planned the pattern the same way.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp

from simulator.results.plans import PlanRecord

_WORD = re.compile(r"^[A-Z][A-Za-z_-]*$")
MAX_NAME = 48
MAX_DEPTH = 64


@dataclass(frozen=True)
class PlanShape:
    """A normalized plan: the shape text, its hash and its operators in plan order."""

    shape: str
    shape_hash: str
    operators: tuple[str, ...]


def sql_literals(sql: str, dialect: str = "") -> set[str]:
    """The words (lower-cased) of every literal in ``sql``; empty when it does not parse."""
    try:
        trees = sqlglot.parse(sql, read=dialect or None)
    except sqlglot.errors.SqlglotError:
        return set()
    words: set[str] = set()
    for tree in trees:
        for literal in tree.find_all(exp.Literal) if tree else ():
            words.update(w.lower() for w in re.split(r"\W+", str(literal.this)) if w)
    return words


def operator_name(name: object, literals: Iterable[str] = ()) -> str:
    """A raw operator name reduced to its safe words (see the module doc), or ``?``."""
    banned = {w.lower() for w in literals}
    words = [
        w
        for w in re.split(r"[^A-Za-z_-]+", str(name))
        if _WORD.match(w) and w.lower() not in banned
    ]
    return " ".join(words)[:MAX_NAME].strip() or "?"


def plan_shape(tree: dict[str, Any], literals: Iterable[str] = ()) -> PlanShape:
    """The shape of an operator tree ``{"name", "children"}``; refuses nothing (a malformed
    node is an ``?`` leaf), and stops at depth 64."""
    banned = {w.lower() for w in literals}
    lines: list[str] = []
    operators: list[str] = []

    def walk(node: Any, depth: int) -> None:
        if not isinstance(node, dict) or depth > MAX_DEPTH:
            lines.append("  " * depth + "?")
            return
        name = operator_name(node.get("name", "?"), banned)
        lines.append("  " * depth + name)
        if name not in operators:
            operators.append(name)
        for child in node.get("children") or []:
            walk(child, depth + 1)

    walk(tree, 0)
    shape = "\n".join(lines)
    return PlanShape(shape, hashlib.sha256(shape.encode()).hexdigest()[:16], tuple(operators))


@dataclass(frozen=True)
class PlanChange:
    """How a pattern's plan compares between baseline and candidate: ``same``,
    ``changed`` or ``unknown`` (a side has no shape), with the shape diff."""

    pattern_id: str
    status: str
    baseline: PlanRecord | None
    candidate: PlanRecord | None
    diff: tuple[str, ...] = ()


def plan_changes(
    records: Iterable[PlanRecord], baseline: str, candidate: str
) -> dict[str, PlanChange]:
    """Per pattern with a plan record on either side: whether ``candidate`` planned it as
    ``baseline`` did, and the unified diff of the two shapes when not."""
    sides: dict[str, dict[str, PlanRecord]] = {baseline: {}, candidate: {}}
    for record in records:
        if record.engine in sides:
            sides[record.engine][record.pattern_id] = record
    changes = {}
    for pattern in sorted(set(sides[baseline]) | set(sides[candidate])):
        base, cand = sides[baseline].get(pattern), sides[candidate].get(pattern)
        if base is None or cand is None or base.status != "ok" or cand.status != "ok":
            changes[pattern] = PlanChange(pattern, "unknown", base, cand)
        elif base.shape_hash == cand.shape_hash:
            changes[pattern] = PlanChange(pattern, "same", base, cand)
        else:
            diff = difflib.unified_diff(
                base.shape.splitlines(), cand.shape.splitlines(), baseline, candidate, lineterm=""
            )
            changes[pattern] = PlanChange(pattern, "changed", base, cand, tuple(diff))
    return changes
