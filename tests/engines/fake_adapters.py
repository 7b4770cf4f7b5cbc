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
from simulator.engines.protocol import HEADER, KIND_SCHEMA, MAGIC

# The schema frame DuckDB 0.10.3 sends for ``SELECT MAP {'a': 1, 'b': NULL} AS m``: its map
# keys are declared nullable, which pyarrow's IPC reader refuses.
OLD_DUCKDB_MAP_SCHEMA = bytes.fromhex(
    "ffffffff100100001000000000000a000c000600050008000a000000000104000c00000008000800"
    "000004000800000004000000010000000400000060ffffff00000111140000001800000004000000"
    "0100000020000000010000006d00000054ffffff100014000800000007000c000000100010000000"
    "0000000d18000000200000000400000002000000600000001400000007000000656e747269657300"
    "94ffffffc8ffffff00000102100000002000000004000000000000000500000076616c7565000000"
    "08000c0008000700080000000000000120000000100014000800060007000c000000100010000000"
    "0000010510000000180000000400000000000000030000006b657900040004000400000000000000"
)


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


class FakeHarnessAdapter(FakeEngineAdapter):
    """Results qsim itself cannot carry. ``undecodable``: a well-framed schema frame the
    parent cannot decode (an old DuckDB map sent as is). ``unencodable``: a result that
    declares ``list<int64>`` and produces a struct batch, which cannot be cast to it."""

    def execute(self, sql: str) -> StatementResult:
        if "undecodable" in sql:
            frame = HEADER.pack(MAGIC, KIND_SCHEMA, len(OLD_DUCKDB_MAP_SCHEMA))
            os.write(int(os.environ["QSIM_PROTOCOL_FD"]), frame + OLD_DUCKDB_MAP_SCHEMA)
            return StatementResult(schema=None, batches=iter(()))
        if "unencodable" in sql:
            batch = pa.record_batch({"v": pa.array([{"x": 1}])})
            schema = pa.schema([("v", pa.list_(pa.int64()))])
            return StatementResult(schema=schema, batches=iter([batch]))
        return super().execute(sql)


class FakeSleepAdapter(FakeEngineAdapter):
    """An engine that waits 300 ms (a sleep: wall time without CPU) before answering."""

    def execute(self, sql: str) -> StatementResult:
        import time

        time.sleep(0.3)
        return super().execute(sql)
