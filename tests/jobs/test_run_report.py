"""End-to-end runs of the library entry ``run_and_report`` on the tiny world with real
DuckDB releases and a real local Ray."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from runner_fixtures import (
    DUCKDB_NEW,
    DUCKDB_OLD,
    duckdb_engine,
    read_jsonl,
    wait_no_processes,
    write_config,
)

from simulator.config import load_config
from simulator.jobs.run_report import run_and_report
from simulator.results.layout import EXECUTIONS_FILE, PERF_FILE, VERDICTS_FILE
from simulator.results.store import RunStore
from simulator.results.verdicts import REGRESSION_VERDICTS

pytestmark = pytest.mark.slow


def test_two_candidates_share_the_baseline_and_every_record_is_written_once(
    world: Path, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path / "run.toml",
        world,
        tmp_path / "results",
        run={"candidates": ["cand", "same"]},
        engines={
            "base": duckdb_engine(DUCKDB_OLD),
            "cand": duckdb_engine(DUCKDB_NEW),
            "same": duckdb_engine(DUCKDB_OLD),
        },
    )
    outcome = run_and_report(load_config(config))
    run_dir = outcome.run_dir
    assert outcome.status == "complete"
    assert outcome.summary.splitlines()[-1] == str(run_dir)
    assert {p.name for p in run_dir.iterdir()} >= {
        "run.json",
        "queries.parquet",
        "executions.jsonl",
        "verdicts.jsonl",
        "perf.jsonl",
        "summary.json",
        "junit.xml",
        "report.html",
    }
    meta = RunStore(run_dir).read_meta().to_dict()
    assert meta["status"] == "complete" and meta["exit_code"] == outcome.exit_code
    assert meta["engines"]["base"]["version"] == f"v{DUCKDB_OLD}"
    assert meta["engines"]["cand"]["version"] == f"v{DUCKDB_NEW}"
    assert meta["engines"]["cand"]["runtime_spec_hash"]
    recorded = ("generation_id", "workload_id", "qsim_version", "host", "started_at", "finished_at")
    for key in recorded:
        assert meta[key], key
    queries = meta["queries"]

    executions = read_jsonl(run_dir / EXECUTIONS_FILE)
    ids = [e["execution_id"] for e in executions]
    assert len(ids) == len(set(ids))  # exactly one record per execution
    load = Counter(e["engine"] for e in executions if e["phase"] == "load")
    # Baseline work is shared: one baseline lane, however many candidates.
    assert load == {"base": queries, "cand": queries, "same": queries}
    assert any(e["phase"] == "repeat" and e["engine"] == "base" for e in executions)
    assert all(e["node"] for e in executions if e["phase"] == "load" and e["status"] != "skipped")

    verdicts = read_jsonl(run_dir / VERDICTS_FILE)
    assert Counter(v["candidate"] for v in verdicts) == {"cand": queries, "same": queries}
    regressions = Counter(v["candidate"] for v in verdicts if v["verdict"] in REGRESSION_VERDICTS)
    assert regressions["same"] == 0  # the baseline release against itself: no false alarm
    assert outcome.exit_code == (1 if regressions["cand"] else 0) or outcome.perf_counts
    assert outcome.verdict_counts["same"].get("match", 0) > 0
    perf = read_jsonl(run_dir / PERF_FILE)
    assert {p["candidate"] for p in perf} == {"cand", "same"}
    assert wait_no_processes(outcome.run_id) == []


def test_baseline_bank_serves_the_next_run_unless_fresh_baseline(
    world: Path, tmp_path: Path
) -> None:
    bank = {"bank": True, "bank_refresh": 0.0, "bank_dir": str(tmp_path / "bank")}
    first = write_config(
        tmp_path / "first.toml", world, tmp_path / "results", run=bank, perf={"enabled": False}
    )
    outcome = run_and_report(load_config(first))
    assert outcome.status == "complete"
    second = write_config(
        tmp_path / "second.toml",
        world,
        tmp_path / "results",
        run=bank,
        perf={"enabled": False},
        load={"mode": "open", "time_compression": 100000.0, "concurrency": 2},
    )
    again = run_and_report(load_config(second))
    executions = read_jsonl(again.run_dir / EXECUTIONS_FILE)
    base = [e for e in executions if e["engine"] == "base" and e["status"] != "skipped"]
    assert base and all(e["from_bank"] for e in base)
    assert not any(e["from_bank"] for e in executions if e["engine"] == "cand")
    verdicts = read_jsonl(again.run_dir / VERDICTS_FILE)
    assert any(v["baseline_from_bank"] for v in verdicts)
    meta = RunStore(again.run_dir).read_meta().to_dict()
    assert meta["bank"]["served"] > 0 and meta["load"]["mode"] == "open"
    # The bank hands back exactly what the first run's baseline recorded.
    first_base = {
        e["query_id"]: (e["status"], e["result"], e["writes"])
        for e in read_jsonl(outcome.run_dir / EXECUTIONS_FILE)
        if e["engine"] == "base" and e["phase"] == "load"
    }
    for e in base:
        if e["phase"] == "load":
            assert (e["status"], e["result"], e["writes"]) == first_base[e["query_id"]]
    assert sum(again.verdict_counts["cand"].values()) == meta["queries"]

    fresh = run_and_report(load_config(second), fresh_baseline=True)
    executions = read_jsonl(fresh.run_dir / EXECUTIONS_FILE)
    assert not any(e["from_bank"] for e in executions)
    assert RunStore(fresh.run_dir).read_meta().bank["served"] == 0
