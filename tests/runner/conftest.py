"""Fixtures for runner tests: the shared tiny world and a per-test results folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from runner_fixtures import build_world, world_root


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny generation + workload, shared by all xdist workers of the session."""
    return build_world(world_root(tmp_path_factory.getbasetemp()))
