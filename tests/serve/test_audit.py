"""The replay log in the run history: the tenant's last nightly run and its findings (the
page's link), and replays recorded without the pasted text."""

from __future__ import annotations

from pathlib import Path

from run_folders import realistic_spec, write_run

from simulator.report import generate_reports
from simulator.results.layout import HISTORY_FILE
from simulator.serve.audit import ReplayLog
from simulator.serve.workbench import ReplayJob, ReplayRequest


def test_last_nightly_names_the_report_and_the_tenants_findings(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path, realistic_spec())
    report = generate_reports(run_dir).report_path
    log = ReplayLog(tmp_path / HISTORY_FILE)
    nightly = log.last_nightly("t01", "nightly")
    assert nightly is not None
    assert nightly.run_id == "nightly-2026-11-24"
    assert Path(nightly.report_path) == report
    assert [
        (f["candidate"], f["pattern_id"], f["verdict"], f["status"]) for f in nightly.findings
    ] == [
        ("duckdb-2.0.1", "p_ins", "write_mismatch", "new"),
        ("duckdb-2.1.0", "p_ins", "write_mismatch", "new"),
    ]
    assert log.last_nightly("t01", "other-pipeline") is None
    other = log.last_nightly("t02", "nightly")
    assert other is not None and {f["pattern_id"] for f in other.findings} == {
        "p_sel_day",
        "p_top_cust",
    }


def test_a_pasted_replay_is_recorded_by_fingerprint_only(tmp_path: Path) -> None:
    log = ReplayLog(tmp_path / HISTORY_FILE)
    secret = "SELECT * FROM orders WHERE email = 'jane@example.com'"
    job = ReplayJob(
        job_id="j1",
        request=ReplayRequest("t01", "base", "cand", sql=secret),
        pattern_id="0123456789abcdef",
        query_id="pasted-0123456789ab",
        state="done",
        verdict={"verdict": "match", "reason": "", "evidence": {}},
    )
    log.record(job, "127.0.0.1")
    log.record_refused(ReplayRequest("t01", "base", "cand", sql="COPY x TO '/tmp/y'"), "::1")
    rows = log.replays()
    assert [(r["state"], r["verdict"], r["pasted"]) for r in rows] == [
        ("refused", None, 1),
        ("done", "match", 1),
    ]
    assert rows[1]["pattern_id"] == "0123456789abcdef" and rows[1]["client"] == "127.0.0.1"
    dump = (tmp_path / HISTORY_FILE).read_bytes()
    assert b"jane@example.com" not in dump and b"/tmp/y" not in dump
