"""Plan shapes: operator names only, literals never, and a diff between two shapes."""

from __future__ import annotations

from simulator.compare.plans import operator_name, plan_changes, plan_shape, sql_literals
from simulator.engines.plan_tree import from_indented, from_parent_rows
from simulator.results.plans import PlanRecord


def test_a_name_keeps_operator_words_and_drops_values_and_literal_words() -> None:
    assert operator_name("HASH_GROUP_BY") == "HASH_GROUP_BY"
    assert operator_name("Index Only Scan") == "Index Only Scan"
    assert operator_name("FilterExec: a@0 = 42 AND b = 'x'") == "FilterExec AND"
    assert operator_name("SCAN Acme 0x7f3a 1234") == "SCAN Acme"
    assert operator_name("SCAN Acme", sql_literals("SELECT 1 WHERE x = 'acme corp'")) == "SCAN"
    assert operator_name("'; DROP --", ()) == "DROP"
    assert operator_name("12345") == "?"


def test_shape_is_the_indented_tree_and_its_hash() -> None:
    tree = {"name": "PROJECTION", "children": [{"name": "SEQ_SCAN", "children": []}, "junk"]}
    shape = plan_shape(tree)
    assert shape.shape == "PROJECTION\n  SEQ_SCAN\n  ?"
    assert shape.operators == ("PROJECTION", "SEQ_SCAN")
    assert (
        plan_shape(tree).shape_hash
        == shape.shape_hash
        != plan_shape(tree["children"][0]).shape_hash
    )


def test_engine_formats_become_trees() -> None:
    indented = "SortExec: expr=[a]\n  FilterExec: a@0 = 5\n    DataSourceExec: files=1\n"
    assert plan_shape(from_indented(indented)).shape == "SortExec\n  FilterExec\n    DataSourceExec"
    rows = [
        (2, 0, "SCAN t"),
        (5, 0, "USE TEMP B-TREE FOR ORDER BY"),
        (7, 2, "SEARCH u USING INDEX i (a=?)"),
    ]
    assert plan_shape(from_parent_rows(rows)).shape == (
        "PLAN\n  SCAN\n    SEARCH\n  USE TEMP B-TREE FOR ORDER BY"
    )


def _record(engine: str, pattern: str, tree: dict | None) -> PlanRecord:
    if tree is None:
        return PlanRecord("r", engine, pattern, "t01", "q", "error", error_class="Binder")
    shape = plan_shape(tree)
    return PlanRecord(
        "r", engine, pattern, "t01", "q", "ok", shape.shape, shape.shape_hash, list(shape.operators)
    )


def test_plan_changes_name_same_changed_and_unknown_patterns() -> None:
    scan = {"name": "SEQ_SCAN"}
    join = {"name": "HASH_JOIN", "children": [scan, scan]}
    loop = {"name": "NESTED_LOOP_JOIN", "children": [scan, scan]}
    records = [
        _record("base", "p1", join),
        _record("cand", "p1", join),
        _record("base", "p2", join),
        _record("cand", "p2", loop),
        _record("base", "p3", join),
        _record("cand", "p3", None),
    ]
    changes = plan_changes(records, "base", "cand")
    assert {p: c.status for p, c in changes.items()} == {
        "p1": "same",
        "p2": "changed",
        "p3": "unknown",
    }
    assert "-HASH_JOIN" in changes["p2"].diff and "+NESTED_LOOP_JOIN" in changes["p2"].diff
