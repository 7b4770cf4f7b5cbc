"""summary.json and junit.xml: schema, counts, evidence, incomplete runs, customer values."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

from run_folders import realistic_spec, write_run

from simulator.report import generate_reports
from simulator.results.layout import (
    EXECUTIONS_FILE,
    HTML_FILE,
    JUNIT_FILE,
    QUERIES_FILE,
    SUMMARY_FILE,
)
from simulator.results.verdicts import MEMORY_VERDICTS, PERF_VERDICTS, QUERY_VERDICTS

# The documented schema (docs/summary-schema.md), version 1: key -> type.
TOP_LEVEL = {
    "schema_version": int,
    "run_id": str,
    "pipeline": str,
    "run_status": str,
    "started_at": str,
    "finished_at": str,
    "generation_id": str,
    "workload_id": str,
    "workload_name": str,
    "config_path": str,
    "filters": dict,
    "qsim_version": str,
    "exit_status": int,
    "runner_exit_code": (int, type(None)),
    "decision": str,
    "gate": dict,
    "baseline": dict,
    "candidates": list,
    "faults_enabled": bool,
    "diff_sample_rows": int,
    "verdict_counts": dict,
    "weighted_verdict_counts": dict,
    "perf_counts": dict,
    "under_load": dict,
    "plan_changes": dict,
    "memory_counts": dict,
    "previous_run_id": (str, type(None)),
    "findings": dict,
    "observations": list,
    "baseline_from_bank": int,
    "missing": list,
    "report": str,
    "junit": str,
}
FINDING = {
    "id": str,
    "candidate": str,
    "tenant": str,
    "pattern_id": str,
    "verdict": str,
    "category": str,
    "kind": str,
    "status": str,
    "queries": int,
    "weight": float,
    "example_query_id": (str, type(None)),
    "under_load_only": bool,
    "intermittent": bool,
    "reason": str,
    "baseline_from_bank": bool,
    "ratio": (float, type(None)),
    "fails_gate": bool,
    "accepted": (dict, type(None)),
}


def test_summary_follows_the_documented_schema(results: Path) -> None:
    run_dir = write_run(results, realistic_spec(faults=True, from_bank=True))
    outcome = generate_reports(run_dir, use_history=False)
    summary = json.loads((run_dir / SUMMARY_FILE).read_text())
    assert summary == json.loads(json.dumps(outcome.summary))
    assert set(summary) == set(TOP_LEVEL)
    for key, kind in TOP_LEVEL.items():
        assert isinstance(summary[key], kind), key
    assert summary["schema_version"] == 1
    assert summary["exit_status"] == 1 and summary["decision"] == "do_not_ship"
    assert summary["faults_enabled"] is True
    cands = ["duckdb-2.0.1", "duckdb-2.1.0"]
    assert [c["name"] for c in summary["candidates"]] == cands
    for cand in cands:
        counts = summary["verdict_counts"][cand]
        assert set(counts) == set(QUERY_VERDICTS)
        # 3 tenants x 3 patterns x 2 queries, three of them regressions.
        assert sum(counts.values()) == 18
        assert counts["match"] == 15 and counts["write_mismatch"] == 1
        assert counts["result_mismatch"] == 1 and counts["candidate_error"] == 1
        assert summary["perf_counts"][cand] == dict.fromkeys(PERF_VERDICTS, 0) | {
            "regressed": 1,
            "unchanged": 8,
        }
        assert summary["weighted_verdict_counts"][cand]["write_mismatch"] == 40.0
    new = summary["findings"]["new"]
    assert len(new) == 8 and summary["findings"]["known"] == []
    for finding in new:
        assert set(finding) == set(FINDING)
        for key, kind in FINDING.items():
            assert isinstance(finding[key], kind), key
    write = next(f for f in new if f["verdict"] == "write_mismatch")
    assert write["under_load_only"] is True and write["baseline_from_bank"] is True
    perf = next(f for f in new if f["category"] == "performance")
    assert perf["ratio"] == 1.62 and perf["fails_gate"] is True
    assert summary["baseline_from_bank"] == 18


def test_a_memory_regression_is_a_gating_performance_finding_in_every_output(
    results: Path,
) -> None:
    spec = realistic_spec(memory_grown={("t01", "p_sel_day"): 1.45})
    run_dir = write_run(results, spec)
    outcome = generate_reports(run_dir, use_history=False)
    summary = outcome.summary
    for cand in ("duckdb-2.0.1", "duckdb-2.1.0"):
        assert summary["memory_counts"][cand] == dict.fromkeys(MEMORY_VERDICTS, 0) | {
            "memory_regressed": 1,
            "memory_unchanged": 8,
        }
    memory = [f for f in summary["findings"]["new"] if f["verdict"] == "memory_regressed"]
    assert [f["id"] for f in memory] == [
        "duckdb-2.0.1/t01/p_sel_day/memory_regressed",
        "duckdb-2.1.0/t01/p_sel_day/memory_regressed",
    ]
    assert all(f["category"] == "performance" and f["ratio"] == 1.45 for f in memory)
    assert all(f["fails_gate"] for f in memory)
    assert (
        "new performance finding duckdb-2.0.1/t01/p_sel_day/memory_regressed (ratio 1.45)"
        in (summary["gate"]["reasons"])
    )
    root = ET.parse(run_dir / JUNIT_FILE).getroot()
    case = root.find("testsuite[@name='qsim.duckdb-2.0.1']/testcase[@name='p_sel_day']")
    assert case is not None
    failure = case.find("failure")
    assert failure is not None and "memory_regressed in tenant t01 (new)" in failure.get("message")
    assert "peak RSS (memory_regressed) ratio: 1.450" in (failure.text or "")
    assert "baseline / candidate peak RSS MiB: 140.0 / 203.0" in (failure.text or "")
    page = (run_dir / HTML_FILE).read_text()
    assert "<th>memory</th>" in page and "peak RSS cand/base</th>" in page
    assert page.count('class="v-memory_regressed">memory_regressed</td>') == 2
    assert "1.42× – 1.48×" in page  # the memory CI of the grown pattern
    # A memory finding gates like a latency one: by its own ratio against gate_perf_ratio.
    relaxed = realistic_spec("nightly-relaxed", memory_grown={("t01", "p_sel_day"): 1.45})
    relaxed.report["gate_perf_ratio"] = 1.5
    relaxed.perf_regressed.clear()
    relaxed.regressions.clear()
    assert (
        generate_reports(write_run(results, relaxed), use_history=False).summary["exit_status"] == 0
    )


def test_junit_has_one_case_per_pattern_and_candidate(results: Path) -> None:
    run_dir = write_run(results, realistic_spec())
    generate_reports(run_dir, use_history=False)
    root = ET.parse(run_dir / JUNIT_FILE).getroot()
    cases = root.findall("testsuite/testcase")
    assert len(cases) == 3 * 2  # patterns x candidates
    assert root.get("tests") == "6" and root.get("failures") == "6"
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert set(suites) == {"qsim.duckdb-2.0.1", "qsim.duckdb-2.1.0"}
    ins = suites["qsim.duckdb-2.0.1"].find("testcase[@name='p_ins']")
    assert ins is not None and ins.get("classname") == "qsim.nightly.duckdb-2.0.1"
    failure = ins.find("failure")
    assert failure is not None and failure.get("type") == "write_mismatch"
    assert failure.get("message") == "write_mismatch in tenant t01 (new)"
    text = failure.text or ""
    assert "partition events/day=2024-01-02 missing: baseline rows 102, candidate rows None" in text
    assert "partition events/day=2024-01-03 different: baseline rows 103, candidate rows 90" in text
    assert "appeared only under concurrent load" in text
    assert (
        "replay: qsim replay --config configs/nightly.toml --tenant t01 --query-id t01-p_ins-q0 "
        "--candidate duckdb-2.0.1"
    ) in text
    sel = suites["qsim.duckdb-2.0.1"].find("testcase[@name='p_sel_day']/failure")
    assert sel is not None
    assert "Binder Error: Referenced column" in (sel.text or "")
    assert "regressed in tenant t02" in (sel.get("message") or "")


def test_incomplete_run_renders_what_exists(results: Path) -> None:
    spec = realistic_spec(status="interrupted", files=(QUERIES_FILE, EXECUTIONS_FILE))
    run_dir = write_run(results, spec)
    outcome = generate_reports(run_dir, use_history=False)
    assert outcome.summary["exit_status"] == 2
    assert outcome.summary["run_status"] == "interrupted"
    assert "verdicts.jsonl missing: no correctness verdicts yet" in outcome.summary["missing"]
    html = outcome.report_path.read_text()
    assert 'id="incomplete-banner"' in html
    assert "verdicts.jsonl missing: no correctness verdicts yet" in html
    assert "DO NOT SHIP" in html and "No findings so far (the run is incomplete)" in html
    assert html.count('<td class="mono">p_ins</td>') == 6  # pattern rows still listed
    root = ET.parse(run_dir / JUNIT_FILE).getroot()
    skipped = root.findall("testsuite/testcase/skipped")
    assert len(skipped) == 6 and {s.get("message") for s in skipped} == {"no verdict yet"}


def test_no_customer_values_unless_a_diff_sample_was_asked(results: Path) -> None:
    plain = write_run(results, realistic_spec("plain"))
    report = generate_reports(plain, use_history=False).report_path.read_text()
    assert 'id="no-values-banner"' in report and 'id="diff-sample-banner"' not in report
    assert "secret-value" not in report
    sampled = write_run(results, realistic_spec("sampled", diff_sample_rows=5))
    report = generate_reports(sampled, use_history=False).report_path.read_text()
    assert 'id="diff-sample-banner"' in report and "up to 5 differing rows" in report
    assert "secret-value" in report


def test_literals_are_masked_when_asked(results: Path, make_run: Callable[..., Path]) -> None:
    run_dir = write_run(results, realistic_spec(mask_literals=True))
    html = generate_reports(run_dir, use_history=False).report_path.read_text()
    assert "2024-01-01&#39;" not in html and "o.amount &gt; 100" not in html
    assert "WHERE o.amount &gt; ? GROUP BY" in html and "(literals masked)" in html
    junit = (run_dir / JUNIT_FILE).read_text()
    assert "WHERE day = ?" in junit and "'2024-01-01'" not in junit
