"""Scoring of the mutation suite: what counts as changed, right, missed and collateral."""

from __future__ import annotations

import math

import pyarrow as pa

from simulator.selftest.mutants.adapter import _same
from simulator.selftest.mutants.suite import (
    MutationReport,
    _changed,
    _consequences,
    _score_queries,
    render,
)


def _query(query_id, seq, kind="select", read=(), written=(), order_by=False, random=False):
    return {
        "query_id": query_id,
        "tenant": "t01",
        "seq": seq,
        "kind": kind,
        "tables_read": list(read),
        "tables_written": list(written),
        "order_by": order_by,
        "nondeterministic": ["rand"] if random else [],
    }


QUERIES = {
    q["query_id"]: q
    for q in [
        _query("ctas", 0, "ctas", read=["events"], written=["stage"]),
        _query("delete", 1, "delete", written=["stage"]),
        _query("read_stage", 2, read=["stage"]),
        _query("other", 3, read=["events"]),
        _query("rebuild", 4, "ctas", read=["events"], written=["stage"]),
        _query("read_again", 5, read=["stage"]),
    ]
}


def test_damage_carries_to_later_readers_and_in_place_writers_until_rebuilt():
    assert _consequences({"ctas"}, QUERIES) == {"delete", "read_stage"}


def test_changed_counts_notes_and_injected_errors_of_the_load_phase_only():
    records = [
        {"query_id": "other", "phase": "load", "status": "ok", "error_class": "",
         "engine_notes": {"changed": True}},
        {"query_id": "ctas", "phase": "load", "status": "error", "error_class": "MutantError"},
        {"query_id": "read_stage", "phase": "perf", "status": "ok", "error_class": "",
         "engine_notes": {"changed": True}},
        {"query_id": "delete", "phase": "load", "status": "error", "error_class": "Catalog"},
    ]  # fmt: skip
    assert _changed("new_error", records, QUERIES) == {"other", "ctas"}


def test_a_shuffle_counts_only_where_order_is_part_of_the_answer():
    queries = {
        "a": _query("a", 0),
        "b": _query("b", 1, order_by=True),
        "c": _query("c", 2, order_by=True, random=True),
    }
    records = [
        {"query_id": q, "phase": "load", "status": "ok", "error_class": "",
         "engine_notes": {"changed": True}}
        for q in queries
    ]  # fmt: skip
    assert _changed("shuffle_rows", records, queries) == {"b"}


def test_scores_right_missed_and_collateral():
    verdicts = {
        "ctas": {"verdict": "write_mismatch", "reason": "post_state_differs"},
        "delete": {"verdict": "write_mismatch", "reason": "post_state_differs"},
        "read_stage": {"verdict": "result_mismatch", "reason": "values_differ"},
        "other": {"verdict": "result_mismatch", "reason": "row_count"},
        "rebuild": {"verdict": "match", "reason": ""},
    }
    score = _score_queries("lost_partition", {"ctas", "rebuild"}, QUERIES, verdicts)
    assert (score.changed, score.right) == (2, 1)
    assert score.missed == {"match: -": 1}
    assert score.collateral == {"result_mismatch: row_count": 1}  # "other" read clean data
    assert not score.ok
    # Per written table (how the suite shows the large-write table's own score).
    assert (score.changed_in, score.right_in) == ({"stage": 2}, {"stage": 1})
    assert "  lost_partition on stage: 1/2 changed writes right" in render(
        MutationReport(classes=[score])
    )


def test_nan_equals_nan_when_deciding_whether_a_mutant_changed_anything():
    table = pa.table({"f": [math.nan, 1.0, None], "s": ["a", None, "b"]})
    assert _same(table, table.set_column(0, "f", pa.array([math.nan, 1.0, None])))
    assert not _same(table, table.set_column(1, "s", pa.array(["A", None, "b"])))
    assert not _same(table, table.slice(0, 2))
