"""The node cache: this machine's copies of the files of object-store generations.

Every node that runs sessions keeps the files it needs under
``<cache>/<generation id>/tables/...`` (the store's own layout). A cached file is used only
when it is the content the manifest lists; a missing, partial or corrupted one is fetched
again from the store. A fetch streams into a temporary file beside the target, checks the
hash, and renames it into place, so a reader never sees a half-written file and concurrent
sessions on one node may fetch the same file.

Checking is O(files), not O(data): once a file's size and xxh3_128 hash were checked
(fetched or hashed), its stamp (inode, size, mtime and ctime in ns) goes into the
generation's stamp index, ``<cache>/<generation id>/.stamps.json``. A use whose stamp
equals the recorded one trusts the file without reading it: writing to a file moves its
ctime, which no user process can set back, and a file replaced by a rename has another
inode. A different or missing stamp, or an unreadable index, means a full hash check as
on first use. A stamp is recorded only once the file system clock has moved past the
file's ctime, so a change made in the same clock tick as the check cannot hide behind
it. Sessions of one node update the index in turn (read, merge, rename over it, under the
lock file ``.stamps.lock``), so none loses another's stamps. One index per generation
rather than a stamp file beside each table file: table folders keep exactly the store's
layout, and a session start reads one small file.

The cache folder is ``$QSIM_CACHE`` on the node when set, else ``[dataset] cache`` of the
run config, else ``~/.cache/qsim/generations``. Deleting it between runs is always safe.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import xxhash

from simulator.datasets.layout import HASH_CHUNK_BYTES, file_hash, file_stamp
from simulator.datasets.store import Generation, process_alive
from simulator.errors import DatasetError

CACHE_ENV = "QSIM_CACHE"
DEFAULT_CACHE = Path("~/.cache/qsim/generations")
FETCH_SUFFIX = ".fetch-"
STAMPS_FILE = ".stamps.json"
STAMPS_LOCK = ".stamps.lock"
STAMPS_FORMAT = 1
# How often and how long to wait for the file system clock to pass a just-checked file's
# ctime (one clock tick is a few ms; a ctime further ahead is a clock set back).
TICK_WAIT_S = 0.002
CLOCK_WAIT_LIMIT_S = 0.5


def cache_root(configured: str | Path | None = None) -> Path:
    """This node's cache folder: ``$QSIM_CACHE``, else ``configured``, else the default."""
    chosen = os.environ.get(CACHE_ENV) or (str(configured) if configured else "")
    return (Path(chosen) if chosen else DEFAULT_CACHE).expanduser().absolute()


@dataclass
class CacheFill:
    """What :func:`fill_cache` did: files used as cached, fetched because missing, and
    fetched again because the cached copy did not match the manifest."""

    reused: int = 0
    fetched: int = 0
    refetched: int = 0
    bytes_fetched: int = 0


def fill_cache(generation: Generation, tenant: str) -> CacheFill:
    """Make every file of ``tenant``'s tables present and intact under
    ``generation.path`` (the node cache folder of an object-store generation). Refuses
    (DatasetError naming the object) a store object that is missing or whose content does
    not match the manifest: that generation is damaged, and nothing of it is cached."""
    fill = CacheFill()
    if generation.stored is None:
        return fill  # a local store's files are already on this disk
    recorded = _read_stamps(generation.path)
    checked: dict[str, list[int]] = {}  # path -> stamp of a file this call hashed
    for table in generation.tables(tenant):
        for file in generation.entry(tenant, table)["files"]:
            target = generation.path / file["path"]
            state, stamp = _cached_state(target, file, recorded.get(file["path"]))
            if state == "ok":
                fill.reused += 1
            else:
                stamp = _fetch(generation, file, target)
                fill.bytes_fetched += file["bytes"]
                if state == "missing":
                    fill.fetched += 1
                else:
                    fill.refetched += 1
            if stamp is not None:
                checked[file["path"]] = stamp
    if checked:
        _record_stamps(generation, tenant, checked)
    return fill


def _cached_state(
    target: Path, file: dict[str, Any], recorded: Any
) -> tuple[str, list[int] | None]:
    """``ok``, ``missing`` or ``damaged`` (wrong size or content hash), and the stamp to
    record when this call hashed the file and found it intact (None when it trusted an
    equal recorded stamp)."""
    try:
        stamp = file_stamp(target)
    except FileNotFoundError:
        return "missing", None
    except OSError:
        return "damaged", None
    if recorded == _stamp_entry(file, stamp):
        return "ok", None
    try:
        digest, size = file_hash(target)
    except OSError:
        return "damaged", None
    if (digest, size) != (file["xxhash"], file["bytes"]):
        return "damaged", None
    return "ok", stamp  # taken before hashing: a change while hashing moves the ctime


def _stamp_entry(file: dict[str, Any], stamp: list[int]) -> dict[str, Any]:
    """A stamp index entry: the file's stamp and the content hash it was checked for."""
    return {"xxhash": file["xxhash"], "stamp": stamp}


def _read_stamps(folder: Path) -> dict[str, Any]:
    """The recorded stamp entries by file path; empty when the index is missing,
    unreadable or not an index of this format (then every file is hashed)."""
    try:
        index = json.loads((folder / STAMPS_FILE).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(index, dict) or index.get("format") != STAMPS_FORMAT:
        return {}
    files = index.get("files")
    return files if isinstance(files, dict) else {}


def _record_stamps(generation: Generation, tenant: str, checked: dict[str, list[int]]) -> None:
    """Merge the stamps of files this call checked into the generation's index, under its
    lock. A stamp whose ctime is not older than the file system's clock could hide a change
    made later in the same tick: its file is hashed again once the clock has moved on, and
    left out when it changed (or the clock does not pass it soon). The index only saves
    work, so a cache folder where it cannot be written still works (every use hashes)."""
    folder = generation.path
    files = {
        f["path"]: f
        for t in generation.tables(tenant)
        for f in generation.entry(tenant, t)["files"]
    }
    with contextlib.suppress(OSError), open(folder / STAMPS_LOCK, "ab") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        now = _clock(lock)
        racy = [path for path, stamp in checked.items() if stamp[3] >= now]
        if racy:
            newest = max(checked[path][3] for path in racy)
            passed = _wait_past(lock, newest)
            for path in racy:
                del checked[path]  # unless it is the same file, hashed after the clock passed
                if passed:
                    state, stamp = _cached_state(folder / path, files[path], None)
                    if state == "ok" and stamp is not None and stamp[3] <= newest:
                        checked[path] = stamp
        index = _read_stamps(folder)
        index.update({path: _stamp_entry(files[path], stamp) for path, stamp in checked.items()})
        for leftover in folder.glob(f"{STAMPS_FILE}.tmp-*"):
            leftover.unlink()  # written by a process that died holding the lock
        partial = folder / f"{STAMPS_FILE}.tmp-{os.getpid()}"
        partial.write_text(json.dumps({"format": STAMPS_FORMAT, "files": index}))
        os.replace(partial, folder / STAMPS_FILE)


def _wait_past(lock: IO[bytes], ctime_ns: int) -> bool:
    """Wait until the file system clock is past ``ctime_ns``; False when it is not soon."""
    give_up = time.monotonic() + CLOCK_WAIT_LIMIT_S
    while _clock(lock) <= ctime_ns:
        if time.monotonic() > give_up:
            return False
        time.sleep(TICK_WAIT_S)
    return True


def _clock(lock: IO[bytes]) -> int:
    """The file system's current time in ns (as it stamps files): touch ``lock``, read it."""
    os.utime(lock.fileno())
    return os.fstat(lock.fileno()).st_mtime_ns


def _fetch(generation: Generation, file: dict[str, Any], target: Path) -> list[int] | None:
    """Copy one object into the cache through a checked temporary file; return the stamp
    of the file put in place (None when another process replaced it already)."""
    relative = file["path"]
    name = generation.stored_name(relative)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DatasetError(
            f"{target.parent}: cannot create cache folder ({err.strerror})"
        ) from None
    _remove_dead_fetches(target)
    partial = target.with_name(f"{target.name}{FETCH_SUFFIX}{os.getpid()}-{secrets.token_hex(4)}")
    hasher = xxhash.xxh3_128()
    size = 0
    try:
        with generation.open_stored(relative) as reader, open(partial, "wb") as writer:
            while chunk := reader.read(HASH_CHUNK_BYTES):
                hasher.update(chunk)
                size += len(chunk)
                writer.write(chunk)
            writer.flush()
            os.fsync(writer.fileno())
        if (hasher.hexdigest(), size) != (file["xxhash"], file["bytes"]):
            raise DatasetError(
                f"{name}: content differs from the manifest ({size} bytes, manifest "
                f"{file['bytes']}); not cached (run 'qsim dataset verify {generation.id[:12]}')"
            )
        os.chmod(partial, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        inode = os.stat(partial).st_ino
        os.replace(partial, target)
        stamp = file_stamp(target)
    except FileNotFoundError:
        raise DatasetError(f"{name}: missing from the store, cannot cache it") from None
    except OSError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DatasetError(f"{name}: cannot fetch into {target.parent} ({first})") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    return stamp if stamp[0] == inode else None


def _remove_dead_fetches(target: Path) -> None:
    """Remove temporary files of ``target`` left by fetching processes that died."""
    for leftover in target.parent.glob(f"{target.name}{FETCH_SUFFIX}*"):
        pid = leftover.name.rsplit(FETCH_SUFFIX, 1)[-1].split("-", 1)[0]
        if pid.isdigit() and process_alive(int(pid)):
            continue
        with contextlib.suppress(OSError):
            leftover.unlink()
