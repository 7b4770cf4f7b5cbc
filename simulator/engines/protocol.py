"""The worker protocol: length-prefixed frames over the worker's stdin/stdout.

Imported on both sides (the parent and the worker process inside an engine runtime), so it
depends only on the standard library and pyarrow.

A frame is ``HEADER`` (magic ``b"QS"``, one kind byte, payload length as little-endian u32)
followed by the payload:

* ``J``: a UTF-8 JSON object (requests and responses).
* ``S``: an Arrow IPC schema message (``Schema.serialize()``), opening a result.
* ``B``: an Arrow IPC record batch message (``RecordBatch.serialize()``) of that result.

A request is one ``J`` frame. Its response is zero or one ``S`` frame, any number of ``B``
frames, then one ``J`` frame with ``status`` (``ok`` or ``error``). Anything else on the
stream (wrong magic, unknown kind, bad JSON, undecodable Arrow) is a :class:`ProtocolError`:
the parent declares the worker broken and replaces it.
"""

from __future__ import annotations

import base64
import json
import os
import select
import struct
import time
from typing import Any

import pyarrow as pa

PROTOCOL_VERSION = 1
MAGIC = b"QS"
HEADER = struct.Struct("<2sBI")
KIND_JSON = ord("J")
KIND_SCHEMA = ord("S")
KIND_BATCH = ord("B")
KINDS = (KIND_JSON, KIND_SCHEMA, KIND_BATCH)
MAX_FRAME = 1 << 31
# Small frames are gathered into one write; larger payloads go straight to the pipe.
_GATHER_LIMIT = 256 * 1024
_READ_CHUNK = 1 << 20


class ProtocolError(Exception):
    """The byte stream from a worker is not a valid frame sequence."""


class DeadlineExceeded(Exception):
    """A read did not complete before its deadline."""


class PeerClosed(Exception):
    """The other side closed its end of the pipe (the worker exited or died)."""


def _pipe_bigger(fd: int) -> None:
    # Linux F_SETPIPE_SZ: a 1 MiB pipe cuts the number of wake-ups when streaming batches.
    try:
        import fcntl

        fcntl.fcntl(fd, 1031, 1 << 20)
    except (OSError, ImportError):
        pass


class FrameWriter:
    """Writes frames to a file descriptor, gathering small ones until :meth:`flush`."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._pending = bytearray()
        _pipe_bigger(fd)

    def _write_all(self, data: memoryview | bytes) -> None:
        view = memoryview(data).cast("B")
        while view:
            written = os.write(self.fd, view)
            view = view[written:]

    def frame(self, kind: int, payload: bytes | memoryview | pa.Buffer) -> None:
        """Queue one frame; large payloads flush the queue and are written directly."""
        size = payload.size if isinstance(payload, pa.Buffer) else len(payload)
        self._pending += HEADER.pack(MAGIC, kind, size)
        if size <= _GATHER_LIMIT:
            self._pending += payload
            if len(self._pending) > _GATHER_LIMIT:
                self.flush()
            return
        self.flush()
        self._write_all(memoryview(payload))

    def json(self, message: dict[str, Any]) -> None:
        """Queue one JSON frame."""
        self.frame(KIND_JSON, json.dumps(message, default=str).encode())

    def flush(self) -> None:
        """Write everything queued."""
        if self._pending:
            self._write_all(self._pending)
            self._pending = bytearray()


class FrameReader:
    """Reads frames from a file descriptor, each read bounded by an optional deadline."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._buf = bytearray()
        self._pos = 0
        self._poll = select.poll()
        self._poll.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)

    def _wait(self, deadline: float | None) -> None:
        if deadline is None:
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not self._poll.poll(remaining * 1000):
            raise DeadlineExceeded

    def _fill(self, deadline: float | None) -> None:
        self._wait(deadline)
        chunk = os.read(self.fd, _READ_CHUNK)
        if not chunk:
            raise PeerClosed
        if self._pos:
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += chunk

    def _read_exact(self, size: int, deadline: float | None) -> bytes | bytearray:
        available = len(self._buf) - self._pos
        if available >= size:
            start = self._pos
            self._pos += size
            return self._buf[start : self._pos]
        if size <= _READ_CHUNK:
            while len(self._buf) - self._pos < size:
                self._fill(deadline)
            return self._read_exact(size, deadline)
        # A large payload is read straight into its own buffer: one copy out of the pipe.
        out = bytearray(size)
        view = memoryview(out)
        view[:available] = self._buf[self._pos :]
        self._buf = bytearray()
        self._pos = 0
        filled = available
        while filled < size:
            self._wait(deadline)
            got = os.readv(self.fd, [view[filled:]])
            if not got:
                raise PeerClosed
            filled += got
        return out

    def read(self, deadline: float | None = None) -> tuple[int, bytes | bytearray]:
        """The next frame as ``(kind, payload)``; raises ProtocolError on garbage."""
        magic, kind, size = HEADER.unpack(self._read_exact(HEADER.size, deadline))
        if magic != MAGIC:
            raise ProtocolError(f"bad frame magic {bytes(magic)!r} (expected {MAGIC!r})")
        if kind not in KINDS:
            raise ProtocolError(f"unknown frame kind {kind}")
        if size >= MAX_FRAME:
            raise ProtocolError(f"frame of {size} bytes is larger than the {MAX_FRAME} limit")
        return kind, self._read_exact(size, deadline)


def decode_json(payload: bytes | bytearray) -> dict[str, Any]:
    """A JSON frame's object; raises ProtocolError when it is not a JSON object."""
    try:
        message = json.loads(payload)
    except (UnicodeDecodeError, ValueError) as err:
        raise ProtocolError(f"undecodable JSON frame ({err})") from None
    if not isinstance(message, dict):
        raise ProtocolError("JSON frame is not an object")
    return message


def decode_schema(payload: bytes | bytearray) -> pa.Schema:
    """A schema frame's Arrow schema; raises ProtocolError when undecodable."""
    try:
        return pa.ipc.read_schema(pa.py_buffer(payload))
    except (pa.ArrowException, ValueError) as err:
        raise ProtocolError(f"undecodable Arrow schema frame ({err})") from None


def decode_batch(payload: bytes | bytearray, schema: pa.Schema) -> pa.RecordBatch:
    """A batch frame's record batch (zero-copy over ``payload``); ProtocolError if undecodable."""
    try:
        return pa.ipc.read_record_batch(pa.py_buffer(payload), schema)
    except (pa.ArrowException, ValueError) as err:
        raise ProtocolError(f"undecodable Arrow batch frame ({err})") from None


def schema_to_text(schema: pa.Schema) -> str:
    """A schema as base64 text, to travel inside a JSON frame."""
    return base64.b64encode(schema.serialize().to_pybytes()).decode()


def schema_from_text(text: str) -> pa.Schema:
    """Inverse of :func:`schema_to_text`."""
    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(text)))


def plain_types(schema: pa.Schema) -> pa.Schema:
    """``schema`` with dictionary columns replaced by their value type.

    Record batch frames carry no dictionary messages, so dictionary-encoded columns (DuckDB
    ENUMs, for one) are decoded before they cross the pipe.
    """
    fields = [
        field.with_type(field.type.value_type) if pa.types.is_dictionary(field.type) else field
        for field in schema
    ]
    return pa.schema(fields, metadata=schema.metadata)
