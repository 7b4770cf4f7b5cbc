"""Engine servers a run starts for itself: a throwaway local PostgreSQL cluster for every
``adapter = "postgres"`` engine declared without a ``dsn``.

One cluster per run, started before Ray (:meth:`LocalServers.prepare`: processes started
while Ray runs carry the run's reaper marker and would be killed with Ray, yet the quiet
confirmation still needs the server after Ray stops), ``initdb`` + ``pg_ctl`` in a
temporary folder, Unix socket only; one new database and unprivileged role per (engine,
tenant, request), so a replaced session or the quiet confirmation starts from an empty
database just as it starts from a fresh workspace. Stopped, and its folder deleted, when
the run ends. The socket is local to the driver's host: on a multi-host Ray cluster
declare a ``dsn``.

The server is not a child the reaper knows by its environment (it must outlive Ray), so
it is recorded in the run folder's servers file (``servers.json``) the moment its folder
exists, and removed from it when stopped. After a SIGKILL of the driver, the reaper,
``--resume`` and ``qsim clean`` stop what that file names (:func:`stop_leftovers`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from collections.abc import Iterable
from pathlib import Path

from simulator.config import EngineSpec
from simulator.engines.postgres_server import (
    LocalPostgres,
    database_name,
    postmaster_pid,
    stop_leftover,
)


def _needs_postgres(spec: EngineSpec) -> bool:
    return spec.adapter == "postgres" and not spec.dsn


class LocalServers:
    """Hands out engine specs with a DSN filled in where qsim runs the server itself."""

    def __init__(self, journal: Path | None = None) -> None:
        self.journal = journal
        self._postgres: LocalPostgres | None = None
        self._lock = threading.Lock()
        self._databases = 0
        self.started: list[dict[str, object]] = []

    def prepare(self, specs: Iterable[EngineSpec]) -> None:
        """Start the servers ``specs`` will need. Raises EngineError if one cannot start."""
        with self._lock:
            if self._postgres is None and any(_needs_postgres(spec) for spec in specs):
                self._postgres = LocalPostgres()
                self._postgres.start(announce=self._record)
                assert self._postgres.folder is not None
                self._record(self._postgres.folder)  # again, now with the server's pid
                self.started.append({"kind": "postgres", "folder": str(self._postgres.folder)})

    def _record(self, folder: Path) -> None:
        """Write the journal naming the server of ``folder`` (atomically)."""
        if self.journal is None:
            return
        entry = {"kind": "postgres", "folder": str(folder), "pid": postmaster_pid(folder)}
        partial = self.journal.with_name(self.journal.name + ".partial")
        partial.write_text(json.dumps([entry]), encoding="utf-8")
        os.replace(partial, self.journal)

    def engine_for(self, spec: EngineSpec, tenant: str) -> EngineSpec:
        """``spec`` itself, or for a postgres engine without a DSN a copy whose DSN names a
        new database of the run's local cluster. Raises EngineError if it cannot start."""
        if not _needs_postgres(spec):
            return spec
        self.prepare([spec])
        with self._lock:
            assert self._postgres is not None
            self._databases += 1
            name = database_name(spec.name, f"{tenant}_{self._databases}")
            return dataclasses.replace(spec, dsn=self._postgres.create_database(name))

    def describe(self) -> list[dict[str, object]]:
        """The servers this run started (for ``run.json``), with the databases handed out."""
        return [{**server, "databases": self._databases} for server in self.started]

    def stop(self) -> None:
        """Stop every server this run started (idempotent)."""
        with self._lock:
            if self._postgres is not None:
                self._postgres.stop()
                self._postgres = None
            if self.journal is not None:
                self.journal.unlink(missing_ok=True)


def stop_leftovers(journal: Path) -> list[str]:
    """Stop every server ``journal`` (a run's servers file) names, delete their folders
    and the journal; returns the folders cleaned. A journal that is absent or unreadable
    names nothing."""
    try:
        entries = json.loads(journal.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        entries = []
    cleaned = [
        str(entry["folder"])
        for entry in entries
        if isinstance(entry, dict) and entry.get("folder") and stop_leftover(Path(entry["folder"]))
    ]
    journal.unlink(missing_ok=True)
    return cleaned
