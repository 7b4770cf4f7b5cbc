"""Canonical checksums of one result or one table read-back, wherever they are computed.

The worker (:mod:`simulator.engines.worker_main`) imports this module on the first result
that passes its hashing threshold (``WORKER_HASH_ROWS`` / ``WORKER_HASH_BYTES``), so a
worker that only sees small results never loads numba; a smaller result crosses as rows and
the parent (:class:`simulator.engines.worker.EngineWorker`) runs the same digest over them.
Either way the batches are those that cross the protocol (their ``wire_type``), so a
checksum is the same wherever it is computed.
A consumer takes one result's batches and returns the reply fields and the frames that
must still cross (kept rows, row hashes); nothing else of the result leaves the worker.
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Iterable

import pyarrow as pa

from simulator.canonical import (
    ChecksumAccumulator,
    ChecksumInputError,
    PartitionAccumulator,
    row_hashes,
)
from simulator.engines.contract import TableSpec
from simulator.engines.protocol import KIND_BATCH, KIND_HASHES, ResultRequest
from simulator.engines.table_files import read_batches

Frame = tuple[int, bytes | pa.Buffer]

# One value of each common result type: hashing it loads (or compiles) their kernels.
_RESULT_TYPES_SAMPLE = pa.RecordBatch.from_pydict(
    {
        "i": pa.array([1], pa.int64()),
        "i32": pa.array([1], pa.int32()),
        "f": pa.array([1.5], pa.float64()),
        "s": pa.array(["a"], pa.string()),
        "d": pa.array([decimal.Decimal("1.25")], pa.decimal128(18, 2)),
        "day": pa.array([datetime.date(2024, 3, 1)], pa.date32()),
        "ts": pa.array([datetime.datetime(2024, 3, 1)], pa.timestamp("us")),
        "tz": pa.array([datetime.datetime(2024, 3, 1)], pa.timestamp("us", tz="UTC")),
        "b": pa.array([True], pa.bool_()),
        "l": pa.array([[1]], pa.list_(pa.int64())),
    }
)


class ResultDigest:
    """One result's checksum, kept rows and row hashes, as ``request`` asks (see
    :class:`ResultRequest`). A result qsim cannot checksum stops all three and is reported
    as ``checksum_error``; the caller keeps draining the engine."""

    def __init__(self, request: ResultRequest, schema: pa.Schema) -> None:
        self.request = request
        self.schema = schema
        self.rows = 0
        self.error = ""
        self.accumulator: ChecksumAccumulator | None = None
        keep = request.checksum and request.keeps(schema)
        self.kept: list[pa.RecordBatch] | None = [] if keep else None
        cap = request.row_hash_cap
        exact = [i for i, f in enumerate(schema) if not pa.types.is_floating(f.type)]
        self.hash_columns = exact if cap is not None and exact else None
        self.hashes: list[bytes] = []
        if request.checksum:
            try:
                self.accumulator = ChecksumAccumulator(schema)
            except ChecksumInputError as err:
                self._fail(err)

    def _fail(self, err: ChecksumInputError) -> None:
        self.error = str(err)
        self.accumulator = None
        self.kept = None
        self.hash_columns = None

    def add(self, batch: pa.RecordBatch) -> None:
        """Take one batch (in its wire schema)."""
        self.rows += batch.num_rows
        try:
            if self.accumulator is not None:
                self.accumulator.update(batch)
            if self.hash_columns is not None:
                cap = self.request.row_hash_cap
                if cap is not None and self.rows > cap:
                    self.hash_columns = None  # past the cap: "too large", never a partial set
                else:
                    self.hashes.append(row_hashes(batch.select(self.hash_columns)).tobytes())
        except ChecksumInputError as err:
            self._fail(err)
            return
        if self.kept is not None:
            if self.rows <= self.request.keep_rows:
                self.kept.append(batch)
            else:
                self.kept = None

    def collect(self) -> tuple[dict[str, object], list[pa.RecordBatch], bytes]:
        """The reply fields (``checksum``, ``checksum_error``, ``row_hash_columns``), the
        kept batches and the row hashes (little-endian uint64)."""
        if self.error:
            return {"checksum_error": self.error}, [], b""
        fields: dict[str, object] = {}
        if self.accumulator is not None:
            fields["checksum"] = self.accumulator.finish().to_dict()
        hashes = b""
        if self.hash_columns is not None:
            fields["row_hash_columns"] = self.hash_columns
            hashes = b"".join(self.hashes)
        return fields, list(self.kept or []), hashes

    def finish(self) -> tuple[dict[str, object], list[Frame]]:
        """The reply fields and the frames to send before the reply (kept rows, row
        hashes): :meth:`collect` as the worker sends it."""
        fields, kept, hashes = self.collect()
        frames: list[Frame] = [(KIND_BATCH, batch.serialize()) for batch in kept]
        if "row_hash_columns" in fields:
            frames += [(KIND_HASHES, hashes)]
        return fields, frames


class TableDigest:
    """A table's (or some partitions') per-partition canonical checksums from its rows."""

    def __init__(self, partition_columns: list[str]) -> None:
        self.accumulator = PartitionAccumulator(partition_columns)
        self.rows = 0
        self.error = ""

    def add(self, batch: pa.RecordBatch) -> None:
        """Take one batch of the table's rows."""
        self.rows += batch.num_rows
        if self.error:
            return
        try:
            self.accumulator.update(batch)
        except ChecksumInputError as err:
            self.error = str(err)

    def finish(self) -> tuple[dict[str, object], list[Frame]]:
        """Reply fields ``partition_columns`` (empty when the rows lacked one and the state
        is whole-table), ``partitions`` (key -> [rows, multiset]) and ``rows_read``; or
        ``checksum_error``. No frames: no row crosses."""
        if self.error:
            return {"checksum_error": self.error, "rows_read": self.rows}, []
        partitions = {
            key: [count, multiset] for key, (count, multiset) in self.accumulator.finish().items()
        }
        return {
            "partition_columns": list(self.accumulator.partition_columns),
            "partitions": partitions,
            "rows_read": self.rows,
        }, []


def warm_up(tables: Iterable[TableSpec]) -> None:
    """Load the kernels for common result types and these tables' column types, so no
    statement is timed with that one-off cost. Reads at most 64 rows of each table."""
    samples = [_RESULT_TYPES_SAMPLE]
    for spec in tables:
        if spec.files:
            batch = next(read_batches(spec, 64), None)
            if batch is not None:
                samples.append(batch)
    for batch in samples:
        ChecksumAccumulator(batch.schema).update(batch)
        PartitionAccumulator(list(batch.schema.names[:1])).update(batch)
