"""EngineWorker: the parent side of one engine worker process.

The worker runs ``RUNTIME_PYTHON -m simulator.engines.worker_main`` in its own process
group, with its stderr appended to ``WORKSPACE/worker.log``. Statements are sent over the
frame protocol (:mod:`simulator.engines.protocol`). Canonical checksums of results and
written tables (``ResultRequest``, :meth:`EngineWorker.table_state`) are computed inside
the worker, next to the engine, when the rows are many (only the kept rows cross), and here
from the rows when they are few (``WORKER_HASH_ROWS``); only kept rows reach ``sink``.
Without a ``ResultRequest`` every batch is handed to ``sink`` as it arrives. A statement
past its timeout kills the worker's process group and is recorded as ``timeout``; a worker
that dies (signal, exit) or writes garbage is recorded as ``crash``; either way the next
call starts a fresh worker over the workspace as it is on disk (adapters keep writable
tables in workspace files, so earlier writes survive).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pyarrow as pa

from simulator.config import EngineSpec
from simulator.engines import worker_checksums
from simulator.engines.contract import TableSpec
from simulator.engines.outcome import Sink, WorkerOutcome, outcome_from_reply
from simulator.engines.protocol import (
    KIND_BATCH,
    KIND_HASHES,
    KIND_JSON,
    KIND_SCHEMA,
    WORKER_HASH_BYTES,
    WORKER_HASH_ROWS,
    ArrowDecodeError,
    DeadlineExceeded,
    FrameReader,
    FrameWriter,
    PeerClosed,
    ProtocolError,
    ResultRequest,
    decode_batch,
    decode_json,
    decode_schema,
    schema_to_text,
)
from simulator.engines.runtime import Runtime
from simulator.errors import EngineError

START_TIMEOUT_S = 300.0
CONTROL_TIMEOUT_S = 600.0
LOG_NAME = "worker.log"


class _Broken(Exception):
    """The worker cannot continue; carries the outcome to record."""

    def __init__(self, outcome: WorkerOutcome) -> None:
        super().__init__(outcome.error_message)
        self.outcome = outcome


def _table_to_wire(table: TableSpec) -> dict[str, Any]:
    return {
        "name": table.name,
        "files": list(table.files),
        "schema": schema_to_text(table.schema),
        "partition_columns": list(table.partition_columns),
        "writable": table.writable,
    }


class EngineWorker:
    """One engine in its own process, over one workspace and its tables.

    ``start()`` must be called first; after a timeout or crash the worker is replaced
    lazily by the next call. Not thread-safe: one request at a time.
    """

    def __init__(
        self,
        spec: EngineSpec,
        runtime: Runtime,
        workspace: Path,
        tables: list[TableSpec],
        worker_hash_rows: int = WORKER_HASH_ROWS,
        worker_hash_bytes: int = WORKER_HASH_BYTES,
    ) -> None:
        self.spec = spec
        # Results and read-backs past either bound are checksummed in the worker; smaller
        # ones cross as rows and are checksummed here (tests lower them).
        self.worker_hash_rows = worker_hash_rows
        self.worker_hash_bytes = worker_hash_bytes
        self.runtime = runtime
        self.workspace = Path(workspace)
        self.tables = list(tables)
        self.version = ""
        # Whether the adapter can digest partitions (told by the worker at start): without
        # it, write verification reads whole tables and never asks.
        self.has_partition_digests = False
        self.has_row_digests = False
        self.has_explain = False
        self.restarts = 0
        # Bytes read from workers' protocol streams over this object's life (all restarts).
        self._bytes_before = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._reader: FrameReader | None = None
        self._writer: FrameWriter | None = None

    @property
    def pid(self) -> int | None:
        """The worker process id, None when no worker is running."""
        return self._proc.pid if self._proc is not None else None

    @property
    def bytes_received(self) -> int:
        """Protocol bytes this object has read from its workers so far (frames included)."""
        current = self._reader.bytes_read if self._reader is not None else 0
        return self._bytes_before + current

    @property
    def log_path(self) -> Path:
        """Where the worker's stderr goes."""
        return self.workspace / LOG_NAME

    def _settings(self) -> tuple[dict[str, Any], int | None]:
        settings = dict(self.spec.settings)
        max_memory_mb = settings.pop("max_memory_mb", None)
        if self.spec.dsn:
            settings["dsn"] = self.spec.dsn
        return settings, max_memory_mb

    def _popen(self, log: Any) -> subprocess.Popen[bytes]:
        env = self.runtime.env()
        if self._settings()[1]:
            # Under an address-space cap, glibc's per-thread malloc arenas (64 MiB of
            # address space each, made when threads contend, so more of them on a busy
            # machine) would count against the cap without holding any memory.
            env["MALLOC_ARENA_MAX"] = "2"
        return subprocess.Popen(
            [str(self.runtime.python), "-m", "simulator.engines.worker_main"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            cwd=self.workspace,
            env=env,
            start_new_session=True,
        )

    def _spawn(self) -> str:
        self.workspace.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            try:
                self._proc = self._popen(log)
            except OSError as err:
                raise EngineError(
                    f"engine {self.spec.name}: cannot start a worker with "
                    f"{self.runtime.python}: {err.strerror or err}"
                ) from None
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._writer = FrameWriter(self._proc.stdin.fileno())
        self._reader = FrameReader(self._proc.stdout.fileno())
        settings, max_memory_mb = self._settings()
        request = {
            "op": "start",
            "adapter": self.spec.adapter,
            "engine": self.spec.name,
            "workspace": str(self.workspace),
            "settings": settings,
            "tables": [_table_to_wire(table) for table in self.tables],
            "max_memory_mb": max_memory_mb,
            "worker_hash_rows": self.worker_hash_rows,
            "worker_hash_bytes": self.worker_hash_bytes,
        }
        try:
            reply = self._control(request, START_TIMEOUT_S)
        except _Broken as broken:
            raise EngineError(
                f"engine {self.spec.name}: worker failed to start: {broken.outcome.error_message}"
            ) from None
        if reply.get("status") != "ok":
            self._kill()
            raise EngineError(
                f"engine {self.spec.name}: adapter {self.spec.adapter!r} failed in "
                f"{reply.get('stage', 'start')}: {reply.get('error_class')}: "
                f"{reply.get('error_message', '')}".splitlines()[0]
            )
        self.has_partition_digests = bool(reply.get("partition_digests"))
        self.has_row_digests = bool(reply.get("row_digests"))
        self.has_explain = bool(reply.get("explain"))
        return str(reply["version"])

    def start(self) -> str:
        """Start the worker (open, load tables, seal) and return the engine's version.

        Raises EngineError naming the engine when the adapter cannot start.
        """
        if self._proc is None:
            self.version = self._spawn()
        return self.version

    def restart(self) -> str:
        """Replace the worker with a fresh one over the workspace as it is on disk."""
        self._kill()
        self.restarts += 1
        return self.start()

    def _ensure(self) -> None:
        if self._proc is None:
            self.restart()

    def _kill(self) -> int | None:
        """Kill the worker's process group; return the signal that ended it, if any."""
        proc, self._proc = self._proc, None
        if self._reader is not None:
            self._bytes_before += self._reader.bytes_read
        self._reader = self._writer = None
        if proc is None:
            return None
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        returncode = proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        return -returncode if returncode < 0 else None

    def _last_log_line(self) -> str:
        try:
            with open(self.log_path, "rb") as log:
                log.seek(max(0, log.seek(0, os.SEEK_END) - 4096))
                lines = log.read().decode(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return lines[-1].strip() if lines else ""

    def _died(self, began: float, why: str) -> _Broken:
        proc = self._proc
        if proc is not None:
            # Give a dying worker a moment to be reaped so its signal can be recorded.
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=2)
        code = proc.returncode if proc is not None else None
        # A worker still alive here closed its stream without dying: the SIGKILL that
        # _kill sends then is qsim's, not the cause, so it is not reported as the signal.
        self._kill()
        sig = -code if code is not None and code < 0 else None
        if sig is not None:
            name = signal.Signals(sig).name if sig in signal.valid_signals() else "?"
            message = f"worker killed by signal {sig} ({name})"
        elif code is not None:
            message = f"worker exited with code {code}"
        else:
            message = "worker closed its protocol stream"
        if why:
            message = f"{message} ({why})"
        last = self._last_log_line()
        if last:
            message = f"{message}; last log line: {last}"
        return _Broken(
            WorkerOutcome(
                status="crash",
                error_class="WorkerCrash",
                error_message=message,
                wall_ms=(time.monotonic() - began) * 1000,
                signal=sig,
            )
        )

    def _send(self, request: dict[str, Any], began: float) -> None:
        assert self._writer is not None
        try:
            self._writer.json(request)
            self._writer.flush()
        except (BrokenPipeError, OSError) as err:
            raise self._died(began, f"cannot send request ({err})") from None

    def _receive(self, deadline: float, began: float, timeout_s: float) -> tuple[int, Any]:
        assert self._reader is not None
        try:
            return self._reader.read(deadline)
        except DeadlineExceeded:
            self._kill()
            raise _Broken(
                WorkerOutcome(
                    status="timeout",
                    error_class="Timeout",
                    error_message=f"statement exceeded its timeout of {timeout_s:g} s; "
                    "worker killed",
                    wall_ms=(time.monotonic() - began) * 1000,
                )
            ) from None
        except PeerClosed:
            raise self._died(began, "") from None
        except ProtocolError as err:
            self._kill()
            raise _Broken(
                WorkerOutcome(
                    status="crash",
                    error_class="ProtocolError",
                    error_message=f"worker wrote garbage on its protocol stream: {err}",
                    wall_ms=(time.monotonic() - began) * 1000,
                )
            ) from None

    def _control(self, request: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        began = time.monotonic()
        self._send(request, began)
        kind, payload = self._receive(began + timeout_s, began, timeout_s)
        if kind != KIND_JSON:
            self._kill()
            raise _Broken(
                WorkerOutcome(
                    status="crash",
                    error_class="ProtocolError",
                    error_message="worker wrote garbage on its protocol stream: "
                    f"unexpected frame kind {chr(kind)!r} for {request['op']}",
                )
            )
        try:
            return decode_json(payload)
        except ProtocolError as err:
            self._kill()
            raise _Broken(
                WorkerOutcome(
                    status="crash",
                    error_class="ProtocolError",
                    error_message=f"worker wrote garbage on its protocol stream: {err}",
                )
            ) from None

    def _stream(
        self, request: dict[str, Any], timeout_s: float, sink: Sink | None
    ) -> WorkerOutcome:
        began = time.monotonic()
        try:
            self._ensure()
        except EngineError as err:
            return WorkerOutcome(status="crash", error_class="EngineError", error_message=str(err))
        deadline = began + timeout_s
        schema: pa.Schema | None = None
        undecodable = ""
        hashes = bytearray()
        try:
            self._send(request, began)
            while True:
                kind, payload = self._receive(deadline, began, timeout_s)
                if kind == KIND_JSON:
                    reply = decode_json(payload)
                    break
                if undecodable:
                    continue  # the frames are in step, only their Arrow is not: drain them
                try:
                    if kind == KIND_SCHEMA and schema is None:
                        schema = decode_schema(payload)
                    elif kind == KIND_BATCH and schema is not None:
                        batch = decode_batch(payload, schema)
                        if sink is not None:
                            sink(batch)
                    elif kind == KIND_HASHES and schema is not None:
                        hashes += payload
                    else:
                        raise ProtocolError(f"unexpected frame kind {chr(kind)!r} in a result")
                except ArrowDecodeError as err:
                    undecodable = str(err)
        except _Broken as broken:
            return broken.outcome
        except ProtocolError as err:
            self._kill()
            return WorkerOutcome(
                status="crash",
                error_class="ProtocolError",
                error_message=f"worker wrote garbage on its protocol stream: {err}",
                wall_ms=(time.monotonic() - began) * 1000,
            )
        except BaseException:
            # The sink failed mid-result: the stream is out of step, so the worker goes.
            self._kill()
            raise
        return outcome_from_reply(reply, schema, bytes(hashes), undecodable)

    def execute(
        self,
        sql: str,
        timeout_s: float,
        sink: Sink | None = None,
        result: ResultRequest | None = None,
        memory_factor: float = 1.0,
    ) -> WorkerOutcome:
        """Run one statement; never raises for engine errors, timeouts or crashes (they are
        the outcome's ``status``).

        With ``result`` the result is checksummed (``outcome.checksums``) and only the rows
        ``result`` keeps reach ``sink`` (row hashes: ``outcome.row_hashes``): in the worker
        when the result is large, else here from its rows (see ``WORKER_HASH_ROWS``);
        without it every result batch is streamed to ``sink``, and none crosses when
        ``sink`` is None. ``memory_factor`` > 1 is the memory fault: the worker grows its
        peak RSS over the statement by it.
        """
        request: dict[str, Any] = {"op": "execute", "sql": sql}
        if memory_factor != 1.0:
            request["memory_factor"] = memory_factor
        if result is None:
            request["rows"] = sink is not None
            return self._stream(request, timeout_s, sink)
        request["result"] = result.to_wire()
        received: list[pa.RecordBatch] = []
        outcome = self._stream(request, timeout_s, received.append)
        if outcome.checksums.pop("parent_hashes", False) and outcome.arrow_schema is not None:
            digest = worker_checksums.ResultDigest(result, outcome.arrow_schema)
            for batch in received:
                digest.add(batch)
            fields, received, outcome.row_hashes = digest.collect()
            outcome.checksums.update(fields)
        if sink is not None:
            for batch in received:
                sink(batch)
        return outcome

    def table_state(
        self,
        name: str,
        columns: list[str],
        ids: list[int] | None = None,
        timeout_s: float = CONTROL_TIMEOUT_S,
    ) -> WorkerOutcome:
        """Per-partition canonical checksums of table ``name`` split by ``columns`` (only of
        the partitions with engine ids ``ids``, when given): ``outcome.checksums`` has
        ``partition_columns``, ``partitions`` (key -> [rows, multiset]) and ``rows_read``,
        or ``checksum_error``. Computed in the worker when the rows are many (no row
        crosses), else here from the rows (see ``WORKER_HASH_ROWS``)."""
        request: dict[str, Any] = {"op": "table_state", "name": name, "columns": columns}
        if ids is not None:
            request["ids"] = ids
        received: list[pa.RecordBatch] = []
        outcome = self._stream(request, timeout_s, received.append)
        if outcome.checksums.pop("parent_hashes", False):
            digest = worker_checksums.TableDigest(columns)
            for batch in received:
                digest.add(batch)
            outcome.checksums.update(digest.finish()[0])
        return outcome

    def hashing_loaded(self) -> bool:
        """Whether the worker process has imported canonical hashing (numba) so far."""
        return bool(self._value({"op": "hashing_loaded"}))

    def read_table(
        self, name: str, sink: Sink, timeout_s: float = CONTROL_TIMEOUT_S
    ) -> WorkerOutcome:
        """Stream every row of table ``name`` to ``sink`` (a write's post-state)."""
        return self._stream({"op": "read_table", "name": name}, timeout_s, sink)

    def partition_digests(
        self, name: str, columns: list[str], sink: Sink, timeout_s: float = CONTROL_TIMEOUT_S
    ) -> WorkerOutcome:
        """Stream the engine's per-partition digests of ``name`` (contract
        ``partition_digests``) to ``sink``; status ``error`` when the adapter has none."""
        request = {"op": "partition_digests", "name": name, "columns": columns}
        return self._stream(request, timeout_s, sink)

    def partition_row_digests(
        self, name: str, columns: list[str], sink: Sink, timeout_s: float = CONTROL_TIMEOUT_S
    ) -> WorkerOutcome:
        """Stream the engine's per-partition row-identity digests of ``name`` (contract
        ``partition_row_digests``) to ``sink``; status ``error`` when the adapter has none."""
        request = {"op": "partition_row_digests", "name": name, "columns": columns}
        return self._stream(request, timeout_s, sink)

    def read_partitions(
        self,
        name: str,
        columns: list[str],
        ids: list[int],
        sink: Sink,
        timeout_s: float = CONTROL_TIMEOUT_S,
    ) -> WorkerOutcome:
        """Stream the rows of the partitions of ``name`` with engine ids ``ids`` to ``sink``."""
        request = {"op": "read_partitions", "name": name, "columns": columns, "ids": ids}
        return self._stream(request, timeout_s, sink)

    def _value(self, request: dict[str, Any]) -> Any:
        self._ensure()
        try:
            reply = self._control(request, CONTROL_TIMEOUT_S)
        except _Broken as broken:
            raise EngineError(
                f"engine {self.spec.name}: {request['op']} failed: {broken.outcome.error_message}"
            ) from None
        if reply.get("status") != "ok":
            raise EngineError(
                f"engine {self.spec.name}: {request['op']} failed: "
                f"{reply.get('error_class')}: {reply.get('error_message')}".splitlines()[0]
            )
        return reply["value"]

    def table_row_count(self, name: str) -> int:
        """Row count of table ``name``; EngineError when the engine cannot count it."""
        return int(self._value({"op": "table_row_count", "name": name}))

    def list_tables(self) -> list[str]:
        """Names of the tables and views replayed SQL can see."""
        return list(self._value({"op": "list_tables"}))

    def explain(self, sql: str) -> dict[str, Any]:
        """The engine's plan of ``sql`` as an operator tree (contract ``explain``), without
        running it; EngineError when the adapter has no plans or cannot plan ``sql``."""
        return dict(self._value({"op": "explain", "sql": sql}))

    def close(self) -> None:
        """Ask the worker to close its engine, then make sure the process is gone."""
        if self._proc is None:
            return
        with contextlib.suppress(_Broken, OSError):
            self._control({"op": "close"}, 10.0)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=5) if self._proc is not None else None
        self._kill()

    def __enter__(self) -> EngineWorker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
