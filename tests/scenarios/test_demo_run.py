"""``qsim run`` end to end as a user runs it: a real subprocess, a real local Ray, real
DuckDB releases; stopped with Ctrl-C (SIGINT) and killed (SIGKILL) mid-run, then resumed
until complete with exactly one record per execution."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from runner_fixtures import (
    DUCKDB_NEW,
    duckdb_engine,
    read_jsonl,
    wait_no_processes,
    write_config,
)

from simulator.results.layout import EXECUTIONS_FILE, RUN_FILE, VERDICTS_FILE

pytestmark = pytest.mark.slow

# A slowed-down candidate (injected latency) keeps the run going long enough to stop it.
SLOW_CANDIDATE = duckdb_engine(DUCKDB_NEW, faults={"enabled": True, "latency": {"fixed_ms": 60.0}})


def _qsim(*args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "simulator", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )


def _run_dir_when_recording(results: Path, at_least: int, timeout_s: float = 120.0) -> Path:
    """Wait for a run folder whose executions.jsonl holds ``at_least`` records."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for run_dir in results.glob("*/"):
            path = run_dir / EXECUTIONS_FILE
            if path.exists() and path.read_bytes().count(b"\n") >= at_least:
                return run_dir
        time.sleep(0.05)
    raise AssertionError(f"no run recorded {at_least} executions within {timeout_s} s")


def _executions_recorded(run_dir: Path) -> int:
    return (run_dir / EXECUTIONS_FILE).read_bytes().count(b"\n")


def test_interrupted_then_killed_run_resumes_to_exactly_one_record_each(
    world: Path, tmp_path: Path
) -> None:
    results = tmp_path / "results"
    config = write_config(
        tmp_path / "run.toml",
        world,
        results,
        engines={"base": duckdb_engine("1.1.3"), "cand": SLOW_CANDIDATE},
        perf={"enabled": False},
    )

    # Ctrl-C: a clean stop, status interrupted, one line saying how to resume.
    first = _qsim("run", str(config), cwd=tmp_path)
    run_dir = _run_dir_when_recording(results, 6)
    first.send_signal(signal.SIGINT)
    out, err = first.communicate(timeout=120)
    assert first.returncode == 130, err
    run_id = run_dir.name
    assert f"qsim: interrupted; resume with: qsim run {config} --resume {run_id}" in err
    assert "Traceback" not in err
    assert out.strip().splitlines()[-1].endswith(run_id)
    assert json.loads((run_dir / RUN_FILE).read_text())["status"] == "interrupted"
    assert wait_no_processes(run_id) == []

    # SIGKILL of the resumed driver mid-run: nothing can be cleaned up by qsim itself.
    recorded = _executions_recorded(run_dir)
    second = _qsim("run", str(config), "--resume", run_id, cwd=tmp_path)
    deadline = time.monotonic() + 120
    while _executions_recorded(run_dir) < recorded + 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    second.send_signal(signal.SIGKILL)
    second.communicate(timeout=60)
    killed = json.loads((run_dir / RUN_FILE).read_text())
    assert killed["status"] == "running"
    assert wait_no_processes(run_id) == []
    assert not Path(killed["ray"]["temp_dir"]).exists()  # the reaper removed Ray's files

    # Resume to the end.
    third = _qsim("run", str(config), "--resume", run_id, cwd=tmp_path)
    out, err = third.communicate(timeout=300)
    assert third.returncode in (0, 1), err
    assert out.strip(), f"no summary on stdout; stderr: {err}"
    assert out.strip().splitlines()[-1] == str(run_dir.relative_to(tmp_path))
    meta = json.loads((run_dir / RUN_FILE).read_text())
    assert meta["status"] == "complete" and len(meta["resumed_at"]) == 2
    assert meta["engines"]["cand"]["faults_enabled"] is True
    executions = read_jsonl(run_dir / EXECUTIONS_FILE)
    ids = [e["execution_id"] for e in executions]
    assert len(ids) == len(set(ids)), "an execution was recorded twice"
    queries = meta["queries"]
    assert Counter(e["engine"] for e in executions if e["phase"] == "load") == {
        "base": queries,
        "cand": queries,
    }
    verdicts = read_jsonl(run_dir / VERDICTS_FILE)
    assert len(verdicts) == queries
    assert len({v["query_id"] for v in verdicts}) == queries
    assert wait_no_processes(run_id) == []
