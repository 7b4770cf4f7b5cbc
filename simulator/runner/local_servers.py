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
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable

from simulator.config import EngineSpec
from simulator.engines.postgres_server import LocalPostgres, database_name


def _needs_postgres(spec: EngineSpec) -> bool:
    return spec.adapter == "postgres" and not spec.dsn


class LocalServers:
    """Hands out engine specs with a DSN filled in where qsim runs the server itself."""

    def __init__(self) -> None:
        self._postgres: LocalPostgres | None = None
        self._lock = threading.Lock()
        self._databases = 0
        self.started: list[dict[str, object]] = []

    def prepare(self, specs: Iterable[EngineSpec]) -> None:
        """Start the servers ``specs`` will need. Raises EngineError if one cannot start."""
        with self._lock:
            if self._postgres is None and any(_needs_postgres(spec) for spec in specs):
                self._postgres = LocalPostgres().start()
                self.started.append({"kind": "postgres", "folder": str(self._postgres.folder)})

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
