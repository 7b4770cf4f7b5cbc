"""Row hashes: the column value hashes of a batch chained by column position, in steps
that bound memory."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from simulator.canonical.kernels import _k_chain
from simulator.canonical.mixing import _T_ROW, _fmix
from simulator.canonical.values import _value_hashes_into

# Rows hashed per step; bounds memory and keeps the per-column hash arrays in cache. Wide
# tables take fewer rows per step so one step's hashes stay within _STEP_CELLS (32 MB).
BATCH_ROWS = 1 << 16
_STEP_CELLS = 1 << 22


def _rows_per_step(num_columns: int) -> int:
    return max(1, min(BATCH_ROWS, _STEP_CELLS // max(1, num_columns)))


def _column_matrix(
    batch: pa.RecordBatch | pa.Table, buffer: np.ndarray | None = None
) -> np.ndarray:
    if buffer is None:
        matrix = np.empty((batch.num_columns, batch.num_rows), np.uint64)
    else:
        matrix = buffer[:, : batch.num_rows]
    for j in range(batch.num_columns):
        _value_hashes_into(batch.column(j), matrix[j])
    return matrix


def _row_seed(num_columns: int) -> np.uint64:
    return np.uint64(_fmix(np.uint64(num_columns) ^ _T_ROW))


def row_hashes(batch: pa.RecordBatch | pa.Table) -> np.ndarray:
    """One uint64 hash per row: the column value hashes chained by column position.

    Column names are not part of the hash; column positions are (swapped columns differ).
    """
    out = np.empty(batch.num_rows, np.uint64)
    _k_chain(_column_matrix(batch), _row_seed(batch.num_columns), out)
    return out
