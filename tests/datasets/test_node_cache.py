"""The node cache's stamps on a real S3-compatible server (moto's, on the loopback): a
second session start hashes nothing, and every way a cached file can change (overwrite,
truncate, replace by rename) or a stamp index can lie (corrupt, naming an absent file) is
caught by a full check and a fetch, never trusted."""

from __future__ import annotations

from collections.abc import Callable
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
