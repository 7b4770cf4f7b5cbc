"""Fake adapters for faults a real engine cannot be made to produce on demand.

Loaded as plugins (``tests.engines.fake_adapters:FakeCrashAdapter``) inside a runtime that
has only pyarrow: the worker finds them through PYTHONPATH, like any qsim module. Each
answers ``SELECT <int>``-free SQL with one row holding the statement's length.
"""

from __future__ import annotations

import os
from typing import Any

import pyarrow as pa

from simulator.engines.contract import EngineAdapter, StatementResult, TableSpec


class FakeEngineAdapter(EngineAdapter):
    """An 'engine' that answers every statement with one row: ``n = len(sql)``."""

    def open(self, workspace: str, settings: dict[str, Any]) -> None:
        self.tables: list[TableSpec] = []

    def load_tables(self, tables: list[TableSpec]) -> None:
        self.tables = list(tables)

    def seal(self) -> None:
        pass

    def version(self) -> str:
        return "fake-1.0"

    def execute(self, sql: str) -> StatementResult:
        batch = pa.record_batch({"n": pa.array([len(sql)], pa.int64())})
        return StatementResult(schema=batch.schema, batches=iter([batch]))

    def read_table(self, name: str) -> StatementResult:
        return self.execute(name)

    def list_tables(self) -> list[str]:
        return [table.name for table in self.tables]

    def close(self) -> None:
        pass


class FakeCrashAdapter(FakeEngineAdapter):
    """Aborts the worker process (SIGABRT) on a statement containing ``crash``."""

    def execute(self, sql: str) -> StatementResult:
        if "crash" in sql:
            os.abort()
        return super().execute(sql)


class FakeGarbageAdapter(FakeEngineAdapter):
    """Writes non-protocol bytes onto the protocol stream on a statement containing
    ``garbage`` (as a native library writing to the wrong descriptor would)."""

    def execute(self, sql: str) -> StatementResult:
        if "garbage" in sql:
            os.write(int(os.environ["QSIM_PROTOCOL_FD"]), b"hello from a confused library\n")
        return super().execute(sql)


class FakeChattyAdapter(FakeEngineAdapter):
    """Prints to stdout on every statement: must not disturb the protocol."""

    def execute(self, sql: str) -> StatementResult:
        print("chatty engine says hello", sql)
        os.write(1, b"and writes to fd 1 too\n")
        return super().execute(sql)


class FakeFailingOpenAdapter(FakeEngineAdapter):
    """Fails in ``open``, as an engine that cannot start would."""

    def open(self, workspace: str, settings: dict[str, Any]) -> None:
        raise RuntimeError("fake engine refuses to open")
