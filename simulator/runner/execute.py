"""Run one statement on one engine worker and build its :class:`Execution` record.

Checksums are computed here, from the batches as they stream out of the worker
(``ChecksumAccumulator`` is the sink), never by the engine. A result whose comparison can
use its rows, and that has at most ``compare.keep_result_rows`` rows, is also kept as Arrow
IPC bytes (:func:`keeps_result`): float or decimal columns (tolerant confirmation), an
ORDER BY that may tie (tie groups), a LIMIT without a total order (tie groups, subset check).
For a write statement the row count of every written table is taken before, and its
post-state is checksummed per partition after: read back in full, or, given the table's
last verified state on this engine (``verified``), only the partitions whose engine digest
changed (``write_state``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from simulator.canonical import ChecksumAccumulator, ChecksumInputError, row_hashes
from simulator.compare.result_files import row_hash_file
from simulator.compare.tables import TableStateBuilder
from simulator.engines.worker import HARNESS_ERROR, EngineWorker, WorkerOutcome
from simulator.errors import EngineError
from simulator.results.execution import Execution, TableState
from simulator.runner.write_state import (
    VerifiedTable,
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


def keeps_result(schema: pa.Schema, statement: Statement | None = None) -> bool:
    """Whether a result of this schema (of ``statement``) is kept for the comparison: float
    or decimal columns, a LIMIT, or an ORDER BY whose keys leave room for ties."""
    if any(pa.types.is_floating(f.type) or pa.types.is_decimal(f.type) for f in schema):
        return True
    if statement is None:
        return False
    keys = {key.casefold() for key in statement.order_keys}
    total = statement.ordered and all(f.name.casefold() in keys for f in schema)
    # A total order fixes every row and its position: the checksums decide without rows.
    return not total and (statement.ordered or statement.limit is not None)


class _ResultSink:
    """Checksums batches as they stream and keeps them while the result stays small."""

    def __init__(self, keep_rows: int, statement: Statement | None = None) -> None:
        self.keep_rows = keep_rows
        self.statement = statement
        self.accumulator: ChecksumAccumulator | None = None
        self.kept: list[pa.RecordBatch] | None = None
        self.rows = 0
        self.error: ChecksumInputError | None = None

    def __call__(self, batch: pa.RecordBatch) -> None:
        if self.error is not None:
            return  # keep draining the stream so the worker stays in step
        try:
            if self.accumulator is None:
                self.accumulator = ChecksumAccumulator(batch.schema)
                self.kept = [] if keeps_result(batch.schema, self.statement) else None
            self.accumulator.update(batch)
        except ChecksumInputError as err:
            self.error = err
            return
        self.rows += batch.num_rows
        if self.kept is not None:
            if self.rows <= self.keep_rows:
                self.kept.append(batch)
            else:
                self.kept = None

    def finish(self, schema: pa.Schema | None) -> tuple[dict[str, Any] | None, bytes | None]:
        """The result's checksum and kept IPC bytes; ``schema`` (the result's Arrow schema as
        it crossed the protocol) types a result that streamed no batch."""
        if self.accumulator is None:
            if schema is None:
                return None, None
            self.accumulator = ChecksumAccumulator(schema)
            self.kept = [] if keeps_result(schema, self.statement) else None
        checksum = self.accumulator.finish().to_dict()
        if self.kept is None:
            return checksum, None
        sink = pa.BufferOutputStream()
        schema_arrow = self.kept[0].schema if self.kept else None
        if schema_arrow is None:
            return checksum, None
        with pa.ipc.new_file(sink, schema_arrow) as writer:
            for batch in self.kept:
                writer.write_batch(batch)
        return checksum, sink.getvalue().to_pybytes()


class _HashSink:
    """Keeps only the canonical row hash of each row (8 bytes a row), up to ``cap`` rows,
    over the columns that compare exactly (float columns compare within tolerance)."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.rows = 0
        self.columns: list[int] | None = None
        self.hashes: list[pa.Array] | None = []

    def __call__(self, batch: pa.RecordBatch) -> None:
        if self.columns is None:
            self.columns = [
                i for i, f in enumerate(batch.schema) if not pa.types.is_floating(f.type)
            ]
        self.rows += batch.num_rows
        if self.hashes is None or not self.columns:
            return
        if self.rows > self.cap:
            self.hashes = None  # past the cap: "too large", never a partial set
            return
        self.hashes.append(pa.array(row_hashes(batch.select(self.columns)), pa.uint64()))

    def finish(self) -> bytes | None:
        if self.hashes is None or not self.columns:
            return None
        return row_hash_file(self.hashes, self.columns)


class _StateSink:
    """Feeds a written table's rows to its TableStateBuilder; on a checksum error it keeps
    draining the stream (so the worker stays in step) and remembers the error."""

    def __init__(self, builder: TableStateBuilder) -> None:
        self.builder = builder
        self.error: ChecksumInputError | None = None

    def __call__(self, batch: pa.RecordBatch) -> None:
        if self.error is None:
            try:
                self.builder.update(batch)
            except ChecksumInputError as err:
                self.error = err


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
        hash_sink = _HashSink(row_hash_cap)
        _apply(record, worker.execute(statement.sql, timeout_s, hash_sink))
        record.finished_at = time.time()
        return record, hash_sink.finish() if record.status == "ok" else None
    sink: Callable[[pa.RecordBatch], Any]
    result_sink = _ResultSink(keep_result_rows, statement) if checksum else None
    sink = result_sink if result_sink is not None else _count_rows
    outcome = worker.execute(statement.sql, timeout_s, sink)
    _apply(record, outcome)
    kept: bytes | None = None
    if outcome.status == "ok" and result_sink is not None:
        try:
            record.result, kept = result_sink.finish(outcome.arrow_schema)
        except ChecksumInputError as err:
            result_sink.error = err
        if result_sink.error is not None:
            # A result qsim cannot checksum must not pass as "no result", nor as the engine's
            # error: it is a failure of the harness (verdict harness_error).
            record.result, kept = None, None
            record.status = HARNESS_ERROR
            record.error_class = "HarnessChecksumError"
            record.error_message = f"qsim cannot checksum this result: {result_sink.error}"
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


def _count_rows(batch: pa.RecordBatch) -> None:
    del batch  # performance runs only time the engine; the worker already counts rows


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
        sink = _StateSink(TableStateBuilder(table, columns, rows_before=rows_before.get(table)))
        outcome = worker.read_table(table, sink, timeout_s=read_timeout)
        if outcome.status != "ok":
            raise EngineError(
                f"reading back {table} failed: {outcome.error_class}: {outcome.error_message}"
            )
        if sink.error is None:  # a post-state qsim cannot checksum is left out: "not captured"
            states[table] = sink.builder.finish()
            if verified is not None:
                full = verified_after_full_read(worker, states[table], read_timeout)
                if full is not None:
                    verified[table] = full
    return states
