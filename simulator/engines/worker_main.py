"""The worker process: runs one adapter inside its engine runtime and serves the protocol.

Started by :class:`simulator.engines.worker.EngineWorker` as
``RUNTIME_PYTHON -m simulator.engines.worker_main`` with ``PYTHONPATH`` pointing at qsim's
source, so it imports only stdlib + pyarrow modules of qsim.

The protocol stream is a private duplicate of fd 1; fd 1 itself is pointed at stderr (the
worker log) so that anything an engine or plugin prints cannot corrupt the stream. The
duplicate's number is exported as ``QSIM_PROTOCOL_FD`` (only test fakes use it).

Requests (JSON ``op``): ``start`` (adapter, engine, workspace, settings, tables,
max_memory_mb, worker_hash_rows, worker_hash_bytes) -> ``version``; ``execute`` (sql;
``result``: a ``ResultRequest``; without it ``rows`` says whether every batch is sent);
``table_state`` (name, columns, optional ids: per-partition checksums of a table or of some
partitions); ``hashing_loaded``; ``read_table`` (name); ``partition_digests`` (name,
columns); ``read_partitions`` (name, columns, ids); ``table_row_count`` (name);
``list_tables``; ``explain`` (sql) -> an operator tree; ``close``.

A ``result`` or ``table_state`` past the hashing threshold (``WORKER_HASH_ROWS`` rows or
``WORKER_HASH_BYTES`` of Arrow data, overridable at ``start``) is checksummed here, only the
kept rows crossing; canonical hashing (``worker_checksums``, numba) is imported on that
first large result. A smaller one crosses as rows with reply field ``parent_hashes`` and
the parent checksums it.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import pyarrow as pa

from simulator.engines.contract import (
    EngineAdapter,
    StatementResult,
    TableSpec,
    has_explain,
    has_partition_digests,
    has_row_digests,
)
from simulator.engines.protocol import (
    HASHING_PATH_ENV,
    KIND_BATCH,
    KIND_JSON,
    KIND_SCHEMA,
    WORKER_HASH_BYTES,
    WORKER_HASH_ROWS,
    EncodeError,
    FrameReader,
    FrameWriter,
    PeerClosed,
    ResultRequest,
    decode_json,
    schema_from_text,
    to_wire,
    wire_schema,
)
from simulator.engines.registry import load_factory


class Consumer(Protocol):
    """Takes a result's batches inside the worker (``worker_checksums``)."""

    def add(self, batch: pa.RecordBatch) -> None: ...

    def finish(self) -> tuple[dict[str, Any], list[tuple[int, Any]]]: ...


class ChecksumsUnavailable(Exception):
    """This runtime cannot import canonical hashing (a harness failure, not the engine's)."""


class HashWhenLarge:
    """One result's consumer: buffers its batches while the result is small; once it passes
    ``rows`` rows or ``nbytes`` bytes, hands them and every later batch to the canonical
    consumer ``make()`` builds (importing hashing then). A result that ends small is sent as
    rows (reply ``parent_hashes``): the parent checksums it with the same code."""

    def __init__(self, make: Callable[[], Consumer], rows: int, nbytes: int) -> None:
        self.make = make
        self.max_rows = rows
        self.max_bytes = nbytes
        self.rows = 0
        self.nbytes = 0
        self.buffered: list[pa.RecordBatch] = []
        self.digest: Consumer | None = None

    def add(self, batch: pa.RecordBatch) -> None:
        """Take one batch (in its wire schema)."""
        if self.digest is not None:
            self.digest.add(batch)
            return
        self.buffered.append(batch)
        self.rows += batch.num_rows
        self.nbytes += batch.get_total_buffer_size()  # nbytes fails on string_view (pyarrow 20)
        if self.rows > self.max_rows or self.nbytes > self.max_bytes:
            self.digest = self.make()
            for buffered in self.buffered:
                self.digest.add(buffered)
            self.buffered = []

    def finish(self) -> tuple[dict[str, Any], list[tuple[int, Any]]]:
        """The digest's reply fields and frames, or ``parent_hashes`` and every row."""
        if self.digest is not None:
            return self.digest.finish()
        return {"parent_hashes": True}, [(KIND_BATCH, b.serialize()) for b in self.buffered]


def _error(err: BaseException, **extra: Any) -> dict[str, Any]:
    return {
        "status": "error",
        "error_class": type(err).__name__,
        "error_message": str(err),
        **extra,
    }


def harness_error(stage: str, message: str, **extra: Any) -> dict[str, Any]:
    """The reply for a failure of qsim itself at ``stage`` (``encode``: putting a result on
    the protocol): status ``harness_error``, never recorded as the engine's error."""
    return {
        "status": "harness_error",
        "error_class": f"Harness{stage.capitalize()}Error",
        "error_message": f"qsim cannot {stage} this result: {message}",
        **extra,
    }


class PeakRss:
    """The process's RSS high-water mark over one statement.

    Linux resets the mark when ``5`` is written to ``/proc/self/clear_refs`` and reports it
    as ``VmHWM`` in ``/proc/self/status`` (source ``vmhwm``). Where the reset is refused (no
    procfs, an old kernel, a sandbox) the fallback is ``ru_maxrss``: the lifetime peak, which
    never falls. Both files stay open: this runs around every statement, and reopening them
    costs more than the reads.
    """

    def __init__(self) -> None:
        self._clear: int | None = None
        self._status: int | None = None
        try:
            self._status = os.open("/proc/self/status", os.O_RDONLY)
            self._clear = os.open("/proc/self/clear_refs", os.O_WRONLY)
        except OSError:
            pass

    def reset(self) -> str:
        """Reset the mark; returns the source :meth:`peak_mb` will read it from."""
        if self._clear is not None:
            try:
                os.write(self._clear, b"5")
                return "vmhwm"
            except OSError:
                pass
        return "ru_maxrss"

    def rss_mb(self) -> float | None:
        """The process's current RSS in MiB (``VmRSS``); None when it cannot be read."""
        return self._status_mb(b"VmRSS:")

    def peak_mb(self, source: str) -> float | None:
        """The peak in MiB from ``source``; None when it cannot be read."""
        if source == "vmhwm":
            return self._status_mb(b"VmHWM:")
        import resource

        # Linux reports ru_maxrss in KiB.
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def _status_mb(self, field: bytes) -> float | None:
        if self._status is None:
            return None
        try:
            status = os.pread(self._status, 1 << 16, 0)
            start = status.index(field) + len(field)
            return int(status[start : status.index(b"kB", start)]) / 1024
        except (OSError, ValueError):
            return None

    def grow_peak(self, source: str, factor: float) -> mmap.mmap | None:
        """Hold touched memory until the mark reaches ``factor`` x its value now (the memory
        fault, ``faults.memory``); returns the ballast, which the caller closes once it has
        read the peak. None when nothing is to be added or the mark was not reset.

        The ballast is its own anonymous mapping, so closing it gives every page back to the
        kernel: memory from malloc could stay in the heap and raise the RSS, and so the
        peak, of the statements that follow."""
        peak, current = self.peak_mb(source), self.rss_mb()
        if factor <= 1 or source != "vmhwm" or peak is None or current is None:
            return None
        size = int((factor * peak - current) * 1024 * 1024)
        if size <= 0:
            return None
        ballast = mmap.mmap(-1, size)
        # Untouched pages of a mapping are not resident: write one byte in each.
        page = mmap.PAGESIZE
        ballast[::page] = b"\x01" * len(range(0, size, page))
        return ballast


def _resources(cpu_s: float, peak_rss: PeakRss, rss_source: str) -> dict[str, Any]:
    """The resource fields of a reply: CPU time in ms and the peak RSS with its source."""
    return {
        "cpu_ms": cpu_s * 1000,
        "peak_rss_mb": peak_rss.peak_mb(rss_source),
        "rss_source": rss_source,
    }


def _address_space() -> int:
    """This process's address space in bytes (``/proc/self/statm``); 0 where unknown."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _limit_memory(max_memory_mb: int | None, qsim_bytes: int = 0) -> None:
    # RLIMIT_AS bounds the whole address space: an allocation past it fails inside the
    # engine (an engine error) or kills the worker (a recorded crash), never the host.
    # ``qsim_bytes`` (what canonical hashing's libraries took) is added: the cap is the
    # engine's, as it was when hashing ran outside the worker.
    if max_memory_mb:
        import resource

        limit = int(max_memory_mb) * 1024 * 1024 + qsim_bytes
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _tables(specs: list[dict[str, Any]]) -> list[TableSpec]:
    return [
        TableSpec(
            name=spec["name"],
            files=tuple(spec["files"]),
            schema=schema_from_text(spec["schema"]),
            partition_columns=tuple(spec["partition_columns"]),
            writable=bool(spec["writable"]),
        )
        for spec in specs
    ]


class Worker:
    """Serves requests for one adapter until ``close`` or end of input."""

    def __init__(self, reader: FrameReader, writer: FrameWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.adapter: EngineAdapter | None = None
        self._checksums: Any = None
        self.hash_rows = WORKER_HASH_ROWS
        self.hash_bytes = WORKER_HASH_BYTES
        self.peak_rss = PeakRss()

    def start(self, request: dict[str, Any]) -> dict[str, Any]:
        """Create, open, load and seal the adapter; reply with the engine's version."""
        stage = "limit_memory"
        self.hash_rows = int(request.get("worker_hash_rows", WORKER_HASH_ROWS))
        self.hash_bytes = int(request.get("worker_hash_bytes", WORKER_HASH_BYTES))
        try:
            hashing_bytes = 0
            if request.get("max_memory_mb"):
                # Canonical hashing's libraries (LLVM, OpenBLAS) reserve address space as
                # they load: load them before the cap, which is meant for the engine (a
                # large result would fail to load them under it). Only capped workers pay it.
                before = _address_space()
                with contextlib.suppress(ChecksumsUnavailable):
                    self.checksums().warm_up([])
                hashing_bytes = max(0, _address_space() - before)
            _limit_memory(request.get("max_memory_mb"), hashing_bytes)
            stage = "import"
            factory = load_factory(request["adapter"], request.get("engine", ""))
            stage = "factory"
            self.adapter = factory()
            stage = "open"
            self.adapter.open(request["workspace"], request["settings"])
            stage = "load_tables"
            self.adapter.load_tables(_tables(request["tables"]))
            stage = "seal"
            self.adapter.seal()
            stage = "version"
            version = str(self.adapter.version())
        except Exception as err:
            return _error(err, stage=stage)
        return {
            "status": "ok",
            "version": version,
            "pid": os.getpid(),
            "partition_digests": has_partition_digests(self.adapter),
            "row_digests": has_row_digests(self.adapter),
            "explain": has_explain(self.adapter),
        }

    def stream(
        self,
        produce: Any,
        consumer: Callable[[pa.Schema], Consumer] | None = None,
        send_rows: bool = True,
        memory_factor: float = 1.0,
    ) -> dict[str, Any]:
        """Run ``produce()`` -> StatementResult, stream its batches, reply with the totals.

        Each batch (in its wire schema) is sent when ``send_rows`` and handed to the
        consumer ``consumer(schema)`` makes (worker-side checksums), whose frames are sent
        after the last batch and whose fields join the reply. ``wall_ms`` counts the
        engine's time only: the call and each batch it produces, not the time spent
        checksumming or writing frames to the parent; ``cpu_ms`` is this process's CPU time
        (user + system, all threads: ``time.process_time``) over the same spans.
        ``peak_rss_mb`` is the process's RSS high-water mark over the whole request, reset
        before it (``rss_source`` ``vmhwm``) or, where Linux refuses the reset, the lifetime
        peak (``ru_maxrss``), which never falls. ``memory_factor`` > 1 (the memory fault)
        grows that peak by the factor with memory held after the engine's measured spans,
        so CPU and wall time do not see it. What the engine raises is an engine
        error; a result the worker cannot encode is a ``harness_error`` (see
        :func:`harness_error`).
        """
        engine_s = 0.0
        cpu_s = 0.0
        rows = 0
        rss_source = self.peak_rss.reset()
        began = time.perf_counter()
        cpu_began = time.process_time()
        extra: dict[str, Any] = {}
        try:
            result: StatementResult = produce()
            engine_s += time.perf_counter() - began
            cpu_s += time.process_time() - cpu_began
            schema_fields: list[list[str]] = []
            if result.schema is not None:
                try:
                    schema = wire_schema(result.schema)
                    payload = schema.serialize()
                except (pa.ArrowException, ValueError, TypeError) as err:
                    return harness_error("encode", f"result schema {result.schema}: {err}")
                schema_fields = [[field.name, str(field.type)] for field in schema]
                self.writer.frame(KIND_SCHEMA, payload)
                digest = consumer(schema) if consumer is not None else None
                batches: Iterator[pa.RecordBatch] = iter(result.batches)
                while True:
                    began = time.perf_counter()
                    cpu_began = time.process_time()
                    batch = next(batches, None)
                    engine_s += time.perf_counter() - began
                    cpu_s += time.process_time() - cpu_began
                    if batch is None:
                        break
                    try:
                        wire = to_wire(batch, schema)
                        if send_rows:
                            self.writer.frame(KIND_BATCH, wire.serialize())
                    except EncodeError as err:
                        return harness_error("encode", str(err), schema=schema_fields)
                    except pa.ArrowException as err:
                        message = f"a batch of {batch.schema}: {err}"
                        return harness_error("encode", message, schema=schema_fields)
                    rows += batch.num_rows
                    if digest is not None:
                        digest.add(wire)
                if digest is not None:
                    extra, frames = digest.finish()
                    for kind, frame in frames:
                        self.writer.frame(kind, frame)
        except ChecksumsUnavailable as err:
            return harness_error("checksum", str(err))
        except Exception as err:
            engine_s += time.perf_counter() - began
            cpu_s += time.process_time() - cpu_began
            resources = _resources(cpu_s, self.peak_rss, rss_source)
            return _error(err, wall_ms=engine_s * 1000, rows_returned=rows or None, **resources)
        ballast = self.peak_rss.grow_peak(rss_source, memory_factor)
        resources = _resources(cpu_s, self.peak_rss, rss_source)
        if ballast is not None:
            ballast.close()
        return {
            "status": "ok",
            "wall_ms": engine_s * 1000,
            **resources,
            "rows_returned": rows if result.schema is not None else None,
            "rows_affected": result.rows_affected,
            "schema": schema_fields,
            "notes": result.notes,
            **extra,
        }

    def checksums(self) -> Any:
        """The worker-side checksum module, imported on first use; raises
        ``ChecksumsUnavailable`` naming what this runtime lacks."""
        if self._checksums is None:
            hashing = os.environ.get(HASHING_PATH_ENV)
            if hashing and hashing not in sys.path:
                # Last on the path: the engine's own packages keep precedence.
                sys.path.append(hashing)
            try:
                from simulator.engines import worker_checksums
            except Exception as err:  # ImportError, or a library failing to load (OSError)
                raise ChecksumsUnavailable(
                    f"canonical hashing does not import in this engine runtime: {err}"
                ) from None
            self._checksums = worker_checksums
        return self._checksums

    def _when_large(self, make: Callable[[Any], Consumer]) -> HashWhenLarge:
        """A consumer hashing here (``make(worker_checksums)``) only once the result is large."""
        return HashWhenLarge(lambda: make(self.checksums()), self.hash_rows, self.hash_bytes)

    def _execute(self, adapter: EngineAdapter, request: dict[str, Any]) -> dict[str, Any]:
        wanted = request.get("result")
        factor = float(request.get("memory_factor", 1.0))
        if wanted is None:
            send = bool(request.get("rows", True))
            return self.stream(
                lambda: adapter.execute(request["sql"]), send_rows=send, memory_factor=factor
            )
        result = ResultRequest.from_wire(wanted)
        digest = None
        if result.checksum or result.row_hash_cap is not None:
            digest = lambda schema: self._when_large(  # noqa: E731
                lambda module: module.ResultDigest(result, schema)
            )
        return self.stream(
            lambda: adapter.execute(request["sql"]), digest, send_rows=False, memory_factor=factor
        )

    def _table_state(self, adapter: Any, request: dict[str, Any]) -> dict[str, Any]:
        columns = [str(column) for column in request["columns"]]
        ids = request.get("ids")
        if ids is None:
            produce = lambda: adapter.read_table(request["name"])  # noqa: E731
        else:
            produce = lambda: adapter.read_partitions(request["name"], columns, ids)  # noqa: E731
        digest = lambda _schema: self._when_large(  # noqa: E731
            lambda module: module.TableDigest(columns)
        )
        return self.stream(produce, digest, send_rows=False)

    def handle(self, request: dict[str, Any]) -> dict[str, Any] | None:
        """Answer one request; None means stop serving."""
        op = request.get("op")
        if op == "start":
            return self.start(request)
        if op == "close":
            if self.adapter is not None:
                self.adapter.close()
            return None
        if self.adapter is None:
            return {"status": "error", "error_class": "WorkerError", "error_message": "not started"}
        adapter = self.adapter
        if op == "execute":
            return self._execute(adapter, request)
        if op == "table_state":
            return self._table_state(adapter, request)
        if op == "hashing_loaded":
            # Whether this process has imported canonical hashing (numba) so far.
            return {"status": "ok", "value": "simulator.canonical" in sys.modules}
        if op == "read_table":
            return self.stream(lambda: adapter.read_table(request["name"]))
        if op == "partition_digests":
            return self.stream(
                lambda: adapter.partition_digests(request["name"], request["columns"])
            )
        if op == "partition_row_digests":
            return self.stream(
                lambda: adapter.partition_row_digests(request["name"], request["columns"])
            )
        if op == "read_partitions":
            return self.stream(
                lambda: adapter.read_partitions(request["name"], request["columns"], request["ids"])
            )
        try:
            if op == "table_row_count":
                return {"status": "ok", "value": int(adapter.table_row_count(request["name"]))}
            if op == "list_tables":
                return {"status": "ok", "value": [str(name) for name in adapter.list_tables()]}
            if op == "explain":
                return {"status": "ok", "value": adapter.explain(request["sql"])}  # type: ignore[attr-defined]
        except Exception as err:
            return _error(err)
        return {"status": "error", "error_class": "WorkerError", "error_message": f"bad op {op!r}"}

    def serve(self) -> None:
        """Loop: read a request, answer it, until ``close`` or the parent goes away."""
        while True:
            try:
                kind, payload = self.reader.read()
            except PeerClosed:
                return
            if kind != KIND_JSON:
                return
            reply = self.handle(decode_json(payload))
            if reply is None:
                self.writer.json({"status": "ok"})
                self.writer.flush()
                return
            self.writer.json(reply)
            self.writer.flush()


def main() -> None:
    """Entry point: move stdout aside, then serve the protocol on stdin/private stdout."""
    # numpy (under canonical hashing) needs no BLAS threads here: none competes with the engine.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    protocol_fd = os.dup(1)
    os.dup2(2, 1)
    os.environ["QSIM_PROTOCOL_FD"] = str(protocol_fd)
    sys.stdout = sys.stderr
    Worker(FrameReader(0), FrameWriter(protocol_fd)).serve()


if __name__ == "__main__":
    main()
