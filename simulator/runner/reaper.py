"""The reaper: makes sure no process of a run outlives its driver, even a SIGKILLed one.

Ray's own processes, the session actors and the engine workers they start all carry
``QSIM_RUN_ID=<run id>`` in their environment (see :mod:`simulator.runner.cluster`). The
driver starts this small watchdog in its own session (so Ctrl-C does not reach it) with a
pipe on its stdin. When the pipe closes, because the driver finished or died, the reaper
kills every process of this host that still carries the run's id. Linux only (/proc).
When the driver died (the pipe closed without the driver's ``done``), it also stops the
throwaway servers the run's servers file names
(:func:`~simulator.runner.local_servers.stop_leftovers`): they do not carry the id, as
they must outlive Ray for the quiet confirmation.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

RUN_ENV = "QSIM_RUN_ID"
REAPER_ENV = "QSIM_REAPER_FOR"
SWEEPS = 5  # processes can spawn children while dying; sweep until none is left
DONE = b"done"  # what a driver that ends normally writes before closing the pipe


def run_pids(run_id: str) -> list[int]:
    """Pids of live processes (other than this one) whose environment names ``run_id``."""
    needle = f"{RUN_ENV}={run_id}\0".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def kill_run(run_id: str) -> int:
    """SIGKILL every process of the run; returns how many were killed."""
    killed = 0
    for _ in range(SWEEPS):
        pids = run_pids(run_id)
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.1)
    return killed


def start_reaper(
    run_id: str, remove: list[Path] | None = None, servers: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start the watchdog for ``run_id``; close its stdin (or die) to trigger it. After
    the sweep it deletes the folders in ``remove`` (Ray's temp dir) and, if the driver
    died, stops the servers the servers file ``servers`` names."""
    # Not RUN_ENV (the reaper must not match its own sweep), but named so tests can wait
    # for it to finish.
    env = {k: v for k, v in os.environ.items() if k != RUN_ENV}
    env[REAPER_ENV] = run_id
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulator.runner.reaper",
            run_id,
            str(servers or ""),
            *map(str, remove or []),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )


def stop_reaper(reaper: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    """Trigger the reaper now (the driver is alive: servers are left to it) and wait for
    its sweep."""
    if reaper.stdin is not None:
        try:
            reaper.stdin.write(DONE)
            reaper.stdin.close()
        except BrokenPipeError:
            pass
    try:
        reaper.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        reaper.kill()


def main() -> None:
    """Wait for the driver's pipe to close, sweep the run's processes, remove folders,
    and stop the run's servers if the driver died."""
    run_id, servers, remove = sys.argv[1], sys.argv[2], sys.argv[3:]
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    driver_done = sys.stdin.buffer.read() == DONE
    kill_run(run_id)
    for folder in remove:
        shutil.rmtree(folder, ignore_errors=True)
    if servers and not driver_done:
        from simulator.runner.local_servers import stop_leftovers

        stop_leftovers(Path(servers))


if __name__ == "__main__":
    main()
