"""Run history in SQLite (``results/history.sqlite``): runs, per-pattern results over time,
findings per run, and accepted findings with who, why and until when.

Every failure of the database itself (locked by another process, not a database, malformed)
is one ReportError line; history never touches run folders, and a failed write leaves the
database as it was (one transaction per recorded run).
"""

from __future__ import annotations

import contextlib
import difflib
import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from simulator.errors import ReportError
from simulator.report.findings import Acceptance, Changes, FindingKey
from simulator.report.rollup import PatternRow

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, pipeline TEXT NOT NULL, baseline TEXT, baseline_version TEXT,
    generation_id TEXT, workload_id TEXT, workload_name TEXT, started_at TEXT,
    finished_at TEXT, status TEXT, filtered INTEGER NOT NULL, gate_exit INTEGER, ship INTEGER,
    faults_enabled INTEGER, report_path TEXT, recorded_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_pipeline ON runs (pipeline, started_at);
CREATE INDEX IF NOT EXISTS runs_by_generation ON runs (generation_id, workload_id);
CREATE TABLE IF NOT EXISTS run_candidates (
    run_id TEXT NOT NULL, candidate TEXT NOT NULL, version TEXT, queries INTEGER,
    regressions INTEGER, perf_regressed INTEGER, verdict_counts TEXT, perf_counts TEXT,
    PRIMARY KEY (run_id, candidate)
);
CREATE INDEX IF NOT EXISTS run_candidates_by_candidate ON run_candidates (candidate);
CREATE TABLE IF NOT EXISTS pattern_results (
    run_id TEXT NOT NULL, candidate TEXT NOT NULL, tenant TEXT NOT NULL,
    pattern_id TEXT NOT NULL, kind TEXT, verdict TEXT, queries INTEGER, weight REAL,
    perf_verdict TEXT, baseline_ms REAL, candidate_ms REAL, ratio REAL, ci_low REAL,
    ci_high REAL, PRIMARY KEY (run_id, candidate, tenant, pattern_id)
);
CREATE INDEX IF NOT EXISTS pattern_results_by_pattern ON pattern_results (pattern_id);
CREATE TABLE IF NOT EXISTS findings (
    run_id TEXT NOT NULL, candidate TEXT NOT NULL, tenant TEXT NOT NULL,
    pattern_id TEXT NOT NULL, verdict TEXT NOT NULL, category TEXT, status TEXT,
    accepted_id INTEGER, PRIMARY KEY (run_id, candidate, tenant, pattern_id, verdict)
);
CREATE TABLE IF NOT EXISTS acceptances (
    id INTEGER PRIMARY KEY AUTOINCREMENT, pattern_id TEXT NOT NULL, candidate TEXT NOT NULL,
    tenant TEXT NOT NULL, verdict TEXT NOT NULL, reason TEXT NOT NULL,
    accepted_by TEXT NOT NULL, accepted_at TEXT NOT NULL, until TEXT
);
"""


class History:
    """An open history database. Use as a context manager; every method may raise
    ReportError (locked, corrupt) with one line naming the file."""

    def __init__(self, path: Path, *, timeout_s: float = 2.0, create: bool = True) -> None:
        self.path = path
        if not create and not path.is_file():
            raise ReportError(f"{path}: no run history yet (written by 'qsim report' runs)")
        if not path.parent.is_dir():
            raise ReportError(f"{path}: folder {path.parent} does not exist")
        with self._guard():
            self._db = sqlite3.connect(path, timeout=timeout_s, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise ReportError(
                    f"{path}: history schema version {version} is newer than this qsim "
                    f"({SCHEMA_VERSION})"
                )
            if version < SCHEMA_VERSION:
                # One transaction, so two processes creating the history cannot interleave.
                self._db.executescript(
                    f"BEGIN IMMEDIATE;{SCHEMA}PRAGMA user_version = {SCHEMA_VERSION};COMMIT;"
                )

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (rolling back anything uncommitted)."""
        with contextlib.suppress(sqlite3.Error):
            self._db.close()

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        """Turn sqlite errors into one ReportError line naming the database."""
        try:
            yield
        except sqlite3.OperationalError as err:
            text = str(err)
            if "locked" in text or "busy" in text:
                raise ReportError(
                    f"{self.path}: history database is locked by another process; retry "
                    "when it is done (run results were not changed)"
                ) from None
            raise ReportError(f"{self.path}: history database error: {text}") from None
        except sqlite3.DatabaseError as err:
            raise ReportError(
                f"{self.path}: history database is corrupt ({err}); move it aside to start a "
                "new history (run results were not changed)"
            ) from None

    def previous_findings(
        self, pipeline: str, run_id: str, started_at: str
    ) -> tuple[str | None, set[FindingKey] | None]:
        """The latest complete, unfiltered run of ``pipeline`` started before this one, and
        its findings. A replay of one tenant or pattern is never "the previous night"."""
        with self._guard():
            row = self._db.execute(
                "SELECT run_id FROM runs WHERE pipeline = ? AND run_id != ? AND status = "
                "'complete' AND filtered = 0 AND started_at < ? "
                "ORDER BY started_at DESC, run_id DESC LIMIT 1",
                (pipeline, run_id, started_at),
            ).fetchone()
            if row is None:
                return None, None
            keys = {
                FindingKey(r["candidate"], r["tenant"], r["pattern_id"], r["verdict"])
                for r in self._db.execute(
                    "SELECT candidate, tenant, pattern_id, verdict FROM findings WHERE run_id = ?",
                    (row["run_id"],),
                )
            }
        return row["run_id"], keys

    def acceptances(self) -> list[Acceptance]:
        """Every recorded acceptance, oldest first (expired ones included)."""
        with self._guard():
            rows = self._db.execute("SELECT * FROM acceptances ORDER BY id").fetchall()
        return [Acceptance(**dict(r)) for r in rows]

    def record_run(
        self,
        summary: dict[str, Any],
        patterns: list[PatternRow],
        changes: Changes,
        report_path: Path,
    ) -> None:
        """Record (or re-record) one run in a single transaction."""
        run_id = summary["run_id"]
        with self._guard():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for table in ("runs", "run_candidates", "pattern_results", "findings"):
                    self._db.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))
                self._db.execute(
                    "INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        run_id,
                        summary["pipeline"],
                        summary["baseline"]["name"],
                        summary["baseline"]["version"],
                        summary["generation_id"],
                        summary["workload_id"],
                        summary["workload_name"],
                        summary["started_at"],
                        summary["finished_at"],
                        summary["run_status"],
                        int(bool(summary["filters"])),
                        summary["exit_status"],
                        int(summary["decision"] == "ship"),
                        int(summary["faults_enabled"]),
                        str(report_path),
                        datetime.now(UTC).isoformat(timespec="seconds"),
                    ),
                )
                for cand in summary["candidates"]:
                    name = cand["name"]
                    counts = summary["verdict_counts"][name]
                    perf_counts = summary["perf_counts"][name]
                    self._db.execute(
                        "INSERT INTO run_candidates VALUES (?,?,?,?,?,?,?,?)",
                        (
                            run_id,
                            name,
                            cand["version"],
                            sum(counts.values()),
                            cand["regressions"],
                            perf_counts.get("regressed", 0),
                            json.dumps(counts),
                            json.dumps(perf_counts),
                        ),
                    )
                self._db.executemany(
                    "INSERT INTO pattern_results VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    [
                        (
                            run_id,
                            p.candidate,
                            p.tenant,
                            p.pattern_id,
                            p.kind,
                            p.verdict,
                            p.queries,
                            p.weight,
                            p.perf_verdict,
                            p.baseline_ms,
                            p.candidate_ms,
                            p.ratio,
                            p.ci_low,
                            p.ci_high,
                        )
                        for p in patterns
                    ],
                )
                self._db.executemany(
                    "INSERT INTO findings VALUES (?,?,?,?,?,?,?,?)",
                    [
                        (
                            run_id,
                            *(f.key.candidate, f.key.tenant, f.key.pattern_id, f.key.verdict),
                            f.category,
                            f.status,
                            f.accepted.id if f.accepted else None,
                        )
                        for f in changes.findings
                    ],
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def runs(self, pipeline: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Recorded runs, newest first, with per-candidate counts as a list under 'candidates'."""
        where, args = ("WHERE pipeline = ?", (pipeline,)) if pipeline else ("", ())
        with self._guard():
            runs = [
                dict(r)
                for r in self._db.execute(
                    f"SELECT * FROM runs {where} ORDER BY started_at DESC, run_id DESC LIMIT ?",
                    (*args, limit),
                )
            ]
            for run in runs:
                run["candidates"] = [
                    dict(r)
                    for r in self._db.execute(
                        "SELECT * FROM run_candidates WHERE run_id = ? ORDER BY candidate",
                        (run["run_id"],),
                    )
                ]
                run["new_findings"] = self._db.execute(
                    "SELECT COUNT(*) FROM findings WHERE run_id = ? AND status = 'new'",
                    (run["run_id"],),
                ).fetchone()[0]
        return runs

    def pattern_history(self, pattern_id: str, pipeline: str | None = None) -> list[dict[str, Any]]:
        """A pattern's verdict and latency per run, oldest first. Refuses an unknown pattern,
        listing close matches."""
        where = "AND r.pipeline = ?" if pipeline else ""
        args: tuple[Any, ...] = (pattern_id, pipeline) if pipeline else (pattern_id,)
        with self._guard():
            rows = [
                dict(r)
                for r in self._db.execute(
                    "SELECT r.run_id, r.pipeline, r.started_at, p.candidate, p.tenant, "
                    "p.verdict, p.queries, p.perf_verdict, p.baseline_ms, p.candidate_ms, "
                    "p.ratio, p.ci_low, p.ci_high FROM pattern_results p JOIN runs r "
                    f"USING (run_id) WHERE p.pattern_id = ? {where} "
                    "ORDER BY r.started_at, p.candidate, p.tenant",
                    args,
                )
            ]
        if not rows:
            self._refuse_unknown_pattern(pattern_id)
        return rows

    def known_patterns(self) -> list[str]:
        """Every pattern id any recorded run judged."""
        with self._guard():
            return [
                r[0] for r in self._db.execute("SELECT DISTINCT pattern_id FROM pattern_results")
            ]

    def _refuse_unknown_pattern(self, pattern_id: str) -> None:
        known = self.known_patterns()
        close = difflib.get_close_matches(pattern_id, known, n=3, cutoff=0.4)
        hint = f"; close matches: {', '.join(close)}" if close else ""
        if not known:
            hint = "; the history holds no runs yet"
        raise ReportError(f"pattern {pattern_id!r}: not in the run history {self.path}{hint}")

    def accept(
        self,
        pattern_id: str,
        *,
        reason: str,
        accepted_by: str,
        until: str | None = None,
        candidate: str = "",
        tenant: str = "",
        verdict: str = "",
        today: date | None = None,
    ) -> Acceptance:
        """Record that a pattern's findings are accepted. Refuses an empty reason, an until
        date that is not ISO or already past, and a pattern no recorded run has seen."""
        today = today or datetime.now(UTC).date()
        if not reason.strip():
            raise ReportError("accept: --reason must say why the finding is accepted")
        if until is not None:
            try:
                until_date = date.fromisoformat(until)
            except ValueError:
                raise ReportError(
                    f"accept: --until {until!r}: expected a date YYYY-MM-DD"
                ) from None
            if until_date < today:
                raise ReportError(f"accept: --until {until}: date is in the past")
        if pattern_id not in self.known_patterns():
            self._refuse_unknown_pattern(pattern_id)
        accepted_at = datetime.now(UTC).isoformat(timespec="seconds")
        with self._guard():
            cursor = self._db.execute(
                "INSERT INTO acceptances (pattern_id, candidate, tenant, verdict, reason, "
                "accepted_by, accepted_at, until) VALUES (?,?,?,?,?,?,?,?)",
                (pattern_id, candidate, tenant, verdict, reason, accepted_by, accepted_at, until),
            )
        return Acceptance(
            id=int(cursor.lastrowid or 0),
            pattern_id=pattern_id,
            reason=reason,
            accepted_by=accepted_by,
            accepted_at=accepted_at,
            until=until,
            candidate=candidate,
            tenant=tenant,
            verdict=verdict,
        )
