"""Plan changes in the report: the plan column beside the perf verdict, the diff of a
changed pattern's shape, and summary.json's plan_changes."""

from __future__ import annotations

import json
from pathlib import Path

from run_folders import realistic_spec, write_run

from simulator.compare.plans import plan_shape
from simulator.report import generate_reports
from simulator.results.layout import HTML_FILE, SUMMARY_FILE, RecordKind
from simulator.results.plans import PlanRecord
from simulator.results.reader import load_run
from simulator.results.store import RunStore

SCAN = {"name": "SEQ_SCAN"}
HASH = {"name": "HASH_JOIN", "children": [SCAN, SCAN]}
LOOP = {"name": "NESTED_LOOP_JOIN", "children": [SCAN, SCAN]}


def _record(run_id: str, engine: str, pattern: str, tree: dict) -> dict:
    shape = plan_shape(tree)
    return PlanRecord(
        run_id,
        engine,
        pattern,
        "t02",
        "q",
        "ok",
        shape.shape,
        shape.shape_hash,
        list(shape.operators),
    ).to_dict()


def test_a_changed_plan_is_shown_next_to_the_perf_verdict(results: Path) -> None:
    run_dir = write_run(results, realistic_spec())
    data = load_run(run_dir)
    cand = data.candidates[0]
    records = [
        _record(data.run_id, data.baseline, "p_sel_day", HASH),
        _record(data.run_id, cand, "p_sel_day", LOOP),
        _record(data.run_id, data.baseline, "p_top_cust", HASH),
        _record(data.run_id, cand, "p_top_cust", HASH),
    ]
    RunStore(run_dir).rewrite(RecordKind.PLANS, records)
    generate_reports(run_dir, use_history=False)
    html = (run_dir / HTML_FILE).read_text()
    section = html[html.index('id="plan-changes"') :]
    assert "Plan changes (1)" in html
    assert "-HASH_JOIN" in section and "+NESTED_LOOP_JOIN" in section
    assert 'class="plan-changed">changed<' in html and 'class="plan-same">same<' in html
    summary = json.loads((run_dir / SUMMARY_FILE).read_text())
    assert summary["plan_changes"][cand] == {
        "counts": {"changed": 1, "same": 1},
        "changed": ["p_sel_day"],
    }
