"""Quiet confirmation on its own (no Ray, no load phase): a run folder holding one tenant's
incident pipeline and the verdicts a loaded run gave it, replayed quietly on real DuckDB
workers with the lost-write fault that fires only under load, or always."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from simulator.datasets.store import GenerationStore
from simulator.results.layout import QUERIES_FILE
from simulator.results.meta import RunMeta
from simulator.results.store import RunStore
from simulator.runner.confirm import confirm_quietly, findings_by_tenant
from simulator.runner.prepare import write_queries
from simulator.selftest.world import (
    build_world,
    incident_query_ids,
    scenario_data,
    to_config,
    with_candidates,
)

pytestmark = pytest.mark.slow


def _run_folder(tmp_path: Path, only_under_load: bool) -> tuple[Any, Path, list[Any]]:
    data = scenario_data("incident", tmp_path)
    lossy = json.loads(json.dumps(data["engines"]["duckdb_lossy"]))
    lossy["faults"]["lost_writes"]["only_under_load"] = only_under_load
    cfg = to_config(with_candidates(data, {"lossy": lossy}), "incident")
    workload = build_world(cfg)
    wanted = set(incident_query_ids(workload))
    tenant = min(q.tenant for q in workload.queries if q.query_id in wanted)
    queries = [q for q in workload.queries if q.query_id in wanted and q.tenant == tenant]
    generation_id = GenerationStore(cfg.dataset.store).resolve("scenarios").id
    RunStore.create(tmp_path, "run", RunMeta(generation_id=generation_id)).close()
    run_dir = tmp_path / "run"
    write_queries(run_dir / QUERIES_FILE, queries)
    return cfg, run_dir, queries


def _verdict(query: Any, verdict: str) -> dict[str, Any]:
    return {
        "candidate": "lossy",
        "tenant": query.tenant,
        "query_id": query.query_id,
        "verdict": verdict,
        "under_load_only": False,
    }


def test_findings_that_vanish_when_quiet_are_marked_under_load_only(tmp_path: Path) -> None:
    cfg, run_dir, queries = _run_folder(tmp_path, only_under_load=True)
    ctas = next(q for q in queries if q.kind == "ctas")
    select = next(q for q in queries if q.kind == "select")
    verdicts = [_verdict(ctas, "write_mismatch"), _verdict(select, "match")]
    outcome = confirm_quietly(cfg, run_dir, verdicts, work_dir=tmp_path / "confirm")
    assert outcome.tenants == [ctas.tenant]
    assert outcome.under_load_only == [("lossy", ctas.query_id)]
    assert outcome.quiet_verdicts == {("lossy", ctas.query_id): "match"}
    assert outcome.reproduced == []
    # Baseline and candidate ran every statement of the tenant (plus determinism repeats).
    assert outcome.executions >= 2 * len(queries)
    assert outcome.apply(verdicts) == 1
    assert [v["under_load_only"] for v in verdicts] == [True, False]
    assert outcome.describe()["under_load_only"] == [
        {"candidate": "lossy", "query_id": ctas.query_id, "quiet_verdict": "match"}
    ]


def test_findings_that_happen_quietly_too_are_reproduced(tmp_path: Path) -> None:
    cfg, run_dir, queries = _run_folder(tmp_path, only_under_load=False)
    writes = [q for q in queries if q.kind in ("ctas", "insert")]
    verdicts = [_verdict(q, "write_mismatch") for q in writes]
    outcome = confirm_quietly(cfg, run_dir, verdicts)
    assert sorted(outcome.reproduced) == sorted(("lossy", q.query_id) for q in writes)
    assert outcome.under_load_only == []
    assert set(outcome.quiet_verdicts.values()) == {"write_mismatch"}


def test_a_run_without_findings_replays_nothing(tmp_path: Path) -> None:
    verdicts = [
        {"candidate": "c", "tenant": "t01", "query_id": "q1", "verdict": "match"},
        {"candidate": "c", "tenant": "t02", "query_id": "q2", "verdict": "nondeterministic"},
    ]
    assert findings_by_tenant(verdicts) == {}
    cfg = to_config(scenario_data("incident", tmp_path), "incident")
    outcome = confirm_quietly(cfg, tmp_path / "no-such-run", verdicts)
    assert (outcome.tenants, outcome.executions, outcome.under_load_only) == ([], 0, [])
