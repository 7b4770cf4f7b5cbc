"""Run one statement on one engine worker and build its :class:`Execution` record.

Checksums are qsim's canonical ones (never the engine's hash functions). A large result
(past ``WORKER_HASH_ROWS`` rows or ``WORKER_HASH_BYTES``) is checksummed inside the worker
process next to the engine (:func:`result_request`) and never sent; a smaller one crosses
and ``EngineWorker`` checksums it with the same code. A result whose comparison can use its
rows, and that has at most ``compare.keep_result_rows`` rows, also comes back and is kept
as Arrow IPC bytes (``ResultRequest.keeps``): float or decimal columns (tolerant
confirmation), an ORDER BY that may tie (tie groups), a LIMIT without a total order (tie
groups, subset check). The baseline's unlimited run of such a LIMIT brings back only its
rows' canonical hashes. For a write statement the row count of every written table is
taken before, and its post-state is checksummed per partition after (in the worker when
large): the whole table, or, given the table's last verified state on this engine
(``verified``), only the partitions whose engine digest changed (``write_state``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from simulator.compare.result_files import row_hash_file
from simulator.engines.outcome import HARNESS_ERROR, WorkerOutcome
from simulator.engines.protocol import ResultRequest
from simulator.engines.worker import EngineWorker
from simulator.errors import EngineError
from simulator.results.execution import Execution, TableState
from simulator.runner.write_state import (
    VerifiedTable,
    state_from_reply,
    verified_after_change,
    verified_after_full_read,
)

AUTO_PARTITION = ("day",)
DML_KINDS = ("insert", "update", "delete", "merge")


@dataclass(frozen=True)
class Statement:
    """One statement of a tenant's lane as an engine receives it.

    ``sql`` is the text transpiled for the engine (None when it could not be, with
    ``skip_reason``). ``partition_columns`` names, for each table the statement writes,
    the columns its post-state is checksummed by. ``ordered``, ``order_keys`` and ``limit``
    are the query's top-level ORDER BY and LIMIT: they decide whether its rows are kept.
    ``unlimited_sql`` (baseline only) is the SELECT without its top-level LIMIT.
    ``only_adds_or_removes_rows``: a plain INSERT or a DELETE (write verification may then
    find the changed partitions by row identity).
    """

    index: int
    query_id: str
    kind: str
    sql: str | None
    skip_reason: str = ""
    tables_written: tuple[str, ...] = ()
    partition_columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    order_keys: tuple[str, ...] = ()
    ordered: bool = False
    limit: int | None = None
    unlimited_sql: str | None = None
    only_adds_or_removes_rows: bool = False

    @property
    def is_write(self) -> bool:
        """Whether the statement changes tables (DML, CTAS, or DDL such as DROP TABLE)."""
        return self.kind != "select" and bool(self.tables_written)


def result_request(
    statement: Statement, keep_result_rows: int, checksum: bool = True
) -> ResultRequest:
    """What the worker computes for ``statement``'s result: its checksum, and its rows back
    when the comparison can use them (see ``ResultRequest.keeps``) and there are at most
    ``keep_result_rows``; with ``checksum=False`` nothing but counts."""
    if not checksum:
        return ResultRequest()
    return ResultRequest(
        checksum=True,
        keep_rows=keep_result_rows,
        order_keys=statement.order_keys,
        ordered=statement.ordered,
        limited=statement.limit is not None,
    )


def _ipc_bytes(batches: list[pa.RecordBatch]) -> bytes | None:
    """Kept batches as Arrow IPC file bytes; None when no batch was kept."""
    if not batches:
        return None
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, batches[0].schema) as writer:
        for batch in batches:
            writer.write_batch(batch)
    return sink.getvalue().to_pybytes()


def _row_hash_bytes(outcome: WorkerOutcome) -> bytes | None:
    """The row-hash file of an unlimited run (None when the worker kept no hashes: too
    many rows, or no column that compares exactly)."""
    columns = outcome.checksums.get("row_hash_columns")
    if outcome.status != "ok" or columns is None:
        return None
    hashes = np.frombuffer(outcome.row_hashes, dtype="<u8")
    return row_hash_file([pa.array(hashes, pa.uint64())], [int(c) for c in columns])


def _crash(err: Exception) -> WorkerOutcome:
    return WorkerOutcome(status="crash", error_class="WorkerCrash", error_message=str(err))


def execute_statement(
    worker: EngineWorker,
    statement: Statement,
    *,
    run_id: str,
    engine: str,
    tenant: str,
    phase: str = "load",
    repetition: int = 0,
    timeout_s: float = 60.0,
    keep_result_rows: int = 0,
    in_flight: int = 1,
    node: str = "",
    checksum: bool = True,
    row_hash_cap: int | None = None,
    verified: dict[str, VerifiedTable] | None = None,
) -> tuple[Execution, bytes | None]:
    """Execute ``statement`` on ``worker`` and return its record and kept result bytes.

    Never raises for engine errors, timeouts or crashes: they are the record's status.
    With ``checksum=False`` (performance repetitions) rows are only counted. With
    ``row_hash_cap`` (the unlimited phase) only the rows' canonical hashes are kept, as a
    row-hash file, when there are at most that many rows. ``verified`` (the lane's last
    verified post-states, updated here) lets a DML read back only what it changed; without
    it every written table is read back in full.
    """
    record = Execution(
        execution_id=Execution.make_id(phase, engine, tenant, statement.query_id, repetition),
        run_id=run_id,
        engine=engine,
        tenant=tenant,
        query_id=statement.query_id,
        phase=phase,
        repetition=repetition,
        engine_version=worker.version,
        in_flight_at_start=in_flight,
        node=node,
    )
    if statement.sql is None:
        record.status = "skipped"
        record.error_message = statement.skip_reason
        return record, None
    writes = statement.tables_written if statement.is_write and checksum else ()
    rows_before: dict[str, int | None] = {}
    existing: set[str] = set()
    record.started_at = time.time()
    try:
        if writes:
            existing = {name.lower() for name in worker.list_tables()}
            for table in writes:
                rows_before[table] = (
                    worker.table_row_count(table) if table.lower() in existing else None
                )
    except EngineError as err:
        _apply(record, _crash(err))
        record.finished_at = time.time()
        return record, None
    if row_hash_cap is not None:
        request = ResultRequest(row_hash_cap=row_hash_cap)
        outcome = worker.execute(statement.sql, timeout_s, None, request)
        _apply(record, outcome)
        record.finished_at = time.time()
        return record, _row_hash_bytes(outcome)
    kept_batches: list[pa.RecordBatch] = []
    request = result_request(statement, keep_result_rows, checksum)
    outcome = worker.execute(statement.sql, timeout_s, kept_batches.append, request)
    _apply(record, outcome)
    kept: bytes | None = None
    if outcome.status == "ok" and checksum:
        error = outcome.checksums.get("checksum_error")
        if error is not None:
            # A result qsim cannot checksum must not pass as "no result", nor as the engine's
            # error: it is a failure of the harness (verdict harness_error).
            record.status = HARNESS_ERROR
            record.error_class = "HarnessChecksumError"
            record.error_message = f"qsim cannot checksum this result: {error}"
        else:
            record.result = outcome.checksums.get("checksum")
            kept = _ipc_bytes(kept_batches)
    if outcome.status == "ok" and writes:
        try:
            # DML cannot create or drop tables: the table list taken before still holds.
            after = existing if statement.kind in DML_KINDS else None
            record.writes = _post_state(
                worker, writes, statement, rows_before, timeout_s, after, verified
            )
        except EngineError as err:
            _apply(record, _crash(err))
    record.finished_at = time.time()
    return record, kept


def _apply(record: Execution, outcome: WorkerOutcome) -> None:
    record.status = outcome.status
    record.error_class = outcome.error_class
    record.error_message = outcome.error_message
    record.wall_ms = outcome.wall_ms
    record.rows_returned = outcome.rows_returned
    record.rows_affected = outcome.rows_affected
    record.result_schema = [list(pair) for pair in outcome.schema]
    record.signal = outcome.signal
    record.fault = getattr(outcome, "fault", "") or ""
    record.engine_notes = dict(outcome.notes)
    record.cpu_ms = outcome.cpu_ms
    record.peak_rss_mb = outcome.peak_rss_mb
    record.rss_source = outcome.rss_source


def _post_state(
    worker: EngineWorker,
    writes: tuple[str, ...],
    statement: Statement,
    rows_before: dict[str, int | None],
    timeout_s: float,
    existing: set[str] | None = None,
    verified: dict[str, VerifiedTable] | None = None,
) -> dict[str, TableState]:
    """Checksum every written table per partition (``existing``: the lower-cased table
    names, when already known); see ``execute_statement`` for ``verified``."""
    if existing is None:
        existing = {name.lower() for name in worker.list_tables()}
    states: dict[str, TableState] = {}
    read_timeout = max(timeout_s, 60.0)
    for table in writes:
        # A new table nobody configured is split by ``day`` when it has one (the builder
        # falls back to a whole-table state when it does not).
        columns = list(statement.partition_columns.get(table, AUTO_PARTITION))
        previous = verified.pop(table, None) if verified is not None else None
        if table.lower() not in existing:
            states[table] = TableState(
                table=table,
                row_count=0,
                checksum="",
                partition_columns=columns,
                rows_before=rows_before.get(table),
                exists=False,
            )
            continue
        if previous is not None and statement.kind in DML_KINDS:
            # DML keeps the table and its columns: the last verified state still applies.
            changed = verified_after_change(
                worker,
                previous,
                rows_before.get(table),
                read_timeout,
                only_adds_or_removes_rows=statement.only_adds_or_removes_rows,
            )
            if changed is not None and verified is not None:
                verified[table] = changed
                states[table] = changed.state
                continue
        outcome = worker.table_state(table, columns, timeout_s=read_timeout)
        if outcome.status != "ok":
            raise EngineError(
                f"reading back {table} failed: {outcome.error_class}: {outcome.error_message}"
            )
        state = state_from_reply(table, outcome, rows_before.get(table))
        if state is not None:  # a post-state qsim cannot checksum is left out: "not captured"
            states[table] = state
            if verified is not None:
                full = verified_after_full_read(worker, states[table], read_timeout)
                if full is not None:
                    verified[table] = full
    return states
