"""What one request to an engine worker produced (:class:`WorkerOutcome`), and how a
worker's JSON reply becomes one (:func:`outcome_from_reply`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

# The status of a failure of qsim itself, never of the engine.
HARNESS_ERROR = "harness_error"

Sink = Callable[[pa.RecordBatch], Any]


@dataclass
class WorkerOutcome:
    """What one request to a worker produced.

    ``status`` is ok | error | timeout | crash | harness_error. ``harness_error`` is a
    failure of qsim itself (a result the worker could not encode or the parent could not
    decode: ``error_class`` names the stage, the message the Arrow type), never the
    engine's; the worker stays in step and is kept. ``wall_ms`` is measured in the worker around
    the engine call and the production of its batches (for a timeout: the time waited).
    ``schema`` is ``[[name, arrow type], ...]`` of a result (empty for a command), for
    display; ``arrow_schema`` is the result's real Arrow schema as it crossed the protocol
    (also for a result without rows; None for a command).
    ``signal`` is the signal that killed a crashed worker. ``fault`` says what a fault
    injector did to this execution (empty when nothing). ``notes`` are what the adapter
    reported beside the result (``StatementResult.notes``). ``cpu_ms`` is the worker's CPU
    time (user + system, all threads) over the same spans as ``wall_ms``; ``peak_rss_mb`` its
    RSS high-water mark over the request, read from ``rss_source`` (``vmhwm``: reset before
    the statement; ``ru_maxrss``: the process's lifetime peak); None and "" when not measured.
    ``checksums`` holds what the worker computed for a ``ResultRequest`` or a
    ``table_state`` request (reply fields ``checksum``, ``checksum_error``,
    ``row_hash_columns``, ``partition_columns``, ``partitions``, ``rows_read``);
    ``row_hashes`` the little-endian uint64 row hashes it sent.
    """

    status: str
    error_class: str = ""
    error_message: str = ""
    wall_ms: float = 0.0
    rows_returned: int | None = None
    rows_affected: int | None = None
    schema: list[list[str]] = field(default_factory=list)
    signal: int | None = None
    fault: str = ""
    arrow_schema: pa.Schema | None = None
    notes: dict[str, Any] = field(default_factory=dict)
    cpu_ms: float | None = None
    peak_rss_mb: float | None = None
    rss_source: str = ""
    checksums: dict[str, Any] = field(default_factory=dict)
    row_hashes: bytes = b""


_CHECKSUM_FIELDS = (
    "checksum",
    "checksum_error",
    "row_hash_columns",
    "partition_columns",
    "partitions",
    "rows_read",
    "parent_hashes",
)


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def outcome_from_reply(
    reply: dict[str, Any], schema: pa.Schema | None, row_hashes: bytes, undecodable: str
) -> WorkerOutcome:
    """The outcome of a streamed request from the worker's final reply, the result's Arrow
    ``schema`` as it crossed, the row-hash frames and, when qsim could not decode the
    result's Arrow, why (``undecodable``: the outcome is then a harness error)."""
    outcome = WorkerOutcome(
        status=str(reply.get("status", "error")),
        error_class=str(reply.get("error_class", "")),
        error_message=str(reply.get("error_message", "")),
        wall_ms=float(reply.get("wall_ms") or 0.0),
        rows_returned=reply.get("rows_returned"),
        rows_affected=reply.get("rows_affected"),
        schema=[list(pair) for pair in reply.get("schema", [])],
        arrow_schema=schema,
        notes=dict(reply.get("notes") or {}),
        cpu_ms=_optional_float(reply.get("cpu_ms")),
        peak_rss_mb=_optional_float(reply.get("peak_rss_mb")),
        rss_source=str(reply.get("rss_source") or ""),
        checksums={key: reply[key] for key in _CHECKSUM_FIELDS if key in reply},
        row_hashes=row_hashes,
    )
    if undecodable and outcome.status in ("ok", HARNESS_ERROR):
        types = ", ".join(f"{name} {type_}" for name, type_ in outcome.schema)
        outcome.status = HARNESS_ERROR
        outcome.error_class = "HarnessDecodeError"
        outcome.error_message = (
            f"qsim cannot decode this result ({types or 'schema not sent'}): {undecodable}"
        )
        outcome.arrow_schema = None
    return outcome
