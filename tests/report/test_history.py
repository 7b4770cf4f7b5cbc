"""Run history: nights compared with the previous one, acceptances with who/why/until,
pattern history, and a locked or corrupt database leaving the run folder untouched."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from simulator.errors import ReportError
from simulator.report import generate_reports, write_reports
from simulator.report.history import History
from simulator.results.layout import HISTORY_FILE, HTML_FILE, RUN_FILE

FINDINGS = {("t01", "p_ins"): "write_mismatch", ("t02", "p_top_cust"): "result_mismatch"}


def night(make_run: Callable[..., Path], day: int, **fields: object) -> Path:
    fields.setdefault("regressions", FINDINGS)
    return make_run(f"n{day}", started_at=f"2026-11-{day:02d}T01:00:00+00:00", **fields)


def snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def statuses(summary: dict) -> dict[str, list[str]]:
    return {k: sorted(f["id"] for f in v) for k, v in summary["findings"].items()}


def test_second_night_knows_the_first_nights_findings(
    make_run: Callable[..., Path], results: Path
) -> None:
    first = generate_reports(night(make_run, 1))
    assert statuses(first.summary)["new"] == [
        "candidate/t01/p_ins/write_mismatch",
        "candidate/t02/p_top_cust/result_mismatch",
    ]
    assert first.gate.exit_code == 1 and first.summary["previous_run_id"] is None
    second = generate_reports(night(make_run, 2))
    assert second.summary["previous_run_id"] == "n1"
    assert statuses(second.summary) == {
        "new": [],
        "known": [
            "candidate/t01/p_ins/write_mismatch",
            "candidate/t02/p_top_cust/result_mismatch",
        ],
        "fixed": [],
    }
    assert second.gate.exit_code == 0
    assert second.summary["decision"] == "do_not_ship"  # known but not accepted
    # Night 3: the write is fixed, the result mismatch stays, a new error appears.
    third = generate_reports(
        night(
            make_run,
            3,
            regressions={
                ("t02", "p_top_cust"): "result_mismatch",
                ("t01", "p_sel_day"): "candidate_error",
            },
        )
    )
    assert statuses(third.summary) == {
        "new": ["candidate/t01/p_sel_day/candidate_error"],
        "known": ["candidate/t02/p_top_cust/result_mismatch"],
        "fixed": ["candidate/t01/p_ins/write_mismatch"],
    }
    assert third.gate.exit_code == 1
    html = third.report_path.read_text()
    assert "Fixed (1)" in html and "New (1)" in html and "Known (1)" in html


def test_accepting_passes_the_gate_and_keeps_the_finding_known(
    make_run: Callable[..., Path], results: Path
) -> None:
    assert generate_reports(night(make_run, 1)).gate.exit_code == 1
    with History(results / HISTORY_FILE) as history:
        acceptance = history.accept(
            "p_ins", reason="candidate rounds differently", accepted_by="ana", until="2099-01-01"
        )
        history.accept("p_top_cust", reason="documented change", accepted_by="bo")
    assert acceptance.accepted_by == "ana" and acceptance.until == "2099-01-01"
    # A re-report of night 1 after accepting, then night 2: both known and accepted.
    second = generate_reports(night(make_run, 2))
    known = second.summary["findings"]["known"]
    assert [f["accepted"]["by"] for f in known] == ["ana", "bo"]
    assert known[0]["accepted"]["reason"] == "candidate rounds differently"
    assert second.gate.exit_code == 0 and second.summary["decision"] == "ship"
    html = second.report_path.read_text()
    assert "accepted</span> by ana: candidate rounds differently (until 2099-01-01)" in html


def test_acceptance_expires(make_run: Callable[..., Path], results: Path) -> None:
    generate_reports(night(make_run, 1))
    with History(results / HISTORY_FILE) as history:
        history.accept(
            "p_ins", reason="r", accepted_by="ana", until="2026-12-01", today=date(2026, 11, 1)
        )
    before = generate_reports(night(make_run, 2), today=date(2026, 12, 1))
    after = generate_reports(night(make_run, 2), today=date(2026, 12, 2))
    accepted_before = [f["accepted"] for f in before.summary["findings"]["known"]]
    accepted_after = [f["accepted"] for f in after.summary["findings"]["known"]]
    assert accepted_before[0] is not None and accepted_after[0] is None


def test_accept_refuses_bad_input(make_run: Callable[..., Path], results: Path) -> None:
    write_reports(night(make_run, 1))
    with History(results / HISTORY_FILE) as history:
        with pytest.raises(ReportError, match="--reason must say why"):
            history.accept("p_ins", reason=" ", accepted_by="ana")
        with pytest.raises(ReportError, match="expected a date YYYY-MM-DD"):
            history.accept("p_ins", reason="r", accepted_by="ana", until="next week")
        with pytest.raises(ReportError, match="date is in the past"):
            history.accept("p_ins", reason="r", accepted_by="ana", until="2000-01-01")
        with pytest.raises(ReportError, match="close matches: p_ins"):
            history.accept("p_inz", reason="r", accepted_by="ana")
        assert history.acceptances() == []


def test_history_indexes_runs_and_pattern_latency(
    make_run: Callable[..., Path], results: Path
) -> None:
    for day in (1, 2):
        write_reports(night(make_run, day, perf_regressed={("t01", "p_sel_day"): 1.3 + day / 10}))
    write_reports(night(make_run, 2))  # re-reporting a run replaces its rows
    make_run("other", pipeline="weekly", started_at="2026-11-03T00:00:00+00:00")
    write_reports(results / "other")
    with History(results / HISTORY_FILE) as history:
        runs = history.runs()
        assert [r["run_id"] for r in runs] == ["other", "n2", "n1"]
        assert [r["run_id"] for r in history.runs("nightly")] == ["n2", "n1"]
        n1 = runs[2]
        assert n1["gate_exit"] == 1 and n1["new_findings"] == 3
        assert n1["generation_id"] == "gen-3f9a1c" and n1["workload_name"] == "demo"
        cand = n1["candidates"][0]
        assert cand["candidate"] == "candidate" and cand["version"] == "2.0.1"
        assert cand["regressions"] == 2 and cand["perf_regressed"] == 1
        assert json.loads(cand["verdict_counts"])["write_mismatch"] == 1
        rows = history.pattern_history("p_sel_day", "nightly")
        t01 = [r for r in rows if r["tenant"] == "t01"]
        assert [(r["run_id"], r["perf_verdict"], r["ratio"]) for r in t01] == [
            ("n1", "regressed", pytest.approx(1.4)),
            ("n2", "unchanged", pytest.approx(1.02)),
        ]
        with pytest.raises(ReportError, match="close matches: p_sel_day"):
            history.pattern_history("p_sel_dya")


def test_incomplete_runs_and_replays_are_not_the_previous_night(
    make_run: Callable[..., Path], results: Path
) -> None:
    write_reports(night(make_run, 1))
    write_reports(night(make_run, 2, regressions={}, status="interrupted"))
    replay_dir = night(make_run, 3, regressions={}, tenants=("t02",))
    run = json.loads((replay_dir / RUN_FILE).read_text())
    run["filters"] = {"tenants": ["t02"], "query_ids": None, "pattern_ids": None}
    (replay_dir / RUN_FILE).write_text(json.dumps(run))
    replay = generate_reports(replay_dir)
    assert replay.summary["filters"] == {"tenants": ["t02"]}
    assert replay.summary["previous_run_id"] == "n1"
    assert [k["id"] for k in replay.summary["findings"]["fixed"]] == [
        "candidate/t02/p_top_cust/result_mismatch"  # judged in the replay; t01 was not
    ]
    assert "Replay of part of the workload only: tenants t02." in replay.report_path.read_text()
    fourth = generate_reports(night(make_run, 4))
    assert fourth.summary["previous_run_id"] == "n1"
    assert fourth.gate.exit_code == 0


def test_locked_history_is_one_line_and_touches_nothing(
    make_run: Callable[..., Path], results: Path
) -> None:
    write_reports(night(make_run, 1))
    run_dir = night(make_run, 2)
    db = results / HISTORY_FILE
    before, db_before = snapshot(run_dir), db.read_bytes()
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(ReportError) as info:
            generate_reports(run_dir, history_db=db)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{db}: history database is locked by another process")
    assert snapshot(run_dir) == before
    assert db.read_bytes() == db_before


def test_corrupt_history_is_one_line_and_touches_nothing(
    make_run: Callable[..., Path], results: Path
) -> None:
    run_dir = night(make_run, 1)
    db = results / HISTORY_FILE
    garbage = b"this is not sqlite\x00\xff" * 300
    db.write_bytes(garbage)
    before = snapshot(results)
    with pytest.raises(ReportError) as info:
        write_reports(run_dir)
    message = str(info.value)
    assert "\n" not in message
    assert "history database is corrupt" in message and "move it aside" in message
    assert snapshot(results) == before
    assert not (run_dir / HTML_FILE).exists()
