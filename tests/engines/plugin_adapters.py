"""Real DuckDB behind plugin adapters: one reports engine notes, as an adapter may
(``StatementResult.notes``); one changes float results, as a faulty release would."""

from __future__ import annotations

import dataclasses

import pyarrow as pa
import pyarrow.compute as pc

from simulator.engines.adapters.duckdb import DuckDBAdapter
from simulator.engines.contract import StatementResult


class NotingDuckDBAdapter(DuckDBAdapter):
    """DuckDB, with ``notes = {"statements": n, "adapter": "noting"}`` on every result."""

    def execute(self, sql: str) -> StatementResult:
        """DuckDB's result, with notes attached."""
        result = super().execute(sql)
        count = len(self.con.extract_statements(sql))
        return dataclasses.replace(result, notes={"statements": count, "adapter": "noting"})


class FloatDriftDuckDBAdapter(DuckDBAdapter):
    """DuckDB whose SELECT results have every float value scaled by 1.5 (a real result
    change confined to float columns, which only the kept rows can confirm)."""

    def execute(self, sql: str) -> StatementResult:
        """DuckDB's result with float columns drifted."""
        result = super().execute(sql)
        if result.schema is None or not any(pa.types.is_floating(f.type) for f in result.schema):
            return result
        schema = result.schema

        def drift(batch: pa.RecordBatch) -> pa.RecordBatch:
            columns = [
                pc.multiply(col, 1.5) if pa.types.is_floating(col.type) else col
                for col in batch.columns
            ]
            return pa.RecordBatch.from_arrays(columns, schema=schema)

        return dataclasses.replace(result, batches=(drift(b) for b in result.batches))


class LimitShiftDuckDBAdapter(DuckDBAdapter):
    """DuckDB whose results of statements with a LIMIT have every integer value moved by
    1000: rows no correct engine returns, with the row count and schema unchanged."""

    def execute(self, sql: str) -> StatementResult:
        """DuckDB's result, integers shifted when the statement has a LIMIT."""
        result = super().execute(sql)
        if result.schema is None or "limit" not in sql.lower():
            return result
        schema = result.schema

        def shift(batch: pa.RecordBatch) -> pa.RecordBatch:
            columns = [
                pc.add(col, 1000).cast(col.type) if pa.types.is_integer(col.type) else col
                for col in batch.columns
            ]
            return pa.RecordBatch.from_arrays(columns, schema=schema)

        return dataclasses.replace(result, batches=(shift(b) for b in result.batches))
