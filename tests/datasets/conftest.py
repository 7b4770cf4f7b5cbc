"""Shared tiny generations: one per test session (per xdist worker), copied when a test
must damage or extend it."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path
from typing import BinaryIO

import pytest

from simulator.datasets.store import Generation, GenerationStore

SCALE = 0.002  # about 20k rows over 3 tenants
TENANTS = 3
SEED = 7


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Generation:
    """A committed synthetic world: treat as read-only, copy it (``store_copy``) to damage."""
    store = GenerationStore(tmp_path_factory.mktemp("world") / "store")
    return store.generate("world", SCALE, SEED, TENANTS)


@pytest.fixture
def store_copy(tmp_path: Path, world: Generation) -> GenerationStore:
    """A private copy of the session store, files made writable so tests can damage them."""
    root = tmp_path / "store"
    shutil.copytree(world.path.parent, root)
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            os.chmod(os.path.join(dirpath, name), 0o644)
    return GenerationStore(root)


class FakeFullDisk:
    """A fake for a fault we cannot cause portably: the disk fills up after ``files``
    output files were opened; every later write raises OSError(ENOSPC). Passed to the store
    through its ``output`` seam."""

    def __init__(self, files: int) -> None:
        self.files = files
        self.opened = 0

    def __call__(self, path: Path) -> BinaryIO:
        self.opened += 1
        handle = open(path, "wb")  # noqa: SIM115 (returned to the store, which closes it)
        if self.opened > self.files:
            handle.close()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return handle


class InterruptAfter:
    """Raises KeyboardInterrupt (a user's Ctrl-C) when the store opens file number ``files + 1``."""

    def __init__(self, files: int) -> None:
        self.files = files
        self.opened = 0

    def __call__(self, path: Path) -> BinaryIO:
        self.opened += 1
        if self.opened > self.files:
            raise KeyboardInterrupt
        return open(path, "wb")  # the store closes it


@pytest.fixture
def fake_full_disk() -> type[FakeFullDisk]:
    return FakeFullDisk


@pytest.fixture
def interrupt_after() -> type[InterruptAfter]:
    return InterruptAfter
