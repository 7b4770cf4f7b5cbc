"""The worker process: runs one adapter inside its engine runtime and serves the protocol.

Started by :class:`simulator.engines.worker.EngineWorker` as
``RUNTIME_PYTHON -m simulator.engines.worker_main`` with ``PYTHONPATH`` pointing at qsim's
source, so it imports only stdlib + pyarrow modules of qsim.

The protocol stream is a private duplicate of fd 1; fd 1 itself is pointed at stderr (the
worker log) so that anything an engine or plugin prints cannot corrupt the stream. The
duplicate's number is exported as ``QSIM_PROTOCOL_FD`` (only test fakes use it).

Requests (JSON ``op``): ``start`` (adapter, engine, workspace, settings, tables,
max_memory_mb) -> ``version``; ``execute`` (sql); ``read_table`` (name);
``partition_digests`` (name, columns); ``read_partitions`` (name, columns, ids);
``table_row_count`` (name); ``list_tables``; ``explain`` (sql) -> an operator tree;
``close``.
"""

from __future__ import annotations

import mmap
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

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
    KIND_BATCH,
    KIND_JSON,
    KIND_SCHEMA,
    EncodeError,
    FrameReader,
    FrameWriter,
    PeerClosed,
    decode_json,
    schema_from_text,
    to_wire,
    wire_schema,
)
from simulator.engines.registry import load_factory


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


def _limit_memory(max_memory_mb: int | None) -> None:
    # RLIMIT_AS bounds the whole address space: an allocation past it fails inside the
    # engine (an engine error) or kills the worker (a recorded crash), never the host.
    if max_memory_mb:
        import resource

        limit = int(max_memory_mb) * 1024 * 1024
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
        self.peak_rss = PeakRss()

    def start(self, request: dict[str, Any]) -> dict[str, Any]:
        """Create, open, load and seal the adapter; reply with the engine's version."""
        stage = "limit_memory"
        try:
            _limit_memory(request.get("max_memory_mb"))
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

    def stream(self, produce: Any, memory_factor: float = 1.0) -> dict[str, Any]:
        """Run ``produce()`` -> StatementResult, stream its batches, reply with the totals.

        ``wall_ms`` counts the engine's time only: the call and each batch it produces, not
        the time spent writing frames to the parent; ``cpu_ms`` is this process's CPU time
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
                        payload = to_wire(batch, schema).serialize()
                    except EncodeError as err:
                        return harness_error("encode", str(err), schema=schema_fields)
                    except pa.ArrowException as err:
                        message = f"a batch of {batch.schema}: {err}"
                        return harness_error("encode", message, schema=schema_fields)
                    rows += batch.num_rows
                    self.writer.frame(KIND_BATCH, payload)
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
        }

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
            return self.stream(
                lambda: adapter.execute(request["sql"]), float(request.get("memory_factor", 1.0))
            )
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
    protocol_fd = os.dup(1)
    os.dup2(2, 1)
    os.environ["QSIM_PROTOCOL_FD"] = str(protocol_fd)
    sys.stdout = sys.stderr
    Worker(FrameReader(0), FrameWriter(protocol_fd)).serve()


if __name__ == "__main__":
    main()
