"""The comparison under load, end to end on the tiny world (real Ray, real DuckDB workers,
perf phase and quiet confirmation off): the baseline, an identical candidate and one with a
fixed 25 ms delay per statement. (The tiny world's two tenants rarely overlap, so the
self-test's slowdown that fires only under concurrency is checked on its larger world:
``qsim selftest``, row "latency x3 on SELECTs only under concurrency".)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from runner_fixtures import DUCKDB_NEW, config_data, duckdb_engine

from simulator.config import parse_config
from simulator.jobs.run_report import run_and_report
from simulator.results.layout import HTML_FILE, RUN_FILE, SUMMARY_FILE, RecordKind
from simulator.results.reader import read_records

# One run serves every test here: under `--dist loadgroup` the group keeps them on one
# xdist worker, so the module fixture's run is made once, not once per worker.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("load_comparison")]

DELAYED = {"enabled": True, "latency": {"fixed_ms": 25.0}}


@pytest.fixture(scope="module")
def run_dir(world: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = config_data(
        world,
        tmp_path_factory.mktemp("load-results"),
        run={"candidates": ["same", "slow"], "seed": 3},
        engines={
            "base": duckdb_engine(DUCKDB_NEW),
            "same": duckdb_engine(DUCKDB_NEW),
            "slow": duckdb_engine(DUCKDB_NEW, faults=DELAYED),
        },
        load={"mode": "closed", "concurrency": 3, "confirm_quietly": False},
        perf={"enabled": False},
    )
    outcome = run_and_report(parse_config(data, "load-test.toml"))
    assert outcome.status == "complete", outcome.summary
    return outcome.run_dir


def _workload_verdicts(run_dir: Path) -> dict[str, dict]:
    return {
        v["candidate"]: v for v in read_records(run_dir, RecordKind.LOAD) if v["pattern_id"] == ""
    }


def test_a_per_statement_delay_is_found_under_load_and_a_replica_stays_quiet(
    run_dir: Path,
) -> None:
    workload = _workload_verdicts(run_dir)
    slow, same = workload["slow"], workload["same"]
    assert slow["verdict"] == "regressed", slow
    assert slow["ratio"] > 2.0 and slow["samples"] >= 16
    assert slow["quantiles"]["p50"]["candidate_ms"] > 25.0
    assert same["verdict"] not in ("regressed", "improved"), same
    assert 0.6 < same["ratio"] < 1.6
    patterns = [v for v in read_records(run_dir, RecordKind.LOAD) if v["pattern_id"]]
    # Two queries a pattern at most in this world: below the minimum, never a finding.
    assert patterns and {v["verdict"] for v in patterns} == {"insufficient"}


def test_every_engine_replayed_one_recorded_schedule_and_the_report_shows_it(
    run_dir: Path,
) -> None:
    schedule = json.loads((run_dir / RUN_FILE).read_text())["load"]["schedule"]
    assert schedule["seed"] == 3 and schedule["mode"] == "closed" and len(schedule["digest"]) == 16
    by_engine: dict[str, set[tuple[str, str]]] = {}
    for r in read_records(run_dir, RecordKind.EXECUTIONS):
        if r["phase"] == "load":
            by_engine.setdefault(r["engine"], set()).add((r["tenant"], r["query_id"]))
    assert len(by_engine) == 3 and len({frozenset(v) for v in by_engine.values()}) == 1
    summary = json.loads((run_dir / SUMMARY_FILE).read_text())
    assert summary["under_load"]["slow"]["workload"]["verdict"] == "regressed"
    assert summary["gate"]["rules"]["gate_load"] is False
    html = (run_dir / HTML_FILE).read_text()
    assert 'id="under-load"' in html and schedule["digest"] in html


def test_plans_are_captured_once_per_pattern_and_engine_and_shown(run_dir: Path) -> None:
    plans = read_records(run_dir, RecordKind.PLANS)
    patterns = {v["pattern_id"] for v in read_records(run_dir, RecordKind.LOAD) if v["pattern_id"]}
    planned = {p["pattern_id"] for p in plans}
    assert planned and planned <= patterns
    assert len(plans) == 3 * len(planned)  # one per engine and pattern
    ok = [p for p in plans if p["status"] == "ok"]
    assert len(ok) >= len(plans) // 2
    # The same DuckDB release plans every pattern alike on all three engines.
    by_pattern: dict[str, set[str]] = {}
    for p in ok:
        by_pattern.setdefault(p["pattern_id"], set()).add(p["shape_hash"])
    assert all(len(hashes) == 1 for hashes in by_pattern.values())
    # Plans were not timed: no execution of phase other than load/repeat/unlimited exists.
    phases = {r["phase"] for r in read_records(run_dir, RecordKind.EXECUTIONS)}
    assert phases <= {"load", "repeat", "unlimited"}
    summary = json.loads((run_dir / SUMMARY_FILE).read_text())
    assert summary["plan_changes"]["same"]["changed"] == []
    assert summary["plan_changes"]["same"]["counts"].get("same", 0) >= 1
    html = (run_dir / HTML_FILE).read_text()
    assert 'id="plan-changes"' in html and 'id="no-plan-changes"' in html
