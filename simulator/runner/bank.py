"""The baseline bank: baseline executions kept across runs and reused instead of re-running.

The nightly case: the baseline engine does not change, the candidate does. A baseline
execution is reusable only in exactly the same situation, so the key hashes together the
baseline's runtime spec hash, its settings, the generation id, the tenant, the statement
text as sent to the engine, and the text of every write statement that ran before it in the
tenant's log order (the workspace state it ran against). Kept result files travel with the
entry so a later run can compare floats tolerantly.

A deterministic sample of hits (``run.bank_refresh``, different for each run id) is executed
anyway and compared with the bank, so a drifting baseline is noticed; the fresh execution
replaces the entry. The bank is one SQLite file (stdlib, safe for concurrent runs).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.canonical import CANONICAL_VERSION
from simulator.errors import RunError

SCHEMA = """
CREATE TABLE IF NOT EXISTS bank (
    key TEXT PRIMARY KEY,
    executions TEXT NOT NULL,
    result BLOB,
    run_id TEXT NOT NULL,
    stored_at REAL NOT NULL
)
"""


def bank_key(
    runtime_spec_hash: str,
    settings: dict[str, Any],
    generation_id: str,
    tenant: str,
    sql: str,
    history: str,
) -> str:
    """The bank key of one baseline statement (``history`` from :func:`write_history`).

    The canonical hashing version is part of the key: banked checksums computed by an older
    hashing scheme must never be compared with fresh ones."""
    payload = json.dumps(
        [CANONICAL_VERSION, runtime_spec_hash, settings, generation_id, tenant, sql, history],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def write_history(previous_writes: list[str]) -> str:
    """A digest of the write statements a tenant ran before this one, in order."""
    digest = hashlib.sha256()
    for sql in previous_writes:
        digest.update(hashlib.sha256(sql.encode()).digest())
    return digest.hexdigest()


def chosen_for_refresh(key: str, run_id: str, fraction: float) -> bool:
    """Whether this run re-executes a bank hit to check for drift (deterministic per run)."""
    if fraction <= 0:
        return False
    if fraction >= 1:
        return True
    value = int(hashlib.sha256(f"{run_id}|{key}".encode()).hexdigest()[:12], 16)
    return value / float(1 << 48) < fraction


def fingerprint(executions: list[dict[str, Any]]) -> str:
    """What must not drift between banked and fresh baselines: status, rows, checksums."""
    first = executions[0] if executions else {}
    result = first.get("result") or {}
    writes = {
        name: (state.get("row_count"), state.get("checksum"))
        for name, state in sorted((first.get("writes") or {}).items())
    }
    return json.dumps(
        [
            first.get("status"),
            first.get("error_class"),
            result.get("row_count"),
            result.get("multiset"),
            writes,
        ],
        sort_keys=True,
        default=str,
    )


@dataclass(frozen=True)
class BankEntry:
    """One banked baseline statement: its executions (load + repeats) and kept result."""

    executions: list[dict[str, Any]]
    result: bytes | None
    run_id: str


class BaselineBank:
    """A SQLite file of banked baseline executions keyed by :func:`bank_key`."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=30)
            self._db.execute(SCHEMA)
            self._db.commit()
        except sqlite3.DatabaseError as err:
            raise RunError(f"{self.path}: baseline bank unusable ({err})") from None
        except OSError as err:
            raise RunError(f"{self.path}: cannot create baseline bank ({err.strerror})") from None

    def get_many(self, keys: list[str]) -> dict[str, BankEntry]:
        """The entries present for ``keys``."""
        found: dict[str, BankEntry] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT key, executions, result, run_id FROM bank WHERE key IN ({marks})", chunk
            )
            for key, executions, result, run_id in rows:
                found[key] = BankEntry(json.loads(executions), result, run_id)
        return found

    def put(
        self, key: str, executions: list[dict[str, Any]], result: bytes | None, run_id: str
    ) -> None:
        """Store (or replace) the banked executions of one baseline statement."""
        try:
            self._db.execute(
                "INSERT OR REPLACE INTO bank VALUES (?, ?, ?, ?, ?)",
                (key, json.dumps(executions, default=str), result, run_id, time.time()),
            )
            self._db.commit()
        except sqlite3.OperationalError as err:
            raise RunError(f"{self.path}: cannot store baseline ({err})") from None

    def __len__(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM bank").fetchone()[0])

    def close(self) -> None:
        """Close the database (safe to call twice)."""
        self._db.close()
