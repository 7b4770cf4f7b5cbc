"""Whole runs over real DuckDB behind mutant plugin adapters: a bank-served baseline judges
exactly as an executed one; LIMIT rows are checked against the unlimited baseline."""

from __future__ import annotations

from pathlib import Path

import pytest
from runner_fixtures import DUCKDB_NEW, duckdb_engine, read_jsonl, write_config

from simulator.config import load_config
from simulator.jobs.run_report import run_and_report
from simulator.results.layout import EXECUTIONS_FILE, VERDICTS_FILE

pytestmark = pytest.mark.slow

DRIFT = "tests.engines.plugin_adapters:FloatDriftDuckDBAdapter"
SHIFT = "tests.engines.plugin_adapters:LimitShiftDuckDBAdapter"


def test_a_bank_served_baseline_is_judged_with_the_candidates_kept_rows(
    world: Path, tmp_path: Path
) -> None:
    # The candidate's lane ("a") sorts before the baseline's, and a tenant's engines take
    # turns: the candidate finishes each statement before the bank serves the baseline's,
    # the order in which the candidate was once judged before its result file existed.
    bank = {
        "candidates": ["a"],
        "bank": True,
        "bank_refresh": 0.0,
        "bank_dir": str(tmp_path / "bank"),
    }
    engines = {
        "base": duckdb_engine(DUCKDB_NEW),
        "a": duckdb_engine(DUCKDB_NEW, adapter=DRIFT),
    }
    config = write_config(
        tmp_path / "run.toml",
        world,
        tmp_path / "results",
        run=bank,
        engines=engines,
        perf={"enabled": False},
        load={
            "mode": "closed",
            "concurrency": 1,
            "per_tenant_concurrency": 1,
            "confirm_quietly": False,
        },
    )
    first = run_and_report(load_config(config))
    second = run_and_report(load_config(config))
    verdicts = [
        {v["query_id"]: (v["verdict"], v["reason"]) for v in read_jsonl(o.run_dir / VERDICTS_FILE)}
        for o in (first, second)
    ]
    served = [v for v in read_jsonl(second.run_dir / VERDICTS_FILE) if v["baseline_from_bank"]]
    assert served
    assert any(v == ("result_mismatch", "values_differ") for v in verdicts[0].values())
    assert verdicts[1] == verdicts[0]
    assert not any(
        "unavailable" in str(v["evidence"].get("float_confirmation", "")) for v in served
    )


def test_limit_rows_no_correct_engine_returns_are_caught_by_the_unlimited_run(
    world: Path, tmp_path: Path
) -> None:
    engines = {
        "base": duckdb_engine(DUCKDB_NEW),
        "cand": duckdb_engine(DUCKDB_NEW, adapter=SHIFT),
    }
    config = write_config(
        tmp_path / "run.toml",
        world,
        tmp_path / "results",
        engines=engines,
        perf={"enabled": False},
        load={"confirm_quietly": False},
        # A larger sample of the tiny world's log: it holds LIMIT queries.
        workload={
            "name": "limits",
            "dir": str(tmp_path / "workloads"),
            "synth": {"rows": 300, "seed": 7},
            "sample": {"budget": 80, "seed": 7},
        },
    )
    outcome = run_and_report(load_config(config))
    unlimited = [
        e for e in read_jsonl(outcome.run_dir / EXECUTIONS_FILE) if e["phase"] == "unlimited"
    ]
    assert unlimited and all(e["engine"] == "base" and e["result_path"] for e in unlimited)
    verdicts = {v["query_id"]: v for v in read_jsonl(outcome.run_dir / VERDICTS_FILE)}
    for e in unlimited:  # every subset check could run (a result without integers is equal)
        assert "subset_check" not in verdicts[e["query_id"]]["evidence"]
    reasons = {verdicts[e["query_id"]]["reason"] for e in unlimited}
    assert "limited_rows_not_in_unlimited_result" in reasons
