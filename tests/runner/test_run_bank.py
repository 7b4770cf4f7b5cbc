"""Runs served by the baseline bank judge exactly as runs that executed the baseline."""

from __future__ import annotations

from pathlib import Path

import pytest
from runner_fixtures import DUCKDB_NEW, duckdb_engine, read_jsonl, write_config

from simulator.config import load_config
from simulator.jobs.run_report import run_and_report
from simulator.results.layout import VERDICTS_FILE

pytestmark = pytest.mark.slow

DRIFT = "tests.engines.plugin_adapters:FloatDriftDuckDBAdapter"


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
