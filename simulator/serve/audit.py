"""Every replay the service ran, in the run history database (``results/history.sqlite``,
table ``serve_replays``): who (the service's user and the client address), when, which
tenant, pattern and query (a pasted statement by its fingerprint, never its text), the two
engines, the verdict (no reason text: it may quote values) and the state of the job.

Also reads, for the page, the tenant's last nightly run from the same database: the newest
complete run that replayed the whole workload (not a filtered replay), its report and the
tenant's findings in it.
"""

from __future__ import annotations

import contextlib
import getpass
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from simulator.errors import ReportError
from simulator.report.history import History
from simulator.serve.workbench import ReplayJob, ReplayRequest

TABLE = """
CREATE TABLE IF NOT EXISTS serve_replays (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, who TEXT NOT NULL,
    client TEXT NOT NULL, tenant TEXT NOT NULL, pattern_id TEXT, query_id TEXT,
    pasted INTEGER NOT NULL, baseline TEXT NOT NULL, candidate TEXT NOT NULL,
    reruns INTEGER NOT NULL, state TEXT NOT NULL, verdict TEXT
)
"""


@dataclass(frozen=True)
class Nightly:
    """The tenant's last nightly run: id, start, report file and its findings there."""

    run_id: str
    started_at: str
    report_path: str
    findings: list[dict[str, Any]]


class ReplayLog:
    """The ``serve_replays`` table of one history database."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with History(path):  # creates the history (and checks its schema) if missing
            pass
        with self._db() as db:
            db.execute(TABLE)

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        try:
            db = sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
        except sqlite3.Error as err:
            raise ReportError(f"{self.path}: history database error: {err}") from None
        db.row_factory = sqlite3.Row
        try:
            yield db
        except sqlite3.Error as err:
            raise ReportError(f"{self.path}: history database error: {err}") from None
        finally:
            db.close()

    def record(self, job: ReplayJob, client: str) -> None:
        """Append one finished (or failed) replay."""
        verdict = (job.verdict or {}).get("verdict")
        self._insert(job.request, client, job.pattern_id, job.query_id, job.state, verdict)

    def record_refused(self, request: ReplayRequest, client: str) -> None:
        """Append a request the service refused before any engine saw it."""
        self._insert(request, client, "", request.query_id, "refused", None)

    def _insert(
        self,
        request: ReplayRequest,
        client: str,
        pattern_id: str,
        query_id: str,
        state: str,
        verdict: str | None,
    ) -> None:
        with self._db() as db:
            db.execute(
                "INSERT INTO serve_replays (at, who, client, tenant, pattern_id, query_id, "
                "pasted, baseline, candidate, reruns, state, verdict) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    datetime.now(UTC).isoformat(timespec="seconds"),
                    getpass.getuser(),
                    client,
                    request.tenant,
                    pattern_id,
                    query_id,
                    int(bool(request.sql)),
                    request.baseline,
                    request.candidate,
                    request.reruns,
                    state,
                    verdict,
                ),
            )

    def replays(self, limit: int = 50) -> list[dict[str, Any]]:
        """The newest replays first."""
        with self._db() as db:
            rows = db.execute("SELECT * FROM serve_replays ORDER BY id DESC LIMIT ?", (limit,))
            return [dict(r) for r in rows]

    def last_nightly(self, tenant: str, pipeline: str) -> Nightly | None:
        """The newest complete full run of ``pipeline`` and the tenant's findings in it."""
        with self._db() as db:
            run = db.execute(
                "SELECT run_id, started_at, report_path FROM runs WHERE pipeline = ? AND "
                "filtered = 0 AND status = 'complete' ORDER BY started_at DESC LIMIT 1",
                (pipeline,),
            ).fetchone()
            if run is None:
                return None
            findings = db.execute(
                "SELECT candidate, pattern_id, verdict, status FROM findings WHERE run_id = ? "
                "AND tenant = ? ORDER BY status, pattern_id",
                (run["run_id"], tenant),
            )
            return Nightly(
                run_id=run["run_id"],
                started_at=run["started_at"] or "",
                report_path=run["report_path"] or "",
                findings=[dict(f) for f in findings],
            )
