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
from simulator.runner import confirm
from simulator.runner.confirm import confirm_quietly, findings_by_tenant, label_changing
from simulator.runner.prepare import write_queries
from simulator.selftest.world import (
    build_world,
    incident_query_ids,
    scenario_data,
    to_config,
    with_candidates,
)
from simulator.workload.store import WorkloadQuery

pytestmark = pytest.mark.slow


def _run_folder(
    tmp_path: Path, only_under_load: bool, rate: float = 1.0, **load: Any
) -> tuple[Any, Path, list[Any]]:
    data = scenario_data("incident", tmp_path)
    lossy = json.loads(json.dumps(data["engines"]["duckdb_lossy"]))
    lossy["faults"]["lost_writes"]["only_under_load"] = only_under_load
    lossy["faults"]["lost_writes"]["rate"] = rate
    data["load"] = {**data.get("load", {}), **load}
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
    assert outcome.quiet_verdicts == {("lossy", ctas.query_id): ["match"] * 3}
    assert outcome.reproduced == outcome.intermittent == []
    assert outcome.apply(verdicts) == 1
    assert [v["under_load_only"] for v in verdicts] == [True, False]
    assert outcome.describe()["under_load_only"] == [
        {"candidate": "lossy", "query_id": ctas.query_id, "quiet_verdicts": ["match"] * 3}
    ]


def test_each_engine_runtime_is_checked_once_for_every_replay_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A runtime check runs the runtime's Python (~0.25 s); the incident's confirmation
    # replays 3 tenants x 3 times with 6 engines and spent 13 s of its 38 s on 54 checks.
    cfg, run_dir, queries = _run_folder(tmp_path, only_under_load=True)
    checked: list[str] = []
    real = confirm.ensure_runtime

    def counting(spec: Any, root: Path) -> Any:
        checked.append(spec.name)
        return real(spec, root)

    monkeypatch.setattr(confirm, "ensure_runtime", counting)
    ctas = next(q for q in queries if q.kind == "ctas")
    outcome = confirm_quietly(
        cfg, run_dir, [_verdict(ctas, "write_mismatch")], work_dir=tmp_path / "confirm"
    )
    assert outcome.quiet_verdicts == {("lossy", ctas.query_id): ["match"] * 3}
    assert sorted(checked) == sorted([cfg.run.baseline, "lossy"])


def test_findings_that_happen_quietly_too_are_reproduced(tmp_path: Path) -> None:
    cfg, run_dir, queries = _run_folder(tmp_path, only_under_load=False)
    writes = [q for q in queries if q.kind in ("ctas", "insert")]
    verdicts = [_verdict(q, "write_mismatch") for q in writes]
    outcome = confirm_quietly(cfg, run_dir, verdicts)
    assert sorted(outcome.reproduced) == sorted(("lossy", q.query_id) for q in writes)
    assert outcome.under_load_only == []
    assert {v for seen in outcome.quiet_verdicts.values() for v in seen} == {"write_mismatch"}


def test_a_run_without_findings_replays_nothing(tmp_path: Path) -> None:
    verdicts = [
        {"candidate": "c", "tenant": "t01", "query_id": "q1", "verdict": "match"},
        {"candidate": "c", "tenant": "t02", "query_id": "q2", "verdict": "nondeterministic"},
    ]
    assert findings_by_tenant(verdicts) == {}
    cfg = to_config(scenario_data("incident", tmp_path), "incident")
    outcome = confirm_quietly(cfg, tmp_path / "no-such-run", verdicts)
    assert (outcome.tenants, outcome.executions, outcome.under_load_only) == ([], 0, [])


def test_a_finding_that_comes_and_goes_quietly_too_is_intermittent(tmp_path: Path) -> None:
    # Each quiet replay draws its faults afresh: at rate 0.5 the lost write comes and goes.
    cfg, run_dir, queries = _run_folder(tmp_path, only_under_load=False, rate=0.5)
    writes = [q for q in queries if q.kind in ("ctas", "insert")]
    verdicts = [_verdict(q, "write_mismatch") for q in writes]
    outcome = confirm_quietly(cfg, run_dir, verdicts)
    assert outcome.intermittent, outcome.quiet_verdicts
    for key in outcome.intermittent:
        seen = outcome.quiet_verdicts[key]
        assert len(seen) == 3 and "match" in seen and "write_mismatch" in seen
    assert outcome.apply(verdicts) >= 1
    flagged = {v["query_id"] for v in verdicts if v.get("intermittent")}
    assert flagged == {q for _, q in outcome.intermittent}
    assert not any(v.get("under_load_only") for v in verdicts if v["query_id"] in flagged)


def test_only_what_can_change_a_label_is_replayed_within_its_bound(tmp_path: Path) -> None:
    cfg, run_dir, queries = _run_folder(tmp_path, only_under_load=True, confirm_replays=2)
    last = max(i for i, q in enumerate(queries) if q.kind != "select")
    plan = [q for q in queries[: last + 1] if q.kind != "select"]
    assert len(plan) >= 2
    selects = [q for q in queries[:last] if q.kind == "select"]
    assert selects
    verdicts = [
        _verdict(queries[last], "write_mismatch"),
        # Result mismatches reading no table a write finding wrote are not replayed.
        *(_verdict(q, "result_mismatch") for q in selects),
    ]
    outcome = confirm_quietly(cfg, run_dir, verdicts)
    # Two replays of the writes up to the finding, on the baseline and the candidate; no
    # SELECT ran (a SELECT would add the baseline's determinism repeat too).
    assert outcome.statements == len(plan)
    assert outcome.executions == 2 * 2 * len(plan)
    assert list(outcome.quiet_verdicts) == [("lossy", queries[last].query_id)]
    assert outcome.not_confirmed == []

    cfg, run_dir, _ = _run_folder(
        tmp_path / "bounded", only_under_load=True, confirm_max_statements=len(plan) - 1
    )
    bounded = confirm_quietly(cfg, run_dir, verdicts)
    assert (bounded.executions, bounded.statements) == (0, 0)
    assert bounded.not_confirmed == [("lossy", queries[last].query_id)]
    assert len(bounded.describe()["not_confirmed"]) == 1
    assert bounded.apply(verdicts) == 0


def test_a_result_mismatch_is_replayed_only_when_it_reads_what_a_write_finding_wrote() -> None:
    def query(qid: str, kind: str, read: tuple = (), written: tuple = ()) -> WorkloadQuery:
        return WorkloadQuery(
            query_id=qid,
            tenant="t01",
            seq=int(qid[1:]),
            submitted_at=0.0,
            sql="",
            dialect="duckdb",
            kind=kind,
            pattern_id=qid,
            tables_read=list(read),
            tables_written=list(written),
        )

    queries = [
        query("q1", "select", read=("Stage",)),  # before the write: deterministic
        query("q2", "ctas", written=("stage",)),
        query("q3", "select", read=("STAGE",)),  # reads what the lost write left
        query("q4", "select", read=("events",)),
    ]
    ids = {"q1", "q2", "q3", "q4"}
    kinds = {("c", "q2"): "write_mismatch"} | {
        ("c", q): "result_mismatch" for q in ("q1", "q3", "q4")
    }
    assert label_changing(queries, {"c": ids}, kinds) == {"c": {"q2", "q3"}}
    only_results = {k: v for k, v in kinds.items() if v == "result_mismatch"}
    assert label_changing(queries, {"c": ids - {"q2"}}, only_results) == {}
