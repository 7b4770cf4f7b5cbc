"""The node cache's stamps on a real S3-compatible server (moto's, on the loopback): a
second session start hashes nothing, and every way a cached file can change (overwrite,
truncate, replace by rename) or a stamp index can lie (corrupt, naming an absent file) is
caught by a full check and a fetch, never trusted."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from s3_server import S3Server, s3_env, s3_server

from simulator.datasets import node_cache
from simulator.datasets.layout import file_hash
from simulator.datasets.node_cache import fill_cache
from simulator.datasets.object_store import ObjectGenerationStore
from simulator.datasets.store import Generation

__all__ = ["s3_env", "s3_server"]


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every file the node cache hashes, in order (an observation: the real hash runs)."""
    seen: list[Path] = []

    def counted(path: Path) -> tuple[str, int]:
        seen.append(Path(path))
        return file_hash(path)

    monkeypatch.setattr(node_cache, "file_hash", counted)
    return seen


@pytest.fixture
def cached(s3_env: S3Server, tmp_path: Path, world: Generation) -> tuple[Generation, list[Any]]:
    """Tenant t01 of ``world`` published to the S3 server and fetched into an empty cache:
    (the cached generation, t01's manifest file entries)."""
    store = ObjectGenerationStore(s3_env.uri(tmp_path.name), tmp_path / "cache")
    store.publish(world)
    generation = store.get(world.id)
    fill_cache(generation, "t01")
    files = [f for t in world.tables("t01") for f in world.entry("t01", t)["files"]]
    return generation, files


def test_second_session_start_hashes_nothing(
    cached: tuple[Generation, list[Any]], hashes: list[Path]
) -> None:
    generation, files = cached
    again = fill_cache(generation, "t01")
    assert (again.fetched, again.reused, again.refetched) == (0, len(files), 0)
    assert hashes == []
    # Every stamp was recorded once the file system clock had passed its ctime, so no later
    # change can share a recorded ctime.
    index_path = generation.path / node_cache.STAMPS_FILE
    index = json.loads(index_path.read_text())["files"]
    assert sorted(index) == sorted(f["path"] for f in files)
    assert all(entry["stamp"][3] < index_path.stat().st_mtime_ns for entry in index.values())
    # Another tenant's session merges its stamps into the index: nothing of t01's is lost.
    fill_cache(generation, "t02")
    merged = json.loads(index_path.read_text())["files"]
    assert {path: merged[path] for path in index} == index
    assert len(merged) == len(index) + sum(
        len(generation.entry("t02", t)["files"]) for t in generation.tables("t02")
    )


def _check_intact(generation: Generation, files: list[Any]) -> None:
    for file in files:
        assert file_hash(generation.path / file["path"]) == (file["xxhash"], file["bytes"])


def test_overwritten_truncated_or_replaced_files_are_refetched(
    cached: tuple[Generation, list[Any]], hashes: list[Path]
) -> None:
    generation, files = cached
    overwritten, truncated, replaced = (generation.path / f["path"] for f in files[:3])
    for path in (overwritten, truncated, replaced):
        os.chmod(path, 0o644)
    # A chmod moves the ctime: hashed, same content, re-stamped and used.
    chmodded = fill_cache(generation, "t01")
    assert (chmodded.reused, chmodded.fetched, chmodded.refetched) == (len(files), 0, 0)
    assert set(hashes) == {overwritten, truncated, replaced}  # twice when racy
    hashes.clear()
    # Same size, other bytes, mtime set back: only the ctime tells.
    before = overwritten.stat()
    data = bytearray(overwritten.read_bytes())
    data[100] ^= 0x01
    with open(overwritten, "r+b") as handle:
        handle.write(bytes(data))
    os.utime(overwritten, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert overwritten.stat().st_size == before.st_size
    with open(truncated, "r+b") as handle:
        handle.truncate(50)
    # Another file of the same size and mtime renamed over it: only the inode tells.
    before = replaced.stat()
    other = replaced.with_name("other")
    other.write_bytes(bytes(before.st_size))
    os.utime(other, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(other, replaced)
    repaired = fill_cache(generation, "t01")
    assert (repaired.reused, repaired.fetched, repaired.refetched) == (len(files) - 3, 0, 3)
    assert set(hashes) == {overwritten, truncated, replaced}  # twice when racy
    _check_intact(generation, files)
    hashes.clear()
    assert fill_cache(generation, "t01").reused == len(files)
    assert hashes == []


@pytest.mark.parametrize("index", ["{not json", "[]", '{"format": 1, "files": []}', "\udcff"])
def test_an_unreadable_stamp_index_is_never_trusted(
    cached: tuple[Generation, list[Any]], hashes: list[Path], index: str
) -> None:
    generation, files = cached
    damaged = generation.path / files[0]["path"]
    os.chmod(damaged, 0o644)
    with open(damaged, "r+b") as handle:
        handle.seek(10)
        handle.write(b"\x00" * 8)
    (generation.path / node_cache.STAMPS_FILE).write_text(index, errors="surrogateescape")
    hashes.clear()
    checked = fill_cache(generation, "t01")
    assert (checked.reused, checked.fetched, checked.refetched) == (len(files) - 1, 0, 1)
    assert set(hashes) == {generation.path / f["path"] for f in files}
    _check_intact(generation, files)
    # The index is whole again: the next start hashes nothing.
    hashes.clear()
    assert fill_cache(generation, "t01").reused == len(files)
    assert hashes == []


def test_a_stamped_file_that_is_gone_is_fetched(
    cached: tuple[Generation, list[Any]], hashes: list[Path]
) -> None:
    generation, files = cached
    gone = generation.path / files[-1]["path"]
    gone.unlink()
    assert (
        files[-1]["path"]
        in json.loads((generation.path / node_cache.STAMPS_FILE).read_text())["files"]
    )
    again = fill_cache(generation, "t01")
    assert (again.reused, again.fetched, again.refetched) == (len(files) - 1, 1, 0)
    assert set(hashes) <= {gone}  # the others trusted; the fetched one re-checked when racy
    _check_intact(generation, files)
