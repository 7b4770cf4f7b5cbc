"""A real DuckDB behind a plugin adapter that reports engine notes, as an adapter may
(``StatementResult.notes``): the number of statements it ran."""

from __future__ import annotations

import dataclasses

from simulator.engines.adapters.duckdb import DuckDBAdapter
from simulator.engines.contract import StatementResult


class NotingDuckDBAdapter(DuckDBAdapter):
    """DuckDB, with ``notes = {"statements": n, "adapter": "noting"}`` on every result."""

    def execute(self, sql: str) -> StatementResult:
        """DuckDB's result, with notes attached."""
        result = super().execute(sql)
        count = len(self.con.extract_statements(sql))
        return dataclasses.replace(result, notes={"statements": count, "adapter": "noting"})
