"""Ingest: read a query log of any supported format into the normalized log.

Rows that cannot be used are quarantined with the source line and the reason, never
dropped and never fatal; only a file that is unusable as a whole raises WorkloadError.
Memory stays flat in the log size except for the set of query-id hashes (8 bytes per
query) kept to quarantine duplicate ids.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xxhash
from sqlglot.dialects.dialect import Dialect

from simulator.config import NAME_RE, IngestSection, check_name
from simulator.errors import ConfigError, WorkloadError
from simulator.progress import progress
from simulator.workload.hashing import file_hash
from simulator.workload.normalized import (
    INGEST_FILE,
    LOG_FILE,
    QUARANTINE_FILE,
    LogWriter,
    QuarantineWriter,
)
from simulator.workload.readers import FORMATS, Record
from simulator.workload.readers.csv import read_csv
from simulator.workload.readers.jsonl import read_jsonl
from simulator.workload.readers.parquet import read_parquet
from simulator.workload.readers.trino_events import TRINO_MAPPING, trino_duration_ms
from simulator.workload.timestamps import parse_timestamp

LOGS_DIR = "logs"


@dataclass(frozen=True)
class IngestResult:
    """What ingest wrote and counted."""

    name: str
    path: Path
    kept: int
    quarantined: int
    quarantine_reasons: dict[str, int]
    source_hash: str
    format: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (also written as ``ingest.json``)."""
        data = dataclasses.asdict(self)
        data["path"] = str(self.path)
        return data


def log_dir(workloads_dir: Path, name: str) -> Path:
    """Folder of the normalized log ``name`` under the workloads folder."""
    try:
        check_name(name, "log name")
    except ConfigError as err:
        raise WorkloadError(str(err)) from None
    return Path(workloads_dir) / LOGS_DIR / name


def detect_format(path: Path) -> str:
    """Guess a log's format from its suffix, telling Trino events from plain JSON Lines by
    their first line. Raises WorkloadError for an unknown suffix."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix in (".jsonl", ".json", ".ndjson", ".log"):
        try:
            with path.open("rb") as handle:
                head = handle.readline(65536)
        except OSError as err:
            raise WorkloadError(f"{path}: cannot read log ({err.strerror})") from None
        return "trino" if b'"metadata"' in head and b'"queryId"' in head else "jsonl"
    raise WorkloadError(
        f"{path}: cannot tell the log format from suffix {suffix!r}; pass --format "
        f"({', '.join(FORMATS)})"
    )


def effective_mapping(fmt: str, mapping: IngestSection) -> dict[str, str]:
    """The source field for each normalized column: Trino's event keys for ``trino`` unless
    the config overrides a field, else the config's names."""
    configured = {f.name: getattr(mapping, f.name) for f in dataclasses.fields(IngestSection)}
    configured.pop("default_dialect")
    configured.pop("max_sql_bytes")
    if fmt != "trino":
        return configured
    defaults = IngestSection()
    return {
        key: value if value != getattr(defaults, key) else TRINO_MAPPING[key]
        for key, value in configured.items()
    }


def ingest_log(
    path: str | Path,
    workloads_dir: str | Path,
    name: str,
    fmt: str | None = None,
    mapping: IngestSection | None = None,
) -> IngestResult:
    """Normalize the log at ``path`` into ``<workloads_dir>/logs/<name>/`` and return counts.

    Raises WorkloadError if the file is missing, not a regular file (``/dev/null`` is an
    empty log), unusable as a whole, or yields no usable row (the message gives the
    quarantine counts; nothing is written), or the format or the default dialect is
    unknown; bad rows are quarantined, not raised.
    """
    path = Path(path)
    mapping = mapping or IngestSection()
    if not path.exists():
        raise WorkloadError(f"{path}: no such log file")
    if path.is_dir():
        raise WorkloadError(f"{path}: is a folder, not a log file")
    if not path.is_file():
        raise WorkloadError(f"{path}: log is empty (not a regular file: nothing to ingest)")
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise WorkloadError(f"{path}: unknown log format {fmt!r} (known: {', '.join(FORMATS)})")
    _check_dialect(mapping.default_dialect, "workload.ingest.default_dialect")
    fields = effective_mapping(fmt, mapping)
    out = log_dir(Path(workloads_dir), name)
    # A private staging folder renamed into place: readers never see a half-written log.
    staging = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.mkdir(parents=True)
        result = _normalize(path, fmt, fields, mapping, staging, name, out)
        if result.kept == 0:
            raise WorkloadError(_no_usable_row(path, result))
        shutil.rmtree(out, ignore_errors=True)
        staging.rename(out)
    except OSError as err:
        shutil.rmtree(staging, ignore_errors=True)
        where = err.filename or out
        raise WorkloadError(f"{where}: ingest failed ({err.strerror or err})") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return result


def _no_usable_row(path: Path, result: IngestResult) -> str:
    """The one-line refusal of a log that kept no row, with its quarantine counts."""
    if not result.quarantined:
        return f"{path}: log is empty (no rows)"
    reasons = ", ".join(f"{k} {v}" for k, v in result.quarantine_reasons.items())
    return f"{path}: no usable row (quarantined {result.quarantined}: {reasons})"


def _normalize(
    path: Path,
    fmt: str,
    fields: dict[str, str],
    mapping: IngestSection,
    staging: Path,
    name: str,
    out: Path,
) -> IngestResult:
    """Stream ``path`` into ``staging`` (log, quarantine, ingest.json); return the counts."""
    writer = LogWriter(staging / LOG_FILE)
    quarantine = QuarantineWriter(staging / QUARANTINE_FILE)
    converter = _RowConverter(path, fmt, fields, mapping)
    try:
        with progress(None, f"ingest {path.name}") as bar:
            for record in _records(path, fmt, fields, mapping.max_sql_bytes):
                row, reason = converter.convert(record)
                if row is None:
                    raw = record.raw or json.dumps(record.fields, default=str)
                    quarantine.write(record.line, reason, raw)
                else:
                    writer.write(row)
                bar.update(1)
    finally:
        writer.close()
        quarantine.close()
    result = IngestResult(
        name=name,
        path=out,
        kept=writer.rows,
        quarantined=quarantine.total,
        quarantine_reasons=dict(sorted(quarantine.counts.items())),
        source_hash=file_hash(path),
        format=fmt,
    )
    meta = result.to_dict() | {"source": str(path), "mapping": fields}
    (staging / INGEST_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    return result


def _records(path: Path, fmt: str, fields: dict[str, str], max_sql: int) -> Iterator[Record]:
    # A line holds the SQL plus the other fields: allow generous room beyond max_sql_bytes.
    max_line = max_sql * 2 + 65536
    if fmt in ("jsonl", "trino"):
        return read_jsonl(path, max_line)
    required = [fields["sql"], fields["tenant"], fields["submitted_at"]]
    if fmt == "csv":
        return read_csv(path, required, max_line)
    return read_parquet(path, required)


def _check_dialect(dialect: str, where: str) -> None:
    if not _known_dialect(dialect):
        raise WorkloadError(f"{where}: unsupported SQL dialect {dialect!r}")


def _known_dialect(dialect: str) -> bool:
    try:
        Dialect.get_or_raise(dialect)
    except ValueError:
        return False
    return True


def _lookup(fields: dict[str, Any], key: str) -> Any:
    """Value at ``key``, a top-level name or a dotted path into nested objects."""
    if not key:
        return None
    if key in fields:
        return fields[key]
    value: Any = fields
    for part in key.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


class _RowConverter:
    """Validates one decoded record into a normalized row, or says why it cannot be used."""

    def __init__(self, path: Path, fmt: str, fields: dict[str, str], mapping: IngestSection):
        self.stem = path.stem
        self.fmt = fmt
        self.fields = fields
        # Plain keys are looked up directly; dotted paths walk nested objects.
        self.sources = [(column, source, "." in source) for column, source in fields.items()]
        self.check_decoding = fmt in ("csv", "parquet")
        self.max_sql = mapping.max_sql_bytes
        self.default_dialect = mapping.default_dialect
        self.seen_ids: set[int] = set()
        self.dialects: dict[str, bool] = {}
        self.tenants: set[str] = set()

    def convert(self, record: Record) -> tuple[tuple[Any, ...] | None, str]:
        if record.fields is None:
            return None, record.error
        fields = record.fields
        values = {
            column: (_lookup(fields, source) if dotted else fields.get(source)) if source else None
            for column, source, dotted in self.sources
        }
        if self.check_decoding:
            undecodable = _first_undecodable(values)
            if undecodable:
                return None, f"undecodable: field {undecodable!r} is not valid UTF-8"
        sql = values["sql"]
        if not isinstance(sql, str) or not sql.strip():
            return None, f"no_sql: field {self.fields['sql']!r} is missing or empty"
        if len(sql) * 4 > self.max_sql:
            size = len(sql.encode("utf-8"))
            if size > self.max_sql:
                return None, f"sql_too_large: {size} bytes is over the {self.max_sql}-byte limit"
        tenant = values["tenant"]
        if tenant is None or tenant == "":
            return None, f"no_tenant: field {self.fields['tenant']!r} is missing or empty"
        tenant = str(tenant)
        if tenant not in self.tenants:
            if not NAME_RE.match(tenant) or ".." in tenant:
                return None, f"bad_tenant: {tenant[:40]!r} is not a valid tenant name"
            self.tenants.add(tenant)
        try:
            submitted_at = parse_timestamp(values["submitted_at"])
        except ValueError as err:
            return None, f"bad_timestamp: {err}"
        dialect = str(values["dialect"] or self.default_dialect).lower()
        known = self.dialects.get(dialect)
        if known is None:
            known = self.dialects[dialect] = _known_dialect(dialect)
        if not known:
            return None, f"unsupported_dialect: {dialect[:40]!r} is not a sqlglot dialect"
        query_id = values["query_id"]
        query_id = f"{self.stem}:{record.line}" if query_id in (None, "") else str(query_id)
        id_hash = xxhash.xxh3_64_intdigest(query_id.encode("utf-8"))
        if id_hash in self.seen_ids:
            return None, f"duplicate_query_id: {query_id[:80]!r} was already ingested"
        self.seen_ids.add(id_hash)
        row = (
            query_id,
            tenant,
            submitted_at,
            sql,
            dialect,
            self._duration(values["duration_ms"]),
            _optional_str(values["user"]),
            _optional_str(values["source"]),
            _optional_str(values["status"]),
            _optional_str(values["pipeline"]) or "",
        )
        return row, ""

    def _duration(self, value: Any) -> float | None:
        """Duration in ms, or None when absent or unreadable (it only weights sampling)."""
        if value is None or value == "":
            return None
        try:
            if self.fmt == "trino":
                return trino_duration_ms(value)
            number = float(value)
        except (TypeError, ValueError):
            return None
        return number if number >= 0 and number == number else None


def _optional_str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _first_undecodable(values: dict[str, Any]) -> str:
    for key, value in values.items():
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return key
    return ""
