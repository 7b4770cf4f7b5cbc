"""The read-only table cache with real DuckDB workers: built once and reused, keyed by
generation and runtime, verified (a tampered file is rebuilt, never used), one build
for concurrent builders, bounded in size without removing entries in use."""

from __future__ import annotations

import os
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from adapter_fixtures import read_back, run, write_world
from engine_fixtures import DUCKDB_NEW, DUCKDB_OLD, duckdb_spec

from simulator.canonical import ChecksumAccumulator
from simulator.engines.read_only_cache import (
    ENTRY_MANIFEST,
    ReadOnlyCache,
    entry_key,
    file_hash,
    uses_cache,
)
from simulator.engines.runtime import ensure_runtime
from simulator.engines.worker import EngineWorker
from simulator.errors import EngineError

SPEC = duckdb_spec(DUCKDB_NEW, threads=1)


@pytest.fixture(scope="module")
def runtime():
    return ensure_runtime(SPEC)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return write_world(tmp_path_factory.mktemp("world"))


@pytest.fixture(scope="module")
def shared(tmp_path_factory, world, runtime) -> Path:
    """A cache folder whose entry for generation ``gen-a``, tenant t01 is built."""
    root = tmp_path_factory.mktemp("cache")
    lease = ReadOnlyCache(root).acquire(SPEC, runtime, "gen-a", "t01", world.tables)
    assert (lease.built, lease.reason) == (True, "missing")
    lease.release()
    return root


def checksums(worker: EngineWorker, table: str) -> tuple[object, ...]:
    rows = read_back(worker, table)
    accumulator = ChecksumAccumulator(rows.schema)
    for batch in rows.to_batches():
        accumulator.update(batch)
    result = accumulator.finish()
    return result.row_count, result.multiset, result.columns, result.column_types


def test_second_use_reuses_the_entry_without_building(shared, world, runtime):
    (database,) = shared.glob("*/engine.duckdb")
    inode, mtime = database.stat().st_ino, database.stat().st_mtime_ns
    # A later run: a new cache object over the same folder.
    later = ReadOnlyCache(shared)
    second = later.acquire(SPEC, runtime, "gen-a", "t01", world.tables)
    assert (second.built, second.reason, later.builds) == (False, "", 0)
    assert second.path == database
    assert (database.stat().st_ino, database.stat().st_mtime_ns) == (inode, mtime)
    assert oct(database.stat().st_mode & 0o777) == "0o444"
    second.release()


def test_generation_tenant_and_runtime_each_give_their_own_entry(tmp_path, shared, world, runtime):
    cache = ReadOnlyCache(shared)
    key = entry_key(SPEC, runtime, "gen-a", "t01")
    other_runtime = ensure_runtime(duckdb_spec(DUCKDB_OLD))
    keys = {
        key,
        entry_key(SPEC, runtime, "gen-b", "t01"),
        entry_key(SPEC, runtime, "gen-a", "t02"),
        entry_key(duckdb_spec(DUCKDB_OLD), other_runtime, "gen-a", "t01"),
        # The same runtime rebuilt (an unpinned release may have moved): a new entry.
        entry_key(SPEC, replace(runtime, path=tmp_path / "rebuilt-runtime"), "gen-a", "t01"),
    }
    assert len(keys) == 5
    # Settings that do not change what is loaded share the entry.
    assert entry_key(duckdb_spec(DUCKDB_NEW, threads=4), runtime, "gen-a", "t01") == key
    a = cache.acquire(SPEC, runtime, "gen-a", "t01", world.tables)
    b = cache.acquire(SPEC, runtime, "gen-b", "t01", world.tables)
    assert a.path != b.path and (a.built, b.built, cache.builds) == (False, True, 1)
    a.release()
    b.release()


def test_attached_entry_reads_exactly_like_a_workspace_copy(tmp_path, shared, world, runtime):
    lease = ReadOnlyCache(shared).acquire(SPEC, runtime, "gen-a", "t01", world.tables)
    cached = EngineWorker(lease.attach_settings(SPEC), runtime, tmp_path / "cached", world.tables)
    copied_spec = duckdb_spec(DUCKDB_NEW, threads=1, read_only_tables="copy")
    copied = EngineWorker(copied_spec, runtime, tmp_path / "copied", world.tables)
    try:
        cached.start()
        copied.start()
        for table in ("customers", "archive", "events"):
            assert checksums(cached, table) == checksums(copied, table)
        assert checksums(cached, "customers")[0] == 3
        kinds = run(
            cached,
            "SELECT table_name, table_type FROM information_schema.tables "
            "WHERE table_catalog = current_database() ORDER BY table_name",
        )[1]
        assert kinds is not None
        assert kinds.to_pylist() == [
            {"table_name": "archive", "table_type": "VIEW"},
            {"table_name": "customers", "table_type": "VIEW"},
            {"table_name": "events", "table_type": "BASE TABLE"},  # writable: a copy
        ]
        # The writable table is the workspace's own: a write lands there, not in the entry.
        assert run(cached, "DELETE FROM events WHERE day = '2024-01-01'")[0].status == "ok"
        assert cached.table_row_count("events") == 8
        assert sorted(cached.list_tables()) == ["archive", "customers", "events"]
        # A restarted worker re-attaches the entry and keeps the write.
        cached.restart()
        assert cached.table_row_count("events") == 8
        assert checksums(cached, "archive") == checksums(copied, "archive")
    finally:
        cached.close()
        copied.close()
        lease.release()


def test_tampered_entry_is_detected_and_rebuilt_never_used(tmp_path, world, runtime):
    cache = ReadOnlyCache(tmp_path / "cache")
    lease = cache.acquire(SPEC, runtime, "g", "t01", world.tables)
    built_hash = file_hash(lease.path)
    os.chmod(lease.path, 0o644)
    with open(lease.path, "r+b") as handle:
        handle.seek(lease.path.stat().st_size // 2)
        handle.write(b"\xde\xad\xbe\xef" * 64)
    assert file_hash(lease.path) != built_hash
    again = cache.acquire(SPEC, runtime, "g", "t01", world.tables)
    assert again.built and "content hash differs" in again.reason
    assert cache.builds == 2
    manifest = (again.path.parent / ENTRY_MANIFEST).read_text()
    assert file_hash(again.path) in manifest
    worker = EngineWorker(again.attach_settings(SPEC), runtime, tmp_path / "ws", world.tables)
    try:
        worker.start()
        assert worker.table_row_count("archive") == 12
    finally:
        worker.close()
        lease.release()
        again.release()


def test_same_content_with_a_new_stamp_is_restamped_not_rebuilt(shared, world, runtime):
    cache = ReadOnlyCache(shared)
    key = entry_key(SPEC, runtime, "gen-a", "t01")
    manifest_file = shared / key / ENTRY_MANIFEST
    before = manifest_file.read_text()
    os.chmod(shared / key / "engine.duckdb", 0o400)  # moves the ctime only
    lease = cache.acquire(SPEC, runtime, "gen-a", "t01", world.tables)
    assert (lease.built, cache.builds) == (False, 0)
    assert manifest_file.read_text() != before  # the new stamp is recorded
    lease.release()


def test_concurrent_builders_of_one_entry_build_it_once(tmp_path, world, runtime):
    caches = [ReadOnlyCache(tmp_path / "cache") for _ in range(3)]
    leases = []

    def acquire(cache: ReadOnlyCache) -> None:
        leases.append(cache.acquire(SPEC, runtime, "g", "t01", world.tables))

    threads = [threading.Thread(target=acquire, args=(cache,)) for cache in caches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(cache.builds for cache in caches) == 1
    assert len({lease.path for lease in leases}) == 1
    assert [p.name for p in (tmp_path / "cache").iterdir() if p.name.startswith(".build")] == []
    for lease in leases:
        lease.release()


def test_size_bound_evicts_least_recently_used_entries_not_in_use(tmp_path, world, runtime):
    cache = ReadOnlyCache(tmp_path / "cache", max_bytes=1)  # every entry is over the bound
    first = cache.acquire(SPEC, runtime, "g1", "t01", world.tables)
    second = cache.acquire(SPEC, runtime, "g2", "t01", world.tables)
    # Both are in use: neither was removed to make room.
    assert {info.manifest["generation"] for info in cache.entries()} == {"g1", "g2"}
    first.release()
    removed = cache.evict()
    assert [info.manifest["generation"] for info in removed] == ["g1"]
    assert first.path.exists() is False and second.path.exists()
    removed, kept = cache.clean()
    assert (removed, [info.manifest["generation"] for info in kept]) == ([], ["g2"])
    second.release()
    # What a killed builder left goes too.
    (tmp_path / "cache" / f".build-{'0' * 32}-dead").mkdir()
    removed, kept = cache.clean()
    assert ([info.manifest["generation"] for info in removed], kept) == (["g2"], [])
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [".locks"]


def test_only_attachable_adapters_in_cache_mode_use_the_cache():
    assert uses_cache(SPEC)
    assert not uses_cache(duckdb_spec(DUCKDB_NEW, read_only_tables="copy"))
    assert not uses_cache(duckdb_spec(DUCKDB_NEW, read_only_tables="views"))
    assert not uses_cache(replace(SPEC, adapter="sqlite"))


def test_entry_that_cannot_be_built_fails_in_one_line_naming_the_engine(tmp_path, runtime):
    world = write_world(tmp_path / "w")
    broken = [replace(world.tables[2], files=(str(tmp_path / "missing.parquet"),))]
    with pytest.raises(Exception) as info:
        ReadOnlyCache(tmp_path / "cache").acquire(SPEC, runtime, "g", "t01", broken)
    assert f"engine {SPEC.name}" in str(info.value) and "\n" not in str(info.value)
    assert not any(p.name.startswith(".build") for p in (tmp_path / "cache").iterdir())
    assert not any(
        p.is_dir() and not p.name.startswith(".") for p in Path(tmp_path / "cache").iterdir()
    )


def test_a_read_only_table_missing_from_the_entry_fails_the_start_in_one_line(
    tmp_path, shared, world, runtime
):
    lease = ReadOnlyCache(shared).acquire(SPEC, runtime, "gen-a", "t01", world.tables)
    ghost = replace(world.tables[2], name="ghost")
    worker = EngineWorker(
        lease.attach_settings(SPEC), runtime, tmp_path / "ws", [*world.tables, ghost]
    )
    try:
        with pytest.raises(EngineError) as info:
            worker.start()
        assert f"read-only database {lease.path} has no table 'ghost'" in str(info.value)
        assert "\n" not in str(info.value)
    finally:
        worker.close()
        lease.release()
