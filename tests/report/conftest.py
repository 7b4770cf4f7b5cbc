"""Fixtures of the report tests: a results folder in tmp_path and a run-folder writer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from report_run_folders import RunSpec, write_run


@pytest.fixture
def results(tmp_path: Path) -> Path:
    path = tmp_path / "results"
    path.mkdir()
    return path


@pytest.fixture
def make_run(results: Path) -> Callable[..., Path]:
    """Write a run folder under ``results``: make_run("r1", regressions={...})."""

    def make(run_id: str, **fields: Any) -> Path:
        return write_run(results, RunSpec(run_id=run_id, **fields))

    return make
