"""The Ray lifecycle of one run: start (or join) Ray quietly, and always shut it down.

Local by default: ``ray.init`` starts a private Ray instance whose temporary files live
under the run folder (``<run>/ray``), with the dashboard, log forwarding and usage stats
off. Ray puts Unix sockets under its temp dir and Linux limits a socket path to 107 bytes,
so when the run folder path is too long the temp dir moves to a short ``/tmp/qsim-ray-*``
folder instead (recorded in ``run.json`` under ``ray.temp_dir``). With an address (``--ray-
address`` or ``run.ray_address``) the driver joins that cluster instead and starts nothing.

Every process of the run (Ray's own and the engine workers the actors start) carries
``QSIM_RUN_ID`` in its environment; a reaper (:mod:`simulator.runner.reaper`) kills any of
them left when the driver ends, even by SIGKILL, and tests assert none is left.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from simulator.errors import RunError
from simulator.results.layout import SERVERS_FILE
from simulator.runner.reaper import RUN_ENV, start_reaper, stop_reaper

# "/session_2026-01-01_00-00-00_000000_1234567/sockets/plasma_store" plus slack.
_SOCKET_SUFFIX = 72
_SOCKET_PATH_MAX = 107


def ray_temp_dir(run_dir: Path) -> tuple[Path, bool]:
    """The temp dir for a local Ray: ``run_dir/ray`` if short enough, else a short one.

    Returns (path, moved) where ``moved`` says the short fallback was used.
    """
    preferred = Path(run_dir).resolve() / "ray"
    if len(str(preferred)) + _SOCKET_SUFFIX <= _SOCKET_PATH_MAX:
        return preferred, False
    return Path(tempfile.mkdtemp(prefix="qsim-ray-", dir="/tmp")), True


@contextmanager
def _keep_sigterm_handler() -> Iterator[None]:
    """Put the driver's SIGTERM handler back after the block: ``ray.init`` replaces it with
    one that exits with code 15, and Ray's native failure handler aborts (code 134) on
    SIGTERM, where a run stopped by SIGTERM must end like Ctrl-C (interrupted, 130)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


class RayCluster:
    """Context manager around ``ray.init``/``ray.shutdown`` for one run."""

    def __init__(self, run_dir: Path, run_id: str, address: str = "") -> None:
        self.run_dir = Path(run_dir)
        self.run_id = run_id
        self.address = address
        self.temp_dir: Path | None = None
        self.moved = False
        self._previous_env: str | None = None
        self._reaper: subprocess.Popen[bytes] | None = None

    def describe(self) -> dict[str, Any]:
        """What run.json records about Ray."""
        info: dict[str, Any] = {"address": self.address or "local"}
        if self.temp_dir is not None:
            info["temp_dir"] = str(self.temp_dir)
            if self.moved:
                info["temp_dir_note"] = (
                    "run folder path too long for Ray's socket paths; temp dir moved to /tmp"
                )
        return info

    def __enter__(self) -> RayCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def start(self) -> None:
        """Start a local Ray (or join ``address``); RunError in one line when it fails."""
        import ray

        if not self.address:
            self.temp_dir, self.moved = ray_temp_dir(self.run_dir)
        # The reaper also removes Ray's temp dir when the driver dies without cleaning up.
        self._reaper = start_reaper(
            self.run_id,
            [self.temp_dir] if self.temp_dir else [],
            servers=self.run_dir / SERVERS_FILE,
        )
        self._previous_env = os.environ.get(RUN_ENV)
        os.environ[RUN_ENV] = self.run_id
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        os.environ.setdefault("RAY_DEDUP_LOGS", "0")
        kwargs: dict[str, Any] = {
            "include_dashboard": False,
            "log_to_driver": False,
            "logging_level": logging.ERROR,
            "configure_logging": True,
        }
        try:
            with _keep_sigterm_handler():
                if self.address:
                    # The cluster's processes were started without the run's id: its workers
                    # get it from the job's runtime environment. A local Ray's processes
                    # inherit it from this one, as the workers they start do (a runtime
                    # environment would cost ~1.5 s of actor starts a run for nothing).
                    env = {"env_vars": {RUN_ENV: self.run_id}}
                    ray.init(address=self.address, runtime_env=env, **kwargs)
                else:
                    assert self.temp_dir is not None
                    self.temp_dir.mkdir(parents=True, exist_ok=True)
                    ray.init(_temp_dir=str(self.temp_dir), num_cpus=os.cpu_count() or 1, **kwargs)
        except Exception as err:  # Ray raises many types; any of them means "no cluster"
            self.shutdown()
            where = self.address or "a local Ray instance"
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise RunError(f"cannot start or join {where}: {first}") from None

    def shutdown(self) -> None:
        """Disconnect (and stop a local Ray); remove Ray's temp dir. Safe to call twice."""
        import ray

        if ray.is_initialized():
            ray.shutdown()
        if self.temp_dir is not None:
            # Ray's session files are not results; keep the run folder small.
            shutil.rmtree(self.temp_dir, ignore_errors=True)
        if self._reaper is not None:
            stop_reaper(self._reaper)
            self._reaper = None
        self._restore_env()

    def _restore_env(self) -> None:
        if self._previous_env is None:
            os.environ.pop(RUN_ENV, None)
        else:
            os.environ[RUN_ENV] = self._previous_env

    def nodes(self) -> list[str]:
        """Ids of the alive nodes of the cluster."""
        import ray

        return [n["NodeID"] for n in ray.nodes() if n.get("Alive")]
