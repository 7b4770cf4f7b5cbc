"""Fixtures of the serve tests: the runners' shared tiny world, a config over it, a real
``qsim serve`` process (one per module) and one headless Chromium per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from chromium_launch import CHROMIUM, CHROMIUM_ARGS
from runner_fixtures import world, write_config
from serve_fixtures import Service, start_service

__all__ = ["browser", "serve_config", "service", "world"]


@pytest.fixture(scope="module")
def serve_config(world: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run config over the tiny world whose results (and history) are the module's own."""
    folder = tmp_path_factory.mktemp("serve")
    return write_config(folder / "serve.toml", world, folder / "results")


@pytest.fixture(scope="module")
def service(serve_config: Path) -> Iterator[Service]:
    """One loopback service for the module."""
    running = start_service(serve_config)
    yield running
    assert running.stop() == 0


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """One headless Chromium for the module."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed")
    with sync_api.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()
