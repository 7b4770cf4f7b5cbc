"""The 2020 incident, reproduced end to end: the same DuckDB release as baseline and
candidate, the candidate losing one partition of every CTAS / INSERT and leaving one
partition behind on every DELETE while other executions are in flight. Real Ray, real
engine workers, real run folders (configs/incident.toml, configs/incident-quiet.toml)."""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from simulator.jobs.run_report import run_and_report
from simulator.results.layout import HTML_FILE, RUN_FILE, SUMMARY_FILE, RecordKind
from simulator.results.reader import read_records
from simulator.results.store import read_meta
from simulator.selftest.incident import IncidentRun, lossy_candidates, run_incident
from simulator.selftest.world import (
    build_world,
    incident_query_ids,
    scenario_data,
    to_config,
    with_candidates,
)

pytestmark = pytest.mark.slow

SEEDS = [1, 2, 3, 4, 5]
# The tests reading the loaded run share one xdist worker (`--dist loadgroup`), so its
# module fixture runs the incident once, not once per worker.
LOADED_RUN = pytest.mark.xdist_group("incident_loaded")


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> IncidentRun:
    """One loaded run (concurrency 4) with a lossy candidate per fault seed, confirmed
    quietly afterwards."""
    return run_incident(tmp_path_factory.mktemp("incident"), SEEDS)


@LOADED_RUN
def test_every_seeded_run_reports_each_lost_partition_with_its_rows(loaded: IncidentRun) -> None:
    assert loaded.exit_code == 1
    assert len(loaded.candidates) == len(SEEDS)
    for candidate in loaded.candidates:
        # The fault fires only while other executions are in flight, so a write that
        # happens to run alone is not damaged; every damaged one must be reported.
        mine = [w for w in loaded.lost_writes if w.candidate == candidate]
        assert mine, f"{candidate}: no write was damaged under load"
        assert all(w.verdict == "write_mismatch" and w.named for w in mine), mine
        assert all(w.rows > 0 and w.partition.startswith("day=2024-03-") for w in mine)
    # Every kind of the incident was damaged and caught: CTAS, INSERT and DELETE.
    assert {w.kind for w in loaded.lost_writes} == {"ctas", "insert", "delete"}
    # Different seeds lose different partitions: the detection does not depend on which.
    ctas_days = {w.partition for w in loaded.lost_writes if w.kind == "ctas"}
    assert len(ctas_days) >= 2


@LOADED_RUN
def test_write_mismatch_evidence_names_partitions_and_row_counts(loaded: IncidentRun) -> None:
    verdicts = {
        (v["candidate"], v["query_id"]): v
        for v in read_records(loaded.run_dir, RecordKind.VERDICTS)
    }
    delete = next(w for w in loaded.lost_writes if w.kind == "delete")
    evidence = verdicts[(delete.candidate, delete.query_id)]["evidence"]
    table = evidence["tables"]["stage_daily_activity"]
    left_behind = [e for e in table["extra_partitions"] if e["partition"] == delete.partition]
    assert left_behind == [
        {"partition": delete.partition, "baseline_rows": None, "candidate_rows": delete.rows}
    ]
    # Every query reported success, as in the incident.
    assert evidence["candidate"]["status"] == evidence["baseline"]["status"] == "ok"
    insert = next(w for w in loaded.lost_writes if w.kind == "insert")
    evidence = verdicts[(insert.candidate, insert.query_id)]["evidence"]
    assert evidence["reported_count_mismatch"]["reported"] == insert.rows
    assert evidence["reported_count_mismatch"]["landed"] == 0
    missing = evidence["tables"]["stage_daily_activity"]["missing_partitions"]
    assert {
        "partition": insert.partition,
        "baseline_rows": insert.rows,
        "candidate_rows": None,
    } in (missing)


@LOADED_RUN
def test_quiet_confirmation_marks_every_finding_as_under_load_only(loaded: IncidentRun) -> None:
    assert loaded.confirmation is not None
    verdicts = read_records(loaded.run_dir, RecordKind.VERDICTS)
    findings = [v for v in verdicts if v["verdict"] in ("write_mismatch", "result_mismatch")]
    assert len(findings) >= len(SEEDS)
    assert all(v["under_load_only"] for v in findings)
    assert not any(v["under_load_only"] for v in verdicts if v["verdict"] == "match")
    meta = json.loads((loaded.run_dir / RUN_FILE).read_text())
    assert meta["confirm"]["reproduced"] == []
    assert len(meta["confirm"]["under_load_only"]) == len(findings)
    replays = meta["confirm"]["replays"]
    assert Counter(v for u in meta["confirm"]["under_load_only"] for v in u["quiet_verdicts"]) == {
        "match": replays * len(findings)
    }
    summary = json.loads((loaded.run_dir / SUMMARY_FILE).read_text())
    assert "under_load_only" in json.dumps(summary)
    assert "only under concurrent load" in (loaded.run_dir / HTML_FILE).read_text()


@LOADED_RUN
def test_first_write_mismatch_is_judged_within_seconds_of_the_first_execution(
    loaded: IncidentRun,
) -> None:
    assert loaded.first_write_mismatch_after_first_execution_s is not None
    assert 0 < loaded.first_write_mismatch_after_first_execution_s < 30


def test_quiet_cluster_finds_nothing_because_the_fault_never_fires(tmp_path: Path) -> None:
    quiet = run_incident(tmp_path, SEEDS[:1], quiet=True, confirm=False)
    assert quiet.concurrency == 1
    assert quiet.fired == Counter()
    assert quiet.exit_code == 0
    assert all(quiet.quiet(c) for c in quiet.candidates)


def incident_data(work: Path, cache: Path) -> dict[str, Any]:
    """configs/incident-quiet.toml with a copy-mode baseline and three candidates: the
    same release reading the cache, and a lossy candidate (losing a partition of every
    write, loaded or not, so verdicts do not depend on timing) in each mode."""
    base = scenario_data("incident-quiet", work)
    lossy = lossy_candidates(base, [1])
    (template,) = lossy.values()
    template["faults"]["lost_writes"]["only_under_load"] = False
    baseline = base["engines"][base["run"]["baseline"]]

    def reading(engine: dict[str, Any], mode: str) -> dict[str, Any]:
        engine = copy.deepcopy(engine)
        engine["settings"] = {**engine.get("settings", {}), "read_only_tables": mode}
        return engine

    candidates = {
        "cached": reading(baseline, "cache"),
        "lossy_cached": reading(template, "cache"),
        "lossy_copied": reading(template, "copy"),
    }
    data = with_candidates(base, candidates)
    data["engines"][data["run"]["baseline"]] = reading(baseline, "copy")
    data["load"]["confirm_quietly"] = False
    data["dataset"]["read_only_cache"] = str(cache / "read-only-cache")
    return data


def verdicts(run_dir: Path, candidate: str) -> dict[str, tuple[Any, ...]]:
    """``candidate``'s verdict and named partitions per query."""
    found = {}
    for verdict in read_records(run_dir, RecordKind.VERDICTS):
        if verdict["candidate"] != candidate:
            continue
        tables = (verdict.get("evidence") or {}).get("tables") or {}
        named = {
            table: (
                sorted(p["partition"] for p in facts.get("missing_partitions", [])),
                sorted(p["partition"] for p in facts.get("extra_partitions", [])),
            )
            for table, facts in tables.items()
        }
        found[verdict["query_id"]] = (verdict["verdict"], named)
    return found


@LOADED_RUN
def test_cached_and_copied_read_only_tables_give_identical_verdicts(
    loaded: IncidentRun, tmp_path: Path
) -> None:
    """One run, one tenant, on the world of the loaded run: a copy-mode baseline, the same
    release reading the cache (every result and post-state must match), and the lossy
    candidate in each mode (identical verdicts and named partitions). The two cached
    engines share one entry: the first builds it, the second attaches it."""
    cfg = to_config(incident_data(loaded.run_dir.parent.parent, tmp_path), "incident-quiet")
    workload = build_world(cfg)
    ids = incident_query_ids(workload)
    tenant = next(q.tenant for q in workload.queries if q.query_id == ids[0])
    ids = [q.query_id for q in workload.queries if q.query_id in ids and q.tenant == tenant]
    outcome = run_and_report(cfg, query_ids=ids, tenants=[tenant], run_id="incident-modes")
    assert outcome.exit_code == 1
    cached = verdicts(outcome.run_dir, "cached")
    assert "match" in {verdict for verdict, _ in cached.values()}
    assert {verdict for verdict, _ in cached.values()} <= {"match", "nondeterministic"}
    lossy_cached = verdicts(outcome.run_dir, "lossy_cached")
    assert lossy_cached == verdicts(outcome.run_dir, "lossy_copied")
    kinds = [verdict for verdict, _ in lossy_cached.values()]
    assert kinds.count("write_mismatch") >= 3  # the pipeline's CTAS, INSERT, DELETE
    sessions = read_meta(outcome.run_dir).sessions or {}
    assert sessions[tenant]["read_only_cache"] == {
        "cached": "built: missing",
        "lossy_cached": "hit",
    }
    entries = [p for p in (tmp_path / "read-only-cache").iterdir() if not p.name.startswith(".")]
    assert len(entries) == 1
