"""Sampled workloads on disk: ``<workloads>/<name>/queries.parquet`` + ``manifest.json``.

The workload id is the xxh3-128 of the queries file's content, so the same sample gives the
same id. Rows are stored in replay order: by tenant, then ``seq`` (log order in the tenant).
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from simulator.config import check_name
from simulator.errors import ConfigError, WorkloadError
from simulator.workload.hashing import file_hash

QUERIES_FILE = "queries.parquet"
MANIFEST_FILE = "manifest.json"
FORMAT_VERSION = 1
RESERVED_NAMES = frozenset({"logs", "examples"})

_LIST = pa.list_(pa.string())
QUERY_SCHEMA = pa.schema(
    [
        ("query_id", pa.string()),
        ("tenant", pa.string()),
        ("seq", pa.int64()),
        ("submitted_at", pa.float64()),
        ("sql", pa.large_string()),
        ("dialect", pa.string()),
        ("kind", pa.string()),
        ("pattern_id", pa.string()),
        ("tables_read", _LIST),
        ("tables_written", _LIST),
        ("order_by", pa.bool_()),
        ("order_keys", _LIST),
        ("limit", pa.int64()),
        ("nondeterministic", _LIST),
        ("nondeterministic_columns", pa.list_(pa.int64())),
        ("estimate_columns", pa.list_(pa.int64())),
        ("row_set_fixed", pa.bool_()),
        ("row_set_estimate_only", pa.bool_()),
        ("row_count_fixed", pa.bool_()),
        ("derived_names", pa.list_(pa.bool_())),
        ("parse_error", pa.string()),
        ("weight", pa.float64()),
        ("pipeline", pa.string()),
        ("duration_ms", pa.float64()),
    ]
)
# Columns added after format 1 was first written, with the value a workload written
# before them loads with: unknown, which judges as conservatively as before they existed.
OPTIONAL_COLUMNS: dict[str, Any] = {
    "nondeterministic_columns": None,
    "estimate_columns": [],
    "row_set_fixed": False,
    "row_set_estimate_only": False,
    "row_count_fixed": False,
    "derived_names": [],
}


@dataclass
class WorkloadQuery:
    """One sampled query as the runner replays it (see the team contract for each field)."""

    query_id: str
    tenant: str
    seq: int
    submitted_at: float
    sql: str
    dialect: str
    kind: str
    pattern_id: str
    tables_read: list[str] = field(default_factory=list)
    tables_written: list[str] = field(default_factory=list)
    order_by: bool = False
    order_keys: list[str] = field(default_factory=list)
    limit: int | None = None
    nondeterministic: list[str] = field(default_factory=list)
    nondeterministic_columns: list[int] | None = None
    estimate_columns: list[int] = field(default_factory=list)
    row_set_fixed: bool = False
    row_set_estimate_only: bool = False
    row_count_fixed: bool = False
    derived_names: list[bool] = field(default_factory=list)
    parse_error: str = ""
    weight: float = 1.0
    pipeline: str = ""
    duration_ms: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form (lists stay lists)."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Workload:
    """A sampled workload loaded from disk."""

    id: str
    name: str
    path: Path
    manifest: dict[str, Any]
    queries: list[WorkloadQuery]


def workload_dir(workloads_dir: str | Path, name: str) -> Path:
    """Folder of workload ``name``; refuses unsafe or reserved names."""
    try:
        check_name(name, "workload name")
    except ConfigError as err:
        raise WorkloadError(str(err)) from None
    if name in RESERVED_NAMES:
        raise WorkloadError(f"workload name {name!r} is reserved (used for {name}/)")
    return Path(workloads_dir) / name


def save_workload(
    workloads_dir: str | Path, name: str, queries: list[WorkloadQuery], manifest: dict[str, Any]
) -> Workload:
    """Write queries and manifest atomically (temp folder + rename) and return the Workload.

    The manifest gains ``format_version``, ``id``, ``name`` and ``queries``."""
    out = workload_dir(workloads_dir, name)
    staging = out.with_name(f".{name}.tmp-{os.getpid()}")
    staging.mkdir(parents=True, exist_ok=True)
    columns = {f: [getattr(q, f) for q in queries] for f in QUERY_SCHEMA.names}
    table = pa.table(columns, schema=QUERY_SCHEMA)
    pq.write_table(table, staging / QUERIES_FILE, compression="zstd")
    workload_id = file_hash(staging / QUERIES_FILE)[:16]
    manifest = {
        "format_version": FORMAT_VERSION,
        "id": workload_id,
        "name": name,
        "queries": len(queries),
        **manifest,
    }
    (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n")
    if out.exists():
        retired = out.with_name(f".{name}.old-{os.getpid()}")
        out.rename(retired)
        staging.rename(out)
        for child in retired.iterdir():
            child.unlink()
        retired.rmdir()
    else:
        staging.rename(out)
    return Workload(workload_id, name, out, manifest, queries)


def _copies(defaults: dict[str, Any]) -> dict[str, Any]:
    """Fresh copies of mutable default values (one list per query)."""
    return {k: list(v) if isinstance(v, list) else v for k, v in defaults.items()}


def load_workload(workloads_dir: str | Path, name: str) -> Workload:
    """Load workload ``name`` from ``workloads_dir``. Raises WorkloadError if it is missing,
    unreadable, or its queries file lacks a contract column."""
    folder = workload_dir(workloads_dir, name)
    manifest_path = folder / MANIFEST_FILE
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise WorkloadError(
            f"{folder}: no workload named {name!r} (run 'qsim workload sample')"
        ) from None
    except (OSError, ValueError) as err:
        raise WorkloadError(f"{manifest_path}: unreadable manifest ({err})") from None
    try:
        table = pq.read_table(folder / QUERIES_FILE)
    except (OSError, pa.ArrowException) as err:
        raise WorkloadError(f"{folder / QUERIES_FILE}: unreadable ({err})") from None
    missing = [
        c for c in QUERY_SCHEMA.names if c not in table.column_names and c not in OPTIONAL_COLUMNS
    ]
    if missing:
        raise WorkloadError(f"{folder / QUERIES_FILE}: missing column {missing[0]!r}")
    present = [c for c in QUERY_SCHEMA.names if c in table.column_names]
    absent = {c: v for c, v in OPTIONAL_COLUMNS.items() if c not in table.column_names}
    rows = table.select(present).to_pylist()
    queries = [WorkloadQuery(**row, **_copies(absent)) for row in rows]
    return Workload(str(manifest.get("id", "")), name, folder, manifest, queries)
