"""The worker protocol: length-prefixed frames over the worker's stdin/stdout.

Imported on both sides (the parent and the worker process inside an engine runtime), so it
depends only on the standard library and pyarrow.

A frame is ``HEADER`` (magic ``b"QS"``, one kind byte, payload length as little-endian u32)
followed by the payload:

* ``J``: a UTF-8 JSON object (requests and responses).
* ``S``: an Arrow IPC schema message (``Schema.serialize()``), opening a result.
* ``B``: an Arrow IPC record batch message (``RecordBatch.serialize()``) of that result.
* ``H``: canonical row hashes of that result, little-endian uint64 (``ResultRequest``'s
  ``row_hash_cap``).

A request is one ``J`` frame. Its response is zero or one ``S`` frame, any number of ``B``
(or ``H``) frames, then one ``J`` frame with ``status`` (``ok``, ``error``, or
``harness_error`` when the worker cannot encode or checksum a result). Schemas and batches
cross in their :func:`wire_type`. Anything else on the stream (wrong magic, unknown kind,
bad JSON) is a :class:`ProtocolError`: the parent declares the worker broken and replaces
it. A well-framed schema or batch the parent cannot decode (:class:`ArrowDecodeError`) leaves the
stream in step: the result is a ``harness_error`` and the worker is kept.
"""

from __future__ import annotations

import base64
import json
import os
import select
import struct
import time
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

PROTOCOL_VERSION = 2
MAGIC = b"QS"
HEADER = struct.Struct("<2sBI")
KIND_JSON = ord("J")
KIND_SCHEMA = ord("S")
KIND_BATCH = ord("B")
KIND_HASHES = ord("H")
KINDS = (KIND_JSON, KIND_SCHEMA, KIND_BATCH, KIND_HASHES)
MAX_FRAME = 1 << 31
# Small frames are gathered into one write; larger payloads go straight to the pipe.
_GATHER_LIMIT = 256 * 1024
_READ_CHUNK = 1 << 20


class ProtocolError(Exception):
    """The byte stream from a worker is not a valid frame sequence."""


class ArrowDecodeError(ProtocolError):
    """A well-framed schema or batch frame whose Arrow this side cannot decode."""


class EncodeError(Exception):
    """A result the worker cannot put on the protocol (a harness failure, not the engine's)."""


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
    """Reads frames from a file descriptor, each read bounded by an optional deadline;
    ``bytes_read`` counts every byte taken from it (headers included)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.bytes_read = 0
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
        self.bytes_read += len(chunk)
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
            self.bytes_read += got
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


# A result (or a table read-back) is checksummed inside the worker only once it passes
# either bound; a smaller one crosses as rows and the parent checksums it. Checksumming in
# the worker saves about 100 ns of CPU a row (sending and reading it), but a worker's first
# use costs it about 0.57 s of CPU, loading numba and the cached kernels
# (benchmarks/bench_worker_hashing.py, RESULTS.md): only a worker that sees large results
# pays that back (100,000 rows cost ~10 ms to send), and most workers, which see only
# smaller ones, never load numba.
WORKER_HASH_ROWS = 100_000
WORKER_HASH_BYTES = 8 << 20
# Where a worker finds canonical hashing's packages (its runtime's ``hashing/`` folder, set
# by ``Runtime.env``); put on the path only when the worker first hashes.
HASHING_PATH_ENV = "QSIM_HASHING_PATH"


@dataclass(frozen=True)
class ResultRequest:
    """What the worker does with a result besides counting its rows (``execute``'s
    ``result``): the rows themselves cross only when the comparison needs them.

    ``checksum``: compute the canonical ``ResultChecksum`` in the worker (reply field
    ``checksum``, or ``checksum_error`` for data qsim cannot checksum). The rows are sent
    (``B`` frames, after the whole result is checksummed) only when :meth:`keeps` says so
    for the result's schema and it has at most ``keep_rows`` rows. ``row_hash_cap``: send
    instead each row's canonical hash over the columns that compare exactly (not floats),
    as ``H`` frames, when there are at most that many rows (reply ``row_hash_columns``).
    """

    checksum: bool = False
    keep_rows: int = 0
    order_keys: tuple[str, ...] = ()
    ordered: bool = False
    limited: bool = False
    row_hash_cap: int | None = None

    def keeps(self, schema: pa.Schema) -> bool:
        """Whether a result of ``schema`` is kept for the comparison: float or decimal
        columns, a LIMIT, or an ORDER BY whose keys leave room for ties."""
        if any(pa.types.is_floating(f.type) or pa.types.is_decimal(f.type) for f in schema):
            return True
        keys = {key.casefold() for key in self.order_keys}
        total = self.ordered and all(f.name.casefold() in keys for f in schema)
        # A total order fixes every row and its position: the checksums decide without rows.
        return not total and (self.ordered or self.limited)

    def to_wire(self) -> dict[str, Any]:
        """The request as a JSON object; :meth:`from_wire` reads it back."""
        return {
            "checksum": self.checksum,
            "keep_rows": self.keep_rows,
            "order_keys": list(self.order_keys),
            "ordered": self.ordered,
            "limited": self.limited,
            "row_hash_cap": self.row_hash_cap,
        }

    @classmethod
    def from_wire(cls, wire: dict[str, Any]) -> ResultRequest:
        """Inverse of :meth:`to_wire`."""
        cap = wire.get("row_hash_cap")
        return cls(
            checksum=bool(wire.get("checksum")),
            keep_rows=int(wire.get("keep_rows") or 0),
            order_keys=tuple(str(key) for key in wire.get("order_keys") or ()),
            ordered=bool(wire.get("ordered")),
            limited=bool(wire.get("limited")),
            row_hash_cap=None if cap is None else int(cap),
        )


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
        raise ArrowDecodeError(f"undecodable Arrow schema frame ({err})") from None


def decode_batch(payload: bytes | bytearray, schema: pa.Schema) -> pa.RecordBatch:
    """A batch frame's record batch (zero-copy over ``payload``); ProtocolError if undecodable."""
    try:
        return pa.ipc.read_record_batch(pa.py_buffer(payload), schema)
    except (pa.ArrowException, ValueError) as err:
        raise ArrowDecodeError(f"undecodable Arrow batch frame ({err})") from None


def schema_to_text(schema: pa.Schema) -> str:
    """A schema as base64 text, to travel inside a JSON frame."""
    return base64.b64encode(schema.serialize().to_pybytes()).decode()


def schema_from_text(text: str) -> pa.Schema:
    """Inverse of :func:`schema_to_text`."""
    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(text)))


def wire_type(t: pa.DataType) -> pa.DataType:
    """The type a value of Arrow type ``t`` crosses the protocol as.

    Equal to ``t`` except, at any depth: dictionary-encoded values (DuckDB ENUMs) become
    their value type, since record batch frames carry no dictionary messages; and map keys
    become non-nullable, since older engines (DuckDB before 1.2) declare them nullable and
    IPC readers refuse such a map. Canonical hashing treats both forms alike.
    """
    if pa.types.is_dictionary(t):
        return wire_type(t.value_type)
    if pa.types.is_map(t):
        key = t.key_field.with_type(wire_type(t.key_type)).with_nullable(False)
        return pa.map_(key, t.item_field.with_type(wire_type(t.item_type)), t.keys_sorted)
    if pa.types.is_struct(t):
        return pa.struct([_wire_field(t.field(i)) for i in range(t.num_fields)])
    if pa.types.is_union(t):
        fields = [_wire_field(t.field(i)) for i in range(t.num_fields)]
        return pa.union(fields, t.mode, list(t.type_codes))
    for is_list, make in _LISTS:
        if is_list(t):
            return make(t)
    return t


def _wire_field(field: pa.Field) -> pa.Field:
    return field.with_type(wire_type(field.type))


_LISTS = (
    (pa.types.is_list, lambda t: pa.list_(_wire_field(t.value_field))),
    (pa.types.is_large_list, lambda t: pa.large_list(_wire_field(t.value_field))),
    (pa.types.is_fixed_size_list, lambda t: pa.list_(_wire_field(t.value_field), t.list_size)),
    (pa.types.is_list_view, lambda t: pa.list_view(_wire_field(t.value_field))),
    (pa.types.is_large_list_view, lambda t: pa.large_list_view(_wire_field(t.value_field))),
)


def wire_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` with every column in its :func:`wire_type`."""
    return pa.schema([_wire_field(field) for field in schema], metadata=schema.metadata)


def to_wire(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """``batch`` cast to ``schema`` (its :func:`wire_schema`) where a column differs.

    Raises :class:`EncodeError` naming the column and its Arrow type when a value cannot be
    cast (a map holding a NULL key, a union of dictionaries, an engine's odd batch).
    """
    if batch.schema == schema:
        return batch
    arrays = []
    for column, field in zip(batch.columns, schema, strict=True):
        try:
            arrays.append(column if column.type == field.type else column.cast(field.type))
        except (pa.ArrowException, ValueError, TypeError) as err:
            raise EncodeError(
                f"column {field.name!r} of Arrow type {column.type} cannot cross the protocol "
                f"as {field.type}: {err}"
            ) from None
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
