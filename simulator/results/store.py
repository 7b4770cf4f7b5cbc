"""The run folder writer: ``run.json`` plus append-only JSONL record files, written durably.

Every record is appended as one JSON line and the file is fsync'd before the runner counts
the record as done, so a driver killed at any instant leaves at most one torn last line,
which :meth:`RunStore.load` drops (and :meth:`RunStore.repair` truncates). ``run.json`` is
replaced atomically (write a temporary file, fsync, rename). The driver is the only writer;
a lock file refuses a second driver on the same run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from simulator.errors import RunError
from simulator.results.layout import LOCK_FILE, RUN_FILE, RecordKind, is_run_folder, result_file_name
from simulator.results.masking import mask_record, raw_values_allowed
from simulator.results.meta import RunMeta

DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


def record_key(kind: str, record: dict[str, Any]) -> str:
    """The identity of a record: a resumed run keeps exactly one record per key."""
    if kind == RecordKind.EXECUTIONS:
        return str(record["execution_id"])
    if kind == RecordKind.VERDICTS:
        return f"{record['candidate']}|{record['query_id']}"
    if kind == RecordKind.PERF:
        return f"{record['candidate']}|{record['tenant']}|{record['pattern_id']}"
    if kind == RecordKind.LOAD:
        return f"{record['candidate']}|{record['pattern_id']}"
    if kind == RecordKind.PLANS:
        return f"{record['engine']}|{record['pattern_id']}"
    raise ValueError(f"unknown record file {kind!r}")


def _write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` to ``fd`` (the single point where records hit the disk)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _disk_full(path: Path, err: OSError, kept: int, run_id: str) -> RunError:
    return RunError(
        f"{path}: disk full ({errno.errorcode.get(err.errno or 0, err.errno)}) while recording; "
        f"{kept} records kept intact, free space and resume with --resume {run_id}"
    )


class RunStore:
    """One run folder under ``results/``: metadata, record files, kept result files."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.run_id = self.run_dir.name
        self._fds: dict[str, int] = {}
        self._counts: dict[str, int] = {}
        self._lock_fd: int | None = None
        self._raw_values: bool | None = None

    # -- creation and locking -------------------------------------------------------------
    @classmethod
    def create(cls, results_dir: Path, run_id: str, meta: RunMeta) -> RunStore:
        """Create ``results_dir/run_id`` with ``run.json`` (``meta`` with its ``run_id``
        set); refuse an existing folder."""
        run_dir = Path(results_dir) / run_id
        try:
            run_dir.mkdir(parents=True, exist_ok=False)
        except FileExistsError:
            raise RunError(f"{run_dir}: run folder already exists; use --resume {run_id}") from None
        except OSError as err:
            raise RunError(f"{run_dir}: cannot create run folder ({err.strerror})") from None
        store = cls(run_dir)
        store.lock()
        store.write_meta(dataclasses.replace(meta, run_id=run_id))
        return store

    @classmethod
    def open_existing(cls, results_dir: Path, run_id: str) -> RunStore:
        """Open a run folder to resume it; refuse a missing or unreadable one."""
        run_dir = Path(results_dir) / run_id
        if not is_run_folder(run_dir):
            known = sorted(p.parent.name for p in Path(results_dir).glob(f"*/{RUN_FILE}"))
            hint = f" (runs there: {', '.join(known[-3:])})" if known else ""
            raise RunError(f"{run_dir}: no such run to resume{hint}")
        store = cls(run_dir)
        store.lock()
        store.read_meta()
        return store

    def lock(self) -> None:
        """Take the run's lock file; a second driver on the same run gets a RunError."""
        fd = os.open(self.run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunError(f"{self.run_dir}: another qsim process is running this run") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd

    def close(self) -> None:
        """Close record files and release the lock (safe to call twice)."""
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # -- run.json ---------------------------------------------------------------------------
    @property
    def meta_path(self) -> Path:
        return self.run_dir / RUN_FILE

    def read_meta(self) -> RunMeta:
        """The parsed ``run.json``; RunError naming the file when it is damaged."""
        return read_meta(self.run_dir)

    def write_meta(self, meta: RunMeta) -> None:
        """Replace ``run.json`` atomically."""
        self.write_json_atomic(self.meta_path, meta.to_dict())

    def update_meta(self, **fields: Any) -> RunMeta:
        """Set ``fields`` of the run meta in ``run.json`` and return the new meta."""
        meta = dataclasses.replace(self.read_meta(), **fields)
        self.write_meta(meta)
        return meta

    def write_json_atomic(self, path: Path, data: Any) -> None:
        """Write JSON to ``path`` via a fsync'd temporary file and a rename."""
        self.write_bytes_atomic(path, json.dumps(data, indent=2, default=str).encode() + b"\n")

    def write_bytes_atomic(self, path: Path, data: bytes, *, sync: bool = True) -> None:
        """Write ``data`` to ``path`` via a temporary file and a rename (fsync'd first
        unless ``sync`` is false)."""
        tmp = path.with_name(f".{path.name}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                _write_all(fd, data)
                if sync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except OSError as err:
            tmp.unlink(missing_ok=True)
            if err.errno in DISK_FULL_ERRNOS:
                raise _disk_full(
                    path, err, self._counts.get("executions", 0), self.run_id
                ) from None
            raise RunError(f"{path}: cannot write ({err.strerror})") from None

    # -- records ----------------------------------------------------------------------------
    def path(self, kind: str) -> Path:
        return self.run_dir / RecordKind(kind).file_name

    def append(self, kind: str, records: Iterable[dict[str, Any]]) -> None:
        """Append records as JSON lines with one write and one fsync.

        Engine text that may quote customer values is masked first
        (:func:`~simulator.results.masking.mask_record`) unless the run opted in to a diff
        sample. On a full disk the file is cut back to its last complete line and a
        RunError says how many records are kept; nothing already recorded is lost.
        """
        data = b"".join(json.dumps(self._safe(r), default=str).encode() + b"\n" for r in records)
        if not data:
            return
        fd = self._fd(kind)
        size = os.fstat(fd).st_size
        try:
            _write_all(fd, data)
            os.fsync(fd)
        except OSError as err:
            # Cut back to the last complete line; if even that fails, load() drops the tail.
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)
            if err.errno in DISK_FULL_ERRNOS:
                raise _disk_full(
                    self.path(kind), err, self._counts.get(kind, 0), self.run_id
                ) from None
            raise RunError(f"{self.path(kind)}: cannot append ({err.strerror})") from None
        self._counts[kind] = self._counts.get(kind, 0) + data.count(b"\n")

    def _safe(self, record: dict[str, Any]) -> dict[str, Any]:
        """``record`` as it may be written: masked unless ``report.diff_sample_rows > 0``."""
        if self._raw_values is None:
            try:
                self._raw_values = raw_values_allowed(self.read_meta().config)
            except RunError:  # no readable run.json: the safe default
                self._raw_values = False
        return record if self._raw_values else mask_record(record)

    def _fd(self, kind: str) -> int:
        kind = RecordKind(kind)  # ValueError for an unknown record file
        if kind not in self._fds:
            self._fds[kind] = os.open(
                self.path(kind), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644
            )
        return self._fds[kind]

    def load(self, kind: str) -> list[dict[str, Any]]:
        """All complete records of ``kind``, deduplicated by key (the last one wins).

        A torn last line (driver killed mid-write) is ignored.
        """
        path = self.path(kind)
        if not path.exists():
            return []
        by_key: dict[str, dict[str, Any]] = {}
        for line in path.read_bytes().split(b"\n"):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            by_key[record_key(kind, record)] = record
        return list(by_key.values())

    def rewrite(self, kind: str, records: list[dict[str, Any]]) -> None:
        """Atomically replace a record file with ``records`` (resume compaction)."""
        if kind in self._fds:
            os.close(self._fds.pop(kind))
        data = b"".join(json.dumps(self._safe(r), default=str).encode() + b"\n" for r in records)
        self.write_bytes_atomic(self.path(kind), data)
        self._counts[kind] = len(records)

    def keep_records(
        self, kind: str, keep: Callable[[dict[str, Any]], bool]
    ) -> list[dict[str, Any]]:
        """Load, deduplicate, drop the records ``keep`` refuses, rewrite; return the kept ones."""
        records = [r for r in self.load(kind) if keep(r)]
        self.rewrite(kind, records)
        return records

    def count(self, kind: str) -> int:
        """Records appended or rewritten by this store object."""
        return self._counts.get(kind, 0)

    # -- kept result files ------------------------------------------------------------------
    def write_result_file(self, execution_id: str, data: bytes) -> str:
        """Keep an Arrow IPC result under ``results/``; returns the path relative to the run.

        Not fsync'd on its own (one fsync per kept result would dominate the driver's
        time): it is complete once renamed, which a killed driver cannot undo, and the
        record that names it is fsync'd after it.
        """
        name = result_file_name(execution_id)
        (self.run_dir / name).parent.mkdir(exist_ok=True)
        self.write_bytes_atomic(self.run_dir / name, data, sync=False)
        return name


def read_meta(run_dir: Path) -> RunMeta:
    """The ``run.json`` of ``run_dir``; RunError naming the file when it is missing or
    damaged."""
    path = Path(run_dir) / RUN_FILE
    try:
        return RunMeta.from_dict(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError, AttributeError) as err:
        raise RunError(f"{path}: unreadable run metadata ({err})") from None
