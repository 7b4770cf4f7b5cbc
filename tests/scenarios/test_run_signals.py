"""SIGTERM and SIGINT sent to a real ``qsim -v run`` subprocess at several phases: the run
ends with exit 130 and ``run.json`` status ``interrupted`` (or no run folder at all when
it had not been created yet), leaves no process behind, and a resume completes it with
each execution recorded exactly once. A SIGKILL of a run with a throwaway PostgreSQL
leaves nothing running after ``qsim clean``. The phase is read from the ``qsim: phase NAME``
lines ``-v`` prints on stderr."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from runner_fixtures import DUCKDB_NEW, duckdb_engine, read_jsonl, wait_no_processes, write_config

from simulator.engines.postgres_server import find_bindir
from simulator.results.layout import EXECUTIONS_FILE, RUN_FILE, SERVERS_FILE

pytestmark = pytest.mark.slow

SLOW_CANDIDATE = duckdb_engine(DUCKDB_NEW, faults={"enabled": True, "latency": {"fixed_ms": 40.0}})
ROOT = Path(__file__).resolve().parents[2]


class QsimProcess:
    """A ``qsim -v`` subprocess whose stderr is read line by line in a thread."""

    def __init__(self, *args: str, cwd: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "simulator", "-v", *args],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        try:
            for line in self.proc.stderr:
                self.lines.append(line)
        except ValueError:
            return  # the test closed the pipe after the process ended: nothing more to read

    def wait_for(self, text: str, timeout_s: float = 120.0) -> None:
        """Wait until a stderr line contains ``text``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise AssertionError(f"never printed {text!r}: {''.join(self.lines)[-2000:]}")

    def finish(self, timeout_s: float = 300.0) -> tuple[int, str, str]:
        """Wait for the exit; returns (exit code, stdout, stderr)."""
        out, _ = self.proc.communicate(timeout=timeout_s)
        self._reader.join(timeout=10)
        return self.proc.returncode, out, "".join(self.lines)


def _config(world: Path, tmp_path: Path, **sections: object) -> Path:
    engines = {"base": duckdb_engine("1.1.3"), "cand": SLOW_CANDIDATE}
    sections = {"engines": engines, **sections}
    return write_config(tmp_path / "run.toml", world, tmp_path / "results", **sections)


def _stop_at(config: Path, cwd: Path, phase: str, signum: int) -> Path | None:
    """Start a run, send ``signum`` when it enters ``phase``; assert it ended as
    interrupted; return its folder (None when it had none yet)."""
    run = QsimProcess("run", str(config), cwd=cwd)
    run.wait_for(f"qsim: phase {phase}")
    run.proc.send_signal(signum)
    code, _, err = run.finish()
    assert code == 130, err[-3000:]
    assert "Traceback" not in err
    folders = list((cwd / "results").glob(f"*/{RUN_FILE}"))
    if not folders:
        return None
    (meta_path,) = folders
    meta = json.loads(meta_path.read_text())
    assert (meta["status"], meta["exit_code"]) == ("interrupted", 130)
    assert wait_no_processes(meta["run_id"]) == []
    return meta_path.parent


def _resume_to_the_end(config: Path, cwd: Path, run_dir: Path) -> None:
    code, _, err = QsimProcess("run", str(config), "--resume", run_dir.name, cwd=cwd).finish()
    assert code in (0, 1), err[-3000:]
    meta = json.loads((run_dir / RUN_FILE).read_text())
    assert meta["status"] == "complete"
    executions = read_jsonl(run_dir / EXECUTIONS_FILE)
    ids = [e["execution_id"] for e in executions]
    assert len(ids) == len(set(ids)), "an execution was recorded twice"
    loads = Counter(e["engine"] for e in executions if e["phase"] == "load")
    assert loads == {"base": meta["queries"], "cand": meta["queries"]}


@pytest.mark.parametrize(
    ("phase", "signum"),
    [
        ("prepare", signal.SIGTERM),
        ("sessions_start", signal.SIGTERM),
        ("load", signal.SIGTERM),
        ("load", signal.SIGINT),
    ],
)
def test_signal_during_start_up_and_load_ends_interrupted_and_resumes(
    world: Path, tmp_path: Path, phase: str, signum: int
) -> None:
    config = _config(world, tmp_path, perf={"enabled": False})
    run_dir = _stop_at(config, tmp_path, phase, signum)
    if run_dir is not None:
        _resume_to_the_end(config, tmp_path, run_dir)


def test_sigterm_during_perf_ends_interrupted_and_resumes(world: Path, tmp_path: Path) -> None:
    config = _config(world, tmp_path)
    run_dir = _stop_at(config, tmp_path, "perf", signal.SIGTERM)
    assert run_dir is not None
    _resume_to_the_end(config, tmp_path, run_dir)


def _processes_in(folder: str) -> list[int]:
    """Pids whose command line names ``folder`` (a PostgreSQL cluster's postmaster)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if folder in (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


@pytest.mark.postgres
@pytest.mark.skipif(find_bindir() is None, reason="no PostgreSQL server binaries (initdb)")
def test_sigkilled_run_with_a_throwaway_postgres_leaves_nothing_after_clean(
    world: Path, tmp_path: Path
) -> None:
    config = _config(
        world,
        tmp_path,
        engines={
            "base": duckdb_engine(DUCKDB_NEW),
            "pg": {"adapter": "postgres", "dialect": "postgres", "requirements": []},
        },
        run={"candidates": ["pg"]},
        perf={"enabled": False},
    )
    run = QsimProcess("run", str(config), cwd=tmp_path)
    run.wait_for("qsim: phase load")
    (run_dir,) = [p.parent for p in (tmp_path / "results").glob(f"*/{RUN_FILE}")]
    (server,) = json.loads((run_dir / SERVERS_FILE).read_text())
    assert _processes_in(server["folder"]), "the recorded server is not running"
    run.proc.send_signal(signal.SIGKILL)
    run.finish()
    cleaned = subprocess.run(
        [sys.executable, "-m", "simulator", "clean", run_dir.name, "--results-dir", "results"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert cleaned.returncode == 0, cleaned.stderr
    assert _processes_in(server["folder"]) == []
    assert not Path(server["folder"]).exists()
    assert wait_no_processes(run_dir.name) == []
    code, _, err = QsimProcess("run", str(config), "--resume", run_dir.name, cwd=tmp_path).finish()
    assert code in (0, 1), err[-3000:]
    assert json.loads((run_dir / RUN_FILE).read_text())["status"] == "complete"
    assert not (run_dir / SERVERS_FILE).exists()
