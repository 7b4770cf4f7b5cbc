"""Harness faults during a real run: a tenant session (Ray actor) whose process is killed,
and an engine worker killed under a running session. The affected executions are retried
once on a fresh worker, marked ``retried``, and the run completes with every record."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from runner_fixtures import DUCKDB_NEW, DUCKDB_OLD, duckdb_engine, read_jsonl, write_config

from simulator.config import load_config
from simulator.results.layout import EXECUTIONS_FILE, RUN_FILE, VERDICTS_FILE
from simulator.runner.run import execute_run

pytestmark = pytest.mark.slow

# Slow enough that t02 still has load-phase work when the killer sees its first records.
SLOW = {"enabled": True, "latency": {"fixed_ms": 100.0}}


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


class Killer(threading.Thread):
    """Waits for the run to record a few executions, then kills tenant t01's session
    process and one engine worker of tenant t02's session."""

    def __init__(self, results: Path) -> None:
        super().__init__(daemon=True)
        self.results = results
        self.killed: dict[str, int] = {}

    def run(self) -> None:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            for run_json in self.results.glob(f"*/{RUN_FILE}"):
                meta = json.loads(run_json.read_text())
                done = run_json.parent / EXECUTIONS_FILE
                sessions = meta.get("sessions")
                # Both tenants mid-replay: each has recorded work and has work left, so
                # the kills hit lanes that must be retried.
                text = done.read_bytes() if done.exists() else b""
                t01, t02 = text.count(b'"tenant": "t01"'), text.count(b'"tenant": "t02"')
                if sessions and t01 >= 2 and 1 <= t02 <= 4:
                    workers = _children(sessions["t02"]["pid"])
                    if workers:
                        os.kill(workers[0], signal.SIGKILL)
                        self.killed["worker"] = workers[0]
                    os.kill(sessions["t01"]["pid"], signal.SIGKILL)
                    self.killed["session"] = sessions["t01"]["pid"]
                    return
            time.sleep(0.05)


def test_killed_session_and_worker_are_retried_and_the_run_completes(
    world: Path, tmp_path: Path
) -> None:
    results = tmp_path / "results"
    config = write_config(
        tmp_path / "run.toml",
        world,
        results,
        engines={
            "base": duckdb_engine(DUCKDB_OLD, faults=SLOW),
            "cand": duckdb_engine(DUCKDB_NEW, faults=SLOW),
        },
        perf={"enabled": False},
    )
    killer = Killer(results)
    killer.start()
    outcome = execute_run(load_config(config))
    killer.join(timeout=5)
    assert set(killer.killed) == {"session", "worker"}
    assert outcome.status == "complete"
    meta = json.loads((outcome.run_dir / RUN_FILE).read_text())
    assert meta["harness"]["sessions_replaced"] == 1
    assert meta["sessions"]["t01"]["pid"] == killer.killed["session"]  # recorded at start
    executions = read_jsonl(outcome.run_dir / EXECUTIONS_FILE)
    ids = [e["execution_id"] for e in executions]
    assert len(ids) == len(set(ids))
    queries = meta["queries"]
    assert Counter(e["engine"] for e in executions if e["phase"] == "load") == {
        "base": queries,
        "cand": queries,
    }
    retried = [e for e in executions if e["retried"]]
    assert {e["tenant"] for e in retried} == {"t01", "t02"}
    # A retried execution ran to its real outcome: no harness crash left in the record.
    assert not [e for e in executions if e["error_class"] in ("HarnessError", "WorkerCrash")]
    assert len(read_jsonl(outcome.run_dir / VERDICTS_FILE)) == queries
