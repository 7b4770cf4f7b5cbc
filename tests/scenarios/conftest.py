"""Scenario tests reuse the runner tests' tiny world and config helpers."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runner"))

from runner_fixtures import build_world, world_root


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny generation + workload, shared by all xdist workers of the session."""
    return build_world(world_root(tmp_path_factory.getbasetemp()))
