"""Every verdict but match is visible in the report with its SQL, reason and masked error
text (issue 12, point 8): failing findings worst and heaviest first, the others as
observations; the order mismatch's first differing tie group; the intermittent label; the
"new" list with query text; no latency charts from load timings when perf was off."""

from __future__ import annotations

import json
import re
from pathlib import Path

from run_folders import realistic_spec, write_run

from simulator.report import generate_reports
from simulator.results.layout import VERDICTS_FILE
from simulator.results.verdicts import SEVERITY

VALUE = "zq.customer@example.org"
RAW_ERROR = f"Conversion Error: Could not convert string '{VALUE}' to INT32"


def _run(results: Path, **overrides: object) -> Path:
    regressions = {
        ("t01", "p_ins"): "write_mismatch",
        ("t02", "p_top_cust"): "result_mismatch",
        ("t03", "p_sel_day"): "candidate_error",
        ("t01", "p_sel_day"): "baseline_error",
        ("t01", "p_top_cust"): "estimate_changed",
        ("t02", "p_sel_day"): "harness_error",
        ("t03", "p_top_cust"): "skipped",
        ("t02", "p_ins"): "cosmetic_difference",
    }
    run_dir = write_run(results, realistic_spec(regressions=regressions, **overrides))
    # Written as a run folder from before the store masked engine text would hold it.
    path = run_dir / VERDICTS_FILE
    records = [json.loads(line) for line in path.read_text().splitlines()]
    for record in records:
        if record["verdict"] == "baseline_error":
            record["reason"] = RAW_ERROR
            record["intermittent"] = True
        if record["verdict"] == "result_mismatch":
            record["evidence"]["first_differing_tie_group"] = {"position": 3, "rows": 2}
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return run_dir


def test_every_non_match_verdict_is_shown_with_reason_and_masked_error(results: Path) -> None:
    page = generate_reports(_run(results), use_history=False).report_path.read_text()
    observed = page[page.index('id="observed-heading"') :]
    for verdict in ("baseline_error", "estimate_changed", "skipped", "cosmetic_difference"):
        assert f'<span class="v-{verdict}">{verdict}</span>' in observed, verdict
    # harness_error fails the gate by default: a finding, not an observation.
    findings = page[page.index('id="findings-heading"') : page.index('id="observed-heading"')]
    assert '<span class="v-harness_error">harness_error</span>' in findings
    assert VALUE not in page
    assert "Could not convert string &#39;?&#39; to INT32" in page
    assert '<span class="badge intermittent">intermittent</span>' in observed
    assert "First differing tie group" in findings and "&#34;position&#34;: 3" in findings
    for verdict in ("harness_error", "estimate_changed", "cosmetic_difference"):
        assert f".v-{verdict}" in page
    new = page[page.index('id="changes-new"') : page.index('id="changes-known"')]
    assert '<code class="sql-line">INSERT INTO events' in new


def test_findings_are_sorted_by_severity_then_weight(results: Path) -> None:
    page = generate_reports(_run(results), use_history=False).report_path.read_text()
    findings = page[page.index('id="findings-heading"') : page.index('id="observed-heading"')]
    shown = re.findall(r'<h3><span class="v-(\w+)">', findings)
    correctness = [v for v in shown if v != "regressed"]
    assert correctness == sorted(correctness, key=SEVERITY.index)
    assert correctness[0] == "write_mismatch" and shown[-1] == "regressed"


def test_no_latency_charts_from_load_timings_when_perf_was_off(results: Path) -> None:
    off = generate_reports(_run(results, run_id="off", perf=False), use_history=False)
    page = off.report_path.read_text()
    assert 'id="no-latency-charts"' in page and "Distribution of latency ratios" not in page
    on = generate_reports(_run(results, run_id="on"), use_history=False)
    assert 'id="no-latency-charts"' not in on.report_path.read_text()
