"""The read-only table cache: one engine database file per tenant x generation x runtime.

Without it every engine of every run copies every table of its tenant into its workspace
at session start (O(data x engines x runs)). With it, an adapter that can attach a
database read-only (``ATTACHABLE_DATABASES``) gets its tenant's tables from an entry built
once, by the same engine release, with the same loading code as a workspace copy, and
reused by every later session and run:

- **Key**: a hash of the adapter, the adapter module's source, the runtime (its spec hash
  and when it was built, so a rebuilt runtime of an unpinned release gets new entries),
  the generation id (itself a hash of the generation's content) and the tenant.
- **Build**: a worker of that runtime loads every table of the tenant in ``copy`` mode
  into a temporary folder beside the entries; the database file is made read-only,
  hashed (xxh3-128) and described in ``entry.json``; the folder is then renamed into
  place, so an entry is complete or absent. Builders of one key take its build lock in
  turn; the second finds the entry built.
- **Verify**: each use compares the file's stamp (inode, size, mtime and ctime in ns) with
  the manifest. Any change made through the file system moves the ctime, which no user
  process can set back, so a mismatch hashes the whole file: same content (a chmod, a
  restore from backup) re-stamps it, other content is rebuilt, never used.
- **Use**: a session holds the entry's use lock (shared) until it closes; eviction (the
  size bound, ``clean``) removes only entries whose use lock it can take exclusively.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

import xxhash

from simulator.config import EngineSpec
from simulator.datasets.layout import file_stamp
from simulator.engines.contract import TableSpec
from simulator.engines.registry import BUILTIN_ADAPTERS
from simulator.engines.runtime import MARKER, Runtime, default_root
from simulator.engines.worker import EngineWorker
from simulator.errors import EngineError

# Adapters that can attach a prebuilt database read-only: the file their ``copy`` mode
# writes in a workspace (what an entry holds).
ATTACHABLE_DATABASES: dict[str, str] = {"duckdb": "engine.duckdb"}
# The qsim settings an attachable adapter reads: its read-only mode and the entry's file.
MODE_SETTING = "read_only_tables"
DATABASE_SETTING = "read_only_database"
CACHE_MODE = "cache"
ENTRY_MANIFEST = "entry.json"
FOLDER_NAME = ".read-only-cache"
CACHE_FORMAT = 1
HASH_CHUNK = 8 << 20


def default_cache_root(runtimes_root: Path | None = None) -> Path:
    """``.read-only-cache`` under the runtimes root: entries are per engine release and,
    like runtimes, local to each node."""
    return (runtimes_root or default_root()) / FOLDER_NAME


def uses_cache(spec: EngineSpec) -> bool:
    """Whether ``spec``'s read-only tables come from the cache: an attachable adapter whose
    ``read_only_tables`` setting is ``cache`` (the default)."""
    return (
        spec.adapter in ATTACHABLE_DATABASES
        and spec.settings.get(MODE_SETTING, CACHE_MODE) == CACHE_MODE
    )


def file_hash(path: Path) -> str:
    """xxh3-128 of a file's bytes, as hex."""
    digest = xxhash.xxh3_128()
    with open(path, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _adapter_source_digest(adapter: str) -> str:
    found = importlib.util.find_spec(BUILTIN_ADAPTERS[adapter].partition(":")[0])
    assert found is not None and found.origin is not None
    return hashlib.sha256(Path(found.origin).read_bytes()).hexdigest()


def _runtime_built_at(runtime: Runtime) -> float:
    try:
        return float(json.loads((runtime.path / MARKER).read_text()).get("built_at", 0.0))
    except (OSError, ValueError):
        return 0.0


def entry_key(spec: EngineSpec, runtime: Runtime, generation_id: str, tenant: str) -> str:
    """The content address of ``tenant``'s entry for ``spec`` in ``runtime``."""
    content = {
        "format": CACHE_FORMAT,
        "adapter": spec.adapter,
        "adapter_source": _adapter_source_digest(spec.adapter),
        "runtime": runtime.spec_hash,
        "runtime_built_at": _runtime_built_at(runtime),
        "generation": generation_id,
        "tenant": tenant,
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:32]


@dataclass
class CacheLease:
    """An entry in use: its database file, whether this use built it (and why), and the
    shared use lock that keeps eviction away until :meth:`release`."""

    key: str
    path: Path
    built: bool
    reason: str
    _lock: IO[bytes] | None = field(default=None, repr=False)

    def attach_settings(self, spec: EngineSpec) -> EngineSpec:
        """``spec`` whose adapter attaches this entry read-only for its read-only tables."""
        settings = {**spec.settings, MODE_SETTING: CACHE_MODE, DATABASE_SETTING: str(self.path)}
        return replace(spec, settings=settings)

    def release(self) -> None:
        """Let go of the use lock (idempotent)."""
        if self._lock is not None:
            self._lock.close()
            self._lock = None


@dataclass(frozen=True)
class EntryInfo:
    """One entry as listing and eviction see it."""

    key: str
    folder: Path
    size_bytes: int
    last_used: float
    manifest: dict[str, Any]


class ReadOnlyCache:
    """The entries under ``root``; ``max_bytes`` (0: no bound) bounds their total size."""

    def __init__(self, root: Path, max_bytes: int = 0) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.builds = 0  # entries this object built (tests and benchmarks read it)

    def _lock_file(self, key: str, kind: str) -> Path:
        folder = self.root / ".locks"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{key}.{kind}"

    @contextlib.contextmanager
    def _build_lock(self, key: str) -> Iterator[None]:
        with open(self._lock_file(key, "build"), "ab") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def acquire(
        self,
        spec: EngineSpec,
        runtime: Runtime,
        generation_id: str,
        tenant: str,
        tables: list[TableSpec],
    ) -> CacheLease:
        """The verified entry of ``tenant``'s ``tables`` (the generation's own, all of them)
        for ``spec`` in ``runtime``, built when missing or damaged, held until released.

        Raises EngineError naming the engine when the entry cannot be built."""
        if spec.adapter not in ATTACHABLE_DATABASES:
            raise EngineError(f"engine {spec.name}: adapter {spec.adapter!r} has no cache")
        key = entry_key(spec, runtime, generation_id, tenant)
        use = open(self._lock_file(key, "use"), "ab")  # noqa: SIM115 (held by the lease)
        fcntl.flock(use, fcntl.LOCK_SH)
        try:
            problem = self._check(key)
            built = False
            if problem:
                with self._build_lock(key):
                    problem = self._check(key)
                    if problem:
                        self._build(key, spec, runtime, generation_id, tenant, tables)
                        built = True
            folder = self.root / key
            (folder / ".last-used").touch()
            lease = CacheLease(
                key, folder / ATTACHABLE_DATABASES[spec.adapter], built, problem, use
            )
        except BaseException:
            use.close()
            raise
        if built:
            self.evict()
        return lease

    def _check(self, key: str) -> str:
        """Empty when entry ``key`` is complete and its file is what was built; else why not."""
        folder = self.root / key
        try:
            manifest = json.loads((folder / ENTRY_MANIFEST).read_text())
            path = folder / manifest["file"]
            if manifest.get("key") != key or manifest.get("format") != CACHE_FORMAT:
                return "manifest of another entry"
            if file_stamp(path) == manifest["stamp"]:
                return ""
        except FileNotFoundError:
            return "missing"
        except (OSError, ValueError, KeyError, TypeError) as err:
            return f"unreadable manifest ({err})"
        if file_hash(path) != manifest["xxh3_128"]:
            return "database file changed since it was built (content hash differs)"
        manifest["stamp"] = file_stamp(path)
        _write_json(folder / ENTRY_MANIFEST, manifest)
        return ""

    def _build(
        self,
        key: str,
        spec: EngineSpec,
        runtime: Runtime,
        generation_id: str,
        tenant: str,
        tables: list[TableSpec],
    ) -> None:
        began = time.perf_counter()
        temporary = self.root / f".build-{key}-{uuid.uuid4().hex[:8]}"
        temporary.mkdir(parents=True)
        try:
            settings = {**spec.settings, MODE_SETTING: "copy"}
            settings.pop(DATABASE_SETTING, None)
            read_only = [replace(table, writable=False) for table in tables]
            worker = EngineWorker(replace(spec, settings=settings), runtime, temporary, read_only)
            try:
                worker.start()
            finally:
                worker.close()
            database = temporary / ATTACHABLE_DATABASES[spec.adapter]
            leftovers = [p.name for p in temporary.iterdir() if p.name.startswith(database.name)]
            if leftovers != [database.name]:
                raise EngineError(
                    f"engine {spec.name}: read-only cache entry for tenant {tenant} did not "
                    f"close cleanly (files: {', '.join(sorted(leftovers)) or 'none'})"
                )
            for child in temporary.iterdir():
                if child.is_dir():
                    shutil.rmtree(child)
            os.chmod(database, 0o444)
            manifest = {
                "format": CACHE_FORMAT,
                "key": key,
                "adapter": spec.adapter,
                "runtime": runtime.spec_hash,
                "generation": generation_id,
                "tenant": tenant,
                "tables": sorted(table.name for table in tables),
                "file": database.name,
                "size": database.stat().st_size,
                "xxh3_128": file_hash(database),
                "stamp": file_stamp(database),
                "built_at": time.time(),
                "build_s": round(time.perf_counter() - began, 3),
            }
            _write_json(temporary / ENTRY_MANIFEST, manifest)
            self._replace(key, temporary)
            self.builds += 1
        finally:
            shutil.rmtree(temporary, ignore_errors=True)

    def _replace(self, key: str, built: Path) -> None:
        """Put the built folder in place of entry ``key``; a damaged entry goes aside first
        (a session that attached it keeps reading its open file)."""
        folder = self.root / key
        if folder.exists():
            aside = self.root / f".trash-{key}-{uuid.uuid4().hex[:8]}"
            os.rename(folder, aside)
            shutil.rmtree(aside, ignore_errors=True)
        os.rename(built, folder)

    def entries(self) -> list[EntryInfo]:
        """Every complete entry, least recently used first."""
        if not self.root.is_dir():
            return []
        found = []
        for folder in self.root.iterdir():
            if folder.name.startswith(".") or not folder.is_dir():
                continue
            try:
                manifest = json.loads((folder / ENTRY_MANIFEST).read_text())
                used = folder / ".last-used"
                last_used = used.stat().st_mtime if used.exists() else folder.stat().st_mtime
                size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
            except (OSError, ValueError):
                continue
            found.append(EntryInfo(folder.name, folder, size, last_used, manifest))
        return sorted(found, key=lambda info: info.last_used)

    def remove(self, info: EntryInfo) -> bool:
        """Remove an entry unless a session uses it; True when removed."""
        with open(self._lock_file(info.key, "use"), "ab") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            with self._build_lock(info.key):
                aside = self.root / f".trash-{info.key}-{uuid.uuid4().hex[:8]}"
                with contextlib.suppress(FileNotFoundError):
                    os.rename(info.folder, aside)
                shutil.rmtree(aside, ignore_errors=True)
        return True

    def evict(self) -> list[EntryInfo]:
        """Remove least recently used entries not in use until the total fits ``max_bytes``;
        returns what was removed."""
        if not self.max_bytes:
            return []
        entries = self.entries()
        total = sum(info.size_bytes for info in entries)
        removed = []
        for info in entries:
            if total <= self.max_bytes:
                break
            if self.remove(info):
                total -= info.size_bytes
                removed.append(info)
        return removed

    def clean(self) -> tuple[list[EntryInfo], list[EntryInfo]]:
        """Remove every entry no session uses, and what killed builders left (a temporary
        folder whose build lock nobody holds); returns (removed, kept because in use)."""
        removed, kept = [], []
        for info in self.entries():
            (removed if self.remove(info) else kept).append(info)
        for folder in self.root.glob(".build-*"):
            key = folder.name.split("-")[1]
            with open(self._lock_file(key, "build"), "ab") as lock:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # a build in progress
                shutil.rmtree(folder, ignore_errors=True)
        for folder in self.root.glob(".trash-*"):
            shutil.rmtree(folder, ignore_errors=True)
        return removed, kept


def _write_json(path: Path, content: dict[str, Any]) -> None:
    """Write ``path`` atomically (a temporary file renamed over it)."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    temporary.write_text(json.dumps(content, indent=2, sort_keys=True))
    os.replace(temporary, path)
