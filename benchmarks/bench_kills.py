"""Kills at each phase: a real ``qsim -v run`` subprocess gets SIGKILL or SIGTERM as it
enters a phase (read from its ``qsim: phase NAME`` lines), then ``--resume`` finishes the
run. Prints one row per (phase, signal): exit code, run.json status after the signal,
executions lost and duplicated after the resume, and processes left after the signal
(the run's processes and its throwaway PostgreSQL server; no ``qsim clean`` is run).
Goal: 0 / 0 / 0.

    .venv/bin/python -m benchmarks.bench_kills [--phases prepare,load,...]

The workload is a small synthetic one (2 tenants, 24 queries) on DuckDB 1.1.3 against a
slowed DuckDB 2.0.1 and, when PostgreSQL's binaries are installed, a throwaway local
PostgreSQL as a second candidate.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from simulator.engines.postgres_server import find_bindir
from simulator.results.layout import EXECUTIONS_FILE, RUN_FILE, SERVERS_FILE
from simulator.runner.reaper import run_pids

PHASES = ("prepare", "sessions_start", "load", "perf", "report")
SIGNALS = {"SIGKILL": signal.SIGKILL, "SIGTERM": signal.SIGTERM}
ROOT = Path(__file__).resolve().parents[1]


def config_text(work: Path, postgres: bool) -> str:
    """A run config over a small world built in ``work`` on first use."""
    candidates = '["cand", "pg"]' if postgres else '["cand"]'
    text = f"""
[run]
name = "kills"
results_dir = "{work / "results"}"
baseline = "base"
candidates = {candidates}
bank = false

[dataset]
generation = "kills"
store = "{work / "store"}"

[dataset.generate]
name = "kills"
scale = 0.001
seed = 42
tenants = 2

[workload]
name = "kills"
dir = "{work / "workloads"}"

[workload.synth]
rows = 300
seed = 7

[workload.sample]
budget = 24
seed = 7

[load]
mode = "closed"
concurrency = 2

[perf]
enabled = true
repetitions = 3
max_repetitions = 4
max_patterns = 2

[engines.base]
adapter = "duckdb"
requirements = ["duckdb==1.1.3"]
dialect = "duckdb"
settings = {{ threads = 1 }}

[engines.cand]
adapter = "duckdb"
requirements = ["duckdb==2.0.1"]
dialect = "duckdb"
settings = {{ threads = 1 }}

[engines.cand.faults]
enabled = true

[engines.cand.faults.latency]
fixed_ms = 40.0
"""
    if postgres:
        text += '\n[engines.pg]\nadapter = "postgres"\ndialect = "postgres"\nrequirements = []\n'
    return text


def _qsim(*args: str, cwd: Path) -> tuple[subprocess.Popen[str], list[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "simulator", "-v", *args],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    lines: list[str] = []

    def read() -> None:
        assert proc.stderr is not None
        lines.extend(proc.stderr)

    threading.Thread(target=read, daemon=True).start()
    return proc, lines


def _server_pids(folder: str) -> list[int]:
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if folder in (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def one_kill(work: Path, phase: str, signum: int) -> dict[str, object]:
    """Run, signal at ``phase``, resume; return the row's figures."""
    results = work / "results"
    for old in results.glob("*"):
        subprocess.run(["rm", "-rf", str(old)], check=False)
    config = work / "run.toml"
    proc, lines = _qsim("run", str(config), cwd=work)
    deadline = time.monotonic() + 300
    while not any(f"qsim: phase {phase}" in line for line in lines):
        if proc.poll() is not None or time.monotonic() > deadline:
            return {"phase": phase, "error": "phase never reached"}
        time.sleep(0.01)
    proc.send_signal(signum)
    code = proc.wait(timeout=300)
    runs = list(results.glob(f"*/{RUN_FILE}"))
    row: dict[str, object] = {"phase": phase, "exit": code, "status": "-"}
    if not runs:
        return {**row, "lost": 0, "duplicated": 0, "left": 0}
    run_dir = runs[0].parent
    meta = json.loads(runs[0].read_text())
    row["status"] = meta["status"]
    servers = run_dir / SERVERS_FILE
    folders = [e["folder"] for e in json.loads(servers.read_text())] if servers.exists() else []
    time.sleep(5)  # the reaper's sweep after a SIGKILL
    row["left"] = len(run_pids(meta["run_id"])) + sum(len(_server_pids(f)) for f in folders)
    resumed, _ = _qsim("run", str(config), "--resume", run_dir.name, cwd=work)
    resumed.wait(timeout=600)
    executions = [
        json.loads(line) for line in (run_dir / EXECUTIONS_FILE).read_text().splitlines() if line
    ]
    ids = [e["execution_id"] for e in executions]
    engines = len(meta["engines"])
    loads = {i for i, e in zip(ids, executions, strict=True) if e["phase"] == "load"}
    row["lost"] = meta["queries"] * engines - len(loads)
    row["duplicated"] = len(ids) - len(set(ids))
    return row


def main() -> None:
    """Print the kills table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phases", default=",".join(PHASES))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qsim-kills-") as folder:
        work = Path(folder)
        postgres = find_bindir() is not None
        (work / "run.toml").write_text(config_text(work, postgres))
        print(f"candidates: DuckDB 2.0.1 (slowed){' + throwaway PostgreSQL' if postgres else ''}")
        print(
            f"{'phase':<16}{'signal':<9}{'exit':>5}  {'status':<12}{'lost':>5}{'dup':>5}{'left':>5}"
        )
        for phase in args.phases.split(","):
            for name, signum in SIGNALS.items():
                row = one_kill(work, phase, signum)
                if "error" in row:
                    print(f"{phase:<16}{name:<9}  {row['error']}", flush=True)
                    continue
                print(
                    f"{phase:<16}{name:<9}{row['exit']:>5}  {row['status']!s:<12}"
                    f"{row['lost']:>5}{row['duplicated']:>5}{row['left']:>5}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
