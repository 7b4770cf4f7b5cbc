"""Builders for the plain records the comparison tests feed in: real Arrow results written
as real IPC files, turned into Execution records the way the runner does."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from simulator.canonical import FLOAT_MANTISSA_BITS, checksum_table
from simulator.compare.tables import TableStateBuilder
from simulator.results.execution import Execution, TableState

_ids = itertools.count()


@dataclass
class Query:
    """A minimal object satisfying ``QueryFacts``."""

    query_id: str = "q1"
    tenant: str = "t01"
    pattern_id: str = "p1"
    kind: str = "select"
    order_by: bool = False
    order_keys: Sequence[str] = ()
    limit: int | None = None
    nondeterministic: Sequence[str] = ()
    nondeterministic_columns: Sequence[int] | None = None
    estimate_columns: Sequence[int] = ()
    row_set_fixed: bool = False
    row_set_estimate_only: bool = False
    row_count_fixed: bool = False
    derived_names: Sequence[bool] = ()
    tables_written: Sequence[str] = ()
    weight: float = 1.0


def execution(
    table: pa.Table | None = None,
    *,
    folder: Path | None = None,
    engine: str = "baseline",
    status: str = "ok",
    error_class: str = "",
    error_message: str = "",
    rows_affected: int | None = None,
    writes: dict[str, TableState] | None = None,
    version: str = "1.0",
) -> Execution:
    """An Execution of ``table``; with ``folder`` the full result is kept as an IPC file."""
    n = next(_ids)
    record = Execution(
        execution_id=f"load:{engine}:t01:q1:{n}",
        run_id="run",
        engine=engine,
        tenant="t01",
        query_id="q1",
        phase="load",
        status=status,
        error_class=error_class,
        error_message=error_message,
        rows_affected=rows_affected,
        engine_version=version,
        writes=writes or {},
    )
    if table is not None:
        record.result = checksum_table(table).to_dict()
        record.rows_returned = table.num_rows
        record.result_schema = [[f.name, str(f.type)] for f in table.schema]
        if folder is not None:
            path = folder / f"result-{n}.arrow"
            with pa.ipc.new_file(path, table.schema) as writer:
                writer.write_table(table)
            record.result_path = str(path)
    return record


def table_state(
    table: pa.Table,
    name: str,
    partition_columns: Sequence[str] = (),
    rows_before: int | None = None,
) -> TableState:
    """The post-state of ``table`` as the runner would record it (fed in small batches)."""
    builder = TableStateBuilder(name, partition_columns, rows_before=rows_before)
    for batch in table.to_batches(max_chunksize=7):
        builder.update(batch)
    return builder.finish()


def straddling_pair() -> tuple[float, float]:
    """Two adjacent doubles on either side of the hash quantization rounding boundary."""
    drop = 52 - FLOAT_MANTISSA_BITS
    base_bits = np.float64(1234.5678).view(np.uint64) & ~np.uint64((1 << drop) - 1)
    below = (base_bits | np.uint64((1 << (drop - 1)) - 1)).view(np.float64)
    above = (base_bits | np.uint64(1 << (drop - 1))).view(np.float64)
    return float(below), float(above)
