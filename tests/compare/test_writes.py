"""Write verification: lost, extra and different partitions, a DELETE that left rows, and
engines whose reported affected-row count lies, all judged through ``judge_query``."""

from __future__ import annotations

import pyarrow as pa
from compare_records import Query, execution, table_state

from simulator.compare.judge import judge_query
from simulator.compare.tables import TableStateBuilder
from simulator.compare.writes import compare_writes, reported_count_problem
from simulator.config import CompareSection

CFG = CompareSection()
DAYS = ["2024-01-01", "2024-01-02", "2024-01-03"]


def events(days=DAYS, per_day: int = 4, skip: int = 0) -> pa.Table:
    rows = [(d, i) for d in days for i in range(per_day)][skip:]
    return pa.table({"day": [r[0] for r in rows], "n": [r[1] for r in rows]})


def state(table: pa.Table, rows_before=None):
    return table_state(table, "events", ["day"], rows_before=rows_before)


def judge(base_state, cand_state, kind="insert", base_count=None, cand_count=None):
    query = Query(kind=kind, tables_written=["events"])
    return judge_query(
        query,
        [execution(rows_affected=base_count, writes={"events": base_state})],
        execution(engine="candidate", rows_affected=cand_count, writes={"events": cand_state}),
        CFG,
        "candidate",
        "run",
    )


def test_identical_post_states_match():
    verdict = judge(state(events(), 0), state(events(), 0), base_count=12, cand_count=12)
    assert verdict.verdict == "match"


def test_lost_partition_is_named_with_row_counts():
    lost = events(days=DAYS[:2])
    verdict = judge(state(events(), 0), state(lost, 0), base_count=12, cand_count=8)
    assert (verdict.verdict, verdict.reason) == ("write_mismatch", "post_state_differs")
    table = verdict.evidence["tables"]["events"]
    assert table["missing_partitions"] == [
        {"partition": "day=2024-01-03", "baseline_rows": 4, "candidate_rows": None}
    ]
    assert table["missing_partitions_total"] == 1
    assert table["extra_partitions"] == [] and table["different_partitions"] == []
    assert (table["baseline_rows"], table["candidate_rows"]) == (12, 8)


def test_extra_partition_is_named():
    extra = events(days=[*DAYS, "2024-01-04"])
    verdict = judge(state(events(), 0), state(extra, 0))
    table = verdict.evidence["tables"]["events"]
    assert verdict.verdict == "write_mismatch"
    assert table["extra_partitions"] == [
        {"partition": "day=2024-01-04", "baseline_rows": None, "candidate_rows": 4}
    ]


def test_delete_that_left_rows_is_a_different_partition():
    before = events()
    base_after = events(per_day=2)
    # The candidate deleted the rows of two days but left two rows in the first day.
    cand_rows = [("2024-01-01", i) for i in range(4)] + [(d, i) for d in DAYS[1:] for i in range(2)]
    cand_after = pa.table({"day": [r[0] for r in cand_rows], "n": [r[1] for r in cand_rows]})
    verdict = judge(
        state(base_after, before.num_rows),
        state(cand_after, before.num_rows),
        kind="delete",
        base_count=6,
        cand_count=4,
    )
    assert verdict.verdict == "write_mismatch"
    table = verdict.evidence["tables"]["events"]
    assert table["different_partitions"] == [
        {"partition": "day=2024-01-01", "baseline_rows": 2, "candidate_rows": 4}
    ]


def test_reported_count_that_lies_is_flagged_even_when_both_sides_agree():
    # Both engines lost the last 3 rows of an INSERT of 12 rows but reported 12.
    landed = state(events(skip=3), 0)
    verdict = judge(landed, landed, base_count=12, cand_count=12)
    assert (verdict.verdict, verdict.reason) == ("write_mismatch", "reported_count_mismatch")
    problem = verdict.evidence["reported_count_mismatch"]
    assert (problem["reported"], problem["landed"]) == (12, 9)
    assert problem["problem"] == "reported 12 rows written, 9 actually written"
    assert verdict.evidence["baseline_reported_count_mismatch"]["landed"] == 9


def test_baseline_count_problem_alone_is_evidence_not_a_regression():
    landed = state(events(), 0)
    verdict = judge(landed, landed, base_count=20, cand_count=12)
    assert verdict.verdict == "match"
    assert verdict.evidence["baseline_reported_count_mismatch"]["reported"] == 20


def test_delete_reported_count_checks_rows_removed():
    after = state(events(per_day=2), rows_before=12)
    query = Query(kind="delete", tables_written=["events"])
    honest = execution(rows_affected=6, writes={"events": after})
    liar = execution(rows_affected=9, writes={"events": after})
    assert reported_count_problem(query, honest) is None
    assert reported_count_problem(query, liar)["landed"] == 6


def test_ctas_counts_the_new_table_and_unreported_counts_are_not_checked():
    query = Query(kind="ctas", tables_written=["events"])
    created = state(events())
    assert (
        reported_count_problem(query, execution(rows_affected=12, writes={"events": created}))
        is None
    )
    assert reported_count_problem(query, execution(rows_affected=11, writes={"events": created}))
    assert (
        reported_count_problem(query, execution(rows_affected=None, writes={"events": created}))
        is None
    )
    assert (
        reported_count_problem(query, execution(rows_affected=-1, writes={"events": created}))
        is None
    )


def test_update_that_changes_the_row_count_is_flagged():
    query = Query(kind="update", tables_written=["events"])
    shrunk = state(events(skip=1), rows_before=12)
    problem = reported_count_problem(query, execution(rows_affected=3, writes={"events": shrunk}))
    assert problem["problem"] == "UPDATE changed the table's row count"


def test_table_missing_on_the_candidate_is_a_write_mismatch():
    from simulator.results.execution import TableState

    gone = TableState(table="events", row_count=0, checksum="", exists=False)
    verdict = judge(state(events()), gone, kind="ctas")
    assert verdict.verdict == "write_mismatch"
    assert verdict.evidence["tables"]["events"]["problem"] == "table exists on one side only"


def test_uncaptured_post_state_is_skipped_not_failed():
    query = Query(kind="insert", tables_written=["events"])
    outcome = compare_writes(query, execution(), execution(engine="candidate"))
    assert (outcome.verdict, outcome.reason) == ("skipped", "write post-state not captured")
    assert outcome.evidence["writes_not_captured"] == {"events": "baseline and candidate"}


def test_different_partitioning_compares_whole_tables():
    base = state(events(), 0)
    cand = table_state(events(skip=1), "events", [], rows_before=0)
    verdict = judge(base, cand)
    assert verdict.verdict == "write_mismatch"
    assert "compared as whole tables" in verdict.evidence["tables"]["events"]["problem"]


def _duckdb_post_state(con, table: str, rows_before: int | None):
    builder = TableStateBuilder(table, ["day"], rows_before=rows_before)
    for batch in con.sql(f"SELECT * FROM {table}").to_arrow_reader(5):
        builder.update(batch)
    return builder.finish()


def test_real_duckdb_ctas_that_lost_a_partition_under_a_lying_count():
    import duckdb

    source = "SELECT DATE '2024-01-01' + (i % 3)::INT AS day, i AS n FROM range(30) t(i)"
    states, counts = [], []
    for lose in (False, True):
        con = duckdb.connect()
        created = con.execute(f"CREATE TABLE events AS {source}").fetchone()
        counts.append(created[0] if created else None)
        if lose:  # what the incident's race did: one partition's write never landed
            con.execute("DELETE FROM events WHERE day = DATE '2024-01-03'")
        states.append(_duckdb_post_state(con, "events", None))
    query = Query(kind="ctas", tables_written=["events"])
    verdict = judge_query(
        query,
        [execution(rows_affected=counts[0], writes={"events": states[0]})],
        execution(engine="candidate", rows_affected=counts[1], writes={"events": states[1]}),
        CFG,
        "candidate",
        "run",
    )
    assert counts == [30, 30]
    assert (verdict.verdict, verdict.reason) == ("write_mismatch", "reported_count_mismatch")
    assert verdict.evidence["reported_count_mismatch"]["landed"] == 20
    assert verdict.evidence["tables"]["events"]["missing_partitions"] == [
        {"partition": "day=2024-01-03", "baseline_rows": 10, "candidate_rows": None}
    ]
