"""``qsim clean``: stop what a killed driver left behind for a run folder.

A driver killed with SIGKILL cannot clean up. Its Ray processes and engine workers are
swept by the reaper; what may be left is a throwaway server (named in the run's servers
file, :data:`~simulator.results.layout.SERVERS_FILE`), a process still carrying the run's
id, and Ray's temporary folder. Cleaning never touches a run a live driver holds (its
lock), and leaves the records alone: ``--resume`` still finishes the run.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from simulator.errors import RunError
from simulator.results.layout import SERVERS_FILE, is_run_folder
from simulator.results.store import RunStore, read_meta
from simulator.runner.local_servers import stop_leftovers
from simulator.runner.reaper import kill_run


def clean_run(run_dir: Path) -> list[str]:
    """Stop the leftovers of the run in ``run_dir``; returns one line per thing cleaned
    (empty when nothing was left). Refuses (RunError) a folder that is not a run and a run
    a live driver holds."""
    if not is_run_folder(run_dir):
        raise RunError(f"{run_dir}: not a run folder")
    store = RunStore(run_dir)
    store.lock()
    try:
        meta = read_meta(run_dir)
        done = [f"stopped server {folder}" for folder in stop_leftovers(run_dir / SERVERS_FILE)]
        killed = kill_run(meta.run_id)
        if killed:
            done.append(f"killed {killed} process(es) of run {meta.run_id}")
        temp_dir = (meta.ray or {}).get("temp_dir")
        if temp_dir and Path(temp_dir).exists():
            shutil.rmtree(temp_dir, ignore_errors=True)
            done.append(f"removed Ray folder {temp_dir}")
        return done
    finally:
        store.close()


def clean_all(results_dir: Path) -> tuple[list[str], list[str]]:
    """Clean every run folder under ``results_dir``; returns (lines cleaned, runs skipped
    because a live driver holds them). Refuses (RunError) a results folder that does not
    exist."""
    if not results_dir.is_dir():
        raise RunError(f"{results_dir}: no such results folder")
    done: list[str] = []
    skipped: list[str] = []
    for run_dir in sorted(p for p in results_dir.iterdir() if is_run_folder(p)):
        try:
            done.extend(f"{run_dir.name}: {line}" for line in clean_run(run_dir))
        except RunError:
            skipped.append(run_dir.name)
    return done, skipped
