"""Operator trees from the plan formats engines print, for the optional ``explain``
capability of an adapter (:mod:`simulator.engines.contract`).

A plan tree is ``{"name": operator, "children": [trees]}`` and nothing else: no costs, row
estimates, expressions or predicates, which is where literals of the SQL would appear.
Runs inside engine runtimes, so it uses the standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

PlanTree = dict[str, Any]
# The leading upper-case words of an SQLite EXPLAIN QUERY PLAN detail ("SCAN", "SEARCH",
# "USE TEMP B-TREE FOR ORDER BY"); what follows (table, index, constraints) is dropped.
_LEADING_WORDS = re.compile(r"^[A-Z][A-Z-]*(?: [A-Z][A-Z-]*)*(?= |$)")


def node(name: str, children: list[PlanTree] | None = None) -> PlanTree:
    """One operator and its inputs."""
    return {"name": name, "children": children or []}


def from_nested(nodes: Any, name_key: str, children_key: str) -> PlanTree:
    """A tree from nested JSON objects (DuckDB's ``name``/``children``, PostgreSQL's
    ``Node Type``/``Plans``); a list of several roots hangs under one ``PLAN`` node."""
    if isinstance(nodes, list):
        trees = [from_nested(n, name_key, children_key) for n in nodes]
        return trees[0] if len(trees) == 1 else node("PLAN", trees)
    children = nodes.get(children_key) or []
    return node(
        str(nodes.get(name_key, "?")), [from_nested(c, name_key, children_key) for c in children]
    )


def from_indented(text: str, indent: int = 2) -> PlanTree:
    """A tree from an indented plan (DataFusion's ``physical_plan``: ``  FilterExec: ...``),
    keeping each line's operator name, the text before its first colon."""
    root = node("PLAN")
    stack: list[tuple[int, PlanTree]] = [(-1, root)]
    for line in text.splitlines():
        if not line.strip():
            continue
        depth = (len(line) - len(line.lstrip(" "))) // indent
        name = line.strip().split(":", 1)[0].split(" ", 1)[0]
        while stack[-1][0] >= depth:
            stack.pop()
        child = node(name)
        stack[-1][1]["children"].append(child)
        stack.append((depth, child))
    return root["children"][0] if len(root["children"]) == 1 else root


def from_parent_rows(rows: Iterable[tuple[int, int, str]]) -> PlanTree:
    """A tree from (id, parent id, detail) rows (SQLite's EXPLAIN QUERY PLAN), keeping the
    leading upper-case words of each detail."""
    root = node("PLAN")
    by_id: dict[int, PlanTree] = {0: root}
    for row_id, parent, detail in rows:
        match = _LEADING_WORDS.match(detail.strip())
        child = node(match.group(0) if match else "?")
        by_id.get(parent, root)["children"].append(child)
        by_id[row_id] = child
    return root["children"][0] if len(root["children"]) == 1 else root
