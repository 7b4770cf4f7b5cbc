"""The node cache: this machine's copies of the files of object-store generations.

Every node that runs sessions keeps the files it needs under
``<cache>/<generation id>/tables/...`` (the store's own layout). A cached file is used only
when its size and xxh3_128 hash match the manifest, checked on every use; a missing,
partial or corrupted one is fetched again from the store. A fetch streams into a
temporary file beside the target, checks the hash, and renames it into place, so a reader
never sees a half-written file and concurrent sessions on one node may fetch the same file.

The cache folder is ``$QSIM_CACHE`` on the node when set, else ``[dataset] cache`` of the
run config, else ``~/.cache/qsim/generations``. Deleting it between runs is always safe.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xxhash

from simulator.datasets.layout import HASH_CHUNK_BYTES, file_hash
from simulator.datasets.store import Generation, process_alive
from simulator.errors import DatasetError

CACHE_ENV = "QSIM_CACHE"
DEFAULT_CACHE = Path("~/.cache/qsim/generations")
FETCH_SUFFIX = ".fetch-"


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
    for table in generation.tables(tenant):
        for file in generation.entry(tenant, table)["files"]:
            target = generation.path / file["path"]
            state = _cached_state(target, file)
            if state == "ok":
                fill.reused += 1
                continue
            _fetch(generation, file, target)
            fill.bytes_fetched += file["bytes"]
            if state == "missing":
                fill.fetched += 1
            else:
                fill.refetched += 1
    return fill


def _cached_state(target: Path, file: dict[str, Any]) -> str:
    """``ok``, ``missing`` or ``damaged`` (wrong size or content hash)."""
    try:
        digest, size = file_hash(target)
    except FileNotFoundError:
        return "missing"
    except OSError:
        return "damaged"
    return "ok" if (digest, size) == (file["xxhash"], file["bytes"]) else "damaged"


def _fetch(generation: Generation, file: dict[str, Any], target: Path) -> None:
    """Copy one object into the cache through a checked temporary file."""
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
        os.replace(partial, target)
    except FileNotFoundError:
        raise DatasetError(f"{name}: missing from the store, cannot cache it") from None
    except OSError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DatasetError(f"{name}: cannot fetch into {target.parent} ({first})") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()


def _remove_dead_fetches(target: Path) -> None:
    """Remove temporary files of ``target`` left by fetching processes that died."""
    for leftover in target.parent.glob(f"{target.name}{FETCH_SUFFIX}*"):
        pid = leftover.name.rsplit(FETCH_SUFFIX, 1)[-1].split("-", 1)[0]
        if pid.isdigit() and process_alive(int(pid)):
            continue
        with contextlib.suppress(OSError):
            leftover.unlink()
