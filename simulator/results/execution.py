"""The execution record: one statement run once on one engine, as the runner stores it.

Records are plain data, written as one JSON object per line in ``executions.jsonl`` of a
run folder, and read back by the comparison and report stages. ``status`` and ``phase`` are
:class:`Status` and :class:`Phase` members (string enums, so they compare equal to and
serialise as their plain values); a record with any other value is refused.

``result`` stays the JSON form of the result checksum (``ResultChecksum.to_dict()``): the
checksum type belongs to the canonical hashing layer, which this bottom package does not
import.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """How one execution ended."""

    OK = "ok"
    ERROR = "error"
    TIMEOUT = "timeout"
    CRASH = "crash"
    SKIPPED = "skipped"
    HARNESS_ERROR = "harness_error"  # qsim could not decode or checksum what the engine sent


class Phase(StrEnum):
    """Which part of the run an execution belongs to."""

    LOAD = "load"  # the replay under the load model
    REPEAT = "repeat"  # the baseline's determinism repeats of a SELECT
    PERF = "perf"  # the isolated performance rounds
    REPLAY = "replay"  # the quiet confirmation replay
    UNLIMITED = "unlimited"  # the baseline's LIMIT query without its LIMIT (row hashes kept)


@dataclass
class PartitionState:
    """Row count and canonical checksum of one partition of a written table."""

    row_count: int
    checksum: str


@dataclass
class TableState:
    """Post-state of a table after a write, as qsim computed it from the engine's rows.

    ``partitions`` maps a partition key (``"day=2024-01-01"``, or ``""`` for an
    unpartitioned table) to its state. ``rows_before`` is the row count before the statement
    (None when the table did not exist), so the reported affected count can be checked
    against what actually landed.
    """

    table: str
    row_count: int
    checksum: str
    partition_columns: list[str] = field(default_factory=list)
    partitions: dict[str, PartitionState] = field(default_factory=dict)
    rows_before: int | None = None
    exists: bool = True


@dataclass
class Execution:
    """One statement executed once on one engine.

    ``execution_id`` is deterministic from (phase, engine, tenant, query_id, repetition) so a
    resumed run never records the same execution twice. ``engine_notes`` are what the
    engine's adapter reported beside the result (empty when nothing). ``cpu_ms`` (CPU time
    of the engine's worker process, all threads), ``peak_rss_mb`` (its RSS high-water mark
    over the statement) and ``rss_source`` (``vmhwm``: reset before the
    statement, or ``ru_maxrss``: the worker's lifetime peak) are what the worker measured; None and "" in records written before
    they were measured or for an execution the worker never answered.
    """

    execution_id: str
    run_id: str
    engine: str
    tenant: str
    query_id: str
    phase: Phase
    repetition: int = 0
    status: Status = Status.OK
    error_class: str = ""
    error_message: str = ""
    wall_ms: float = 0.0
    started_at: float = 0.0
    finished_at: float = 0.0
    rows_returned: int | None = None
    rows_affected: int | None = None
    result_schema: list[list[str]] = field(default_factory=list)
    result: dict[str, Any] | None = None
    writes: dict[str, TableState] = field(default_factory=dict)
    engine_version: str = ""
    in_flight_at_start: int = 0
    retried: bool = False
    from_bank: bool = False
    fault: str = ""
    result_path: str = ""
    signal: int | None = None
    node: str = ""
    engine_notes: dict[str, Any] = field(default_factory=dict)
    cpu_ms: float | None = None
    peak_rss_mb: float | None = None
    rss_source: str = ""

    def __post_init__(self) -> None:
        # Refuses (ValueError) a status or phase outside the enums, as read from disk too.
        self.status = Status(self.status)
        self.phase = Phase(self.phase)

    @staticmethod
    def make_id(phase: str, engine: str, tenant: str, query_id: str, repetition: int = 0) -> str:
        """The deterministic id of an execution."""
        return f"{Phase(phase)}:{engine}:{tenant}:{query_id}:{repetition}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Execution:
        """Rebuild from ``to_dict`` output; unknown keys are refused by the constructor."""
        data = dict(data)
        writes = {
            name: TableState(
                **{
                    **state,
                    "partitions": {
                        key: PartitionState(**part)
                        for key, part in state.get("partitions", {}).items()
                    },
                }
            )
            for name, state in data.pop("writes", {}).items()
        }
        return cls(writes=writes, **data)
