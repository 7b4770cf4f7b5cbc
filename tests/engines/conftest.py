"""Shared fixtures for engine tests: real runtimes (built once, cached by spec hash under
the default runtimes root, safe under xdist thanks to the build lock) and a tiny world."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from adapter_fixtures import adapter_worker, local_postgres  # noqa: F401  (fixtures)
from engine_fixtures import write_events

from simulator.config import EngineSpec
from simulator.engines.contract import TableSpec
from simulator.engines.runtime import Runtime, default_root, ensure_runtime


@pytest.fixture(scope="session")
def runtime_for() -> Callable[[EngineSpec], Runtime]:
    """Build (or reuse) the runtime of a spec under the shared cache root."""
    built: dict[tuple[str, tuple[str, ...]], Runtime] = {}

    def get(spec: EngineSpec) -> Runtime:
        key = (spec.adapter, tuple(spec.requirements))
        if key not in built:
            built[key] = ensure_runtime(spec, default_root())
        return built[key]

    return get


@pytest.fixture
def world(tmp_path: Path) -> dict[str, object]:
    """A generation folder with ``events`` (read-only) and a workspace copy ``sink``
    (writable, same rows) for write tests; returns tables, generation and workspace."""
    generation = tmp_path / "generation"
    events = write_events(generation)
    sink = write_events(tmp_path / "workspace-copy", writable=True)
    sink = TableSpec("sink", sink.files, sink.schema, sink.partition_columns, True)
    workspace = tmp_path / "workspace"
    return {"tables": [events, sink], "generation": generation, "workspace": workspace}
