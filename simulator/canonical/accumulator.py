"""Streaming result checksums: batches of one schema in, one ``ResultChecksum`` out."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import xxhash

from simulator.canonical.checksum import ResultChecksum, _hex64
from simulator.canonical.kernels import _k_accumulate
from simulator.canonical.rows import _column_matrix, _row_seed, _rows_per_step
from simulator.canonical.spec import ChecksumInputError
from simulator.canonical.type_names import canonical_type


class ChecksumAccumulator:
    """Streams batches of one schema into a ``ResultChecksum`` (memory independent of rows)."""

    def __init__(self, schema: pa.Schema) -> None:
        self._names = tuple(schema.names)
        self._types = tuple(canonical_type(f.type) for f in schema)
        self._seed = _row_seed(len(schema))
        self._rows = 0
        self._lane_a = 0
        self._lane_b = 0
        self._columns = np.zeros(len(schema), np.uint64)
        self._ordered = xxhash.xxh3_128()
        # Reused for every batch: fresh pages per batch cost more than hashing short strings.
        self._step = _rows_per_step(len(schema))
        self._matrix_buffer = np.empty((len(schema), self._step), np.uint64)
        self._row_buffer = np.empty(self._step, np.uint64)

    def update(self, batch: pa.RecordBatch | pa.Table) -> None:
        """Add the rows of `batch`; refuses (``ChecksumInputError``) a batch whose column
        count or canonical column types differ from the schema."""
        self._check(batch)
        if isinstance(batch, pa.Table):
            for b in batch.to_batches(max_chunksize=self._step):
                self._update_batch(b)
        else:
            for start in range(0, batch.num_rows, self._step):
                self._update_batch(batch.slice(start, self._step))

    def _check(self, batch: pa.RecordBatch | pa.Table) -> None:
        if batch.num_columns != len(self._types):
            raise ChecksumInputError(
                f"batch has {batch.num_columns} columns, the checksum schema has {len(self._types)}"
            )
        for j, field in enumerate(batch.schema):
            if canonical_type(field.type) != self._types[j]:
                raise ChecksumInputError(
                    f"batch column {j} ({field.name!r}) is {canonical_type(field.type)}, "
                    f"the checksum schema says {self._types[j]}"
                )

    def _update_batch(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        rows = self._row_buffer[: batch.num_rows]
        matrix = _column_matrix(batch, self._matrix_buffer)
        a, b = _k_accumulate(matrix, self._seed, rows, self._columns)
        self._lane_a = (self._lane_a + int(a)) & 0xFFFFFFFFFFFFFFFF
        self._lane_b = (self._lane_b + int(b)) & 0xFFFFFFFFFFFFFFFF
        self._ordered.update(rows.astype("<u8", copy=False))
        self._rows += batch.num_rows

    def finish(self) -> ResultChecksum:
        """The checksum of every row added so far."""
        return ResultChecksum(
            row_count=self._rows,
            multiset=_hex64(self._lane_a) + _hex64(self._lane_b),
            ordered=self._ordered.hexdigest(),
            columns=tuple(_hex64(c) for c in self._columns),
            column_names=self._names,
            column_types=self._types,
        )


def checksum_table(
    table_or_batches: pa.Table | pa.RecordBatch | Iterable[pa.RecordBatch],
) -> ResultChecksum:
    """The ``ResultChecksum`` of a table, a batch, a ``RecordBatchReader``, or a non-empty
    iterable of batches.

    Refuses (``ChecksumInputError``) an empty iterable without a schema (use
    ``ChecksumAccumulator(schema)`` for a result that may have no batches) and batches whose
    types disagree.
    """
    if isinstance(table_or_batches, pa.Table | pa.RecordBatch):
        accumulator = ChecksumAccumulator(table_or_batches.schema)
        accumulator.update(table_or_batches)
        return accumulator.finish()
    schema = getattr(table_or_batches, "schema", None)
    acc = ChecksumAccumulator(schema) if isinstance(schema, pa.Schema) else None
    for batch in table_or_batches:
        if acc is None:
            acc = ChecksumAccumulator(batch.schema)
        acc.update(batch)
    if acc is None:
        raise ChecksumInputError("cannot checksum an empty sequence of batches: no schema")
    return acc.finish()
