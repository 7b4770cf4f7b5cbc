"""Whatever stops a run, ``run.json`` ends with a final status and exit code: an error in
the quiet confirmation (a QsimError, as a workspace that cannot be created raises) gives
``failed`` / 2, a Ctrl-C while the report is written gives ``interrupted`` / 130 and a
resume writes the report. Real Ray and DuckDB; the failures are stand-ins raised where the
real ones would be."""

from __future__ import annotations

from pathlib import Path

import pytest
from runner_fixtures import wait_no_processes, write_config

from simulator.config import load_config
from simulator.errors import DatasetError
from simulator.jobs.run_report import write_report
from simulator.results.layout import HTML_FILE
from simulator.results.store import read_meta
from simulator.runner import run as run_module
from simulator.runner.run import Epilogue, execute_run

pytestmark = pytest.mark.slow


def _results_run(results: Path) -> Path:
    (run_dir,) = [p for p in results.iterdir() if p.is_dir()]
    return run_dir


def test_error_in_quiet_confirmation_leaves_the_run_failed(
    world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def workspace_refused(*args: object, **kwargs: object) -> None:
        raise DatasetError("workspace /nowhere: cannot be created")

    monkeypatch.setattr(run_module, "confirm_quietly", workspace_refused)
    config = write_config(
        tmp_path / "run.toml", world, tmp_path / "results", perf={"enabled": False}
    )
    with pytest.raises(DatasetError):
        execute_run(load_config(config))
    meta = read_meta(_results_run(tmp_path / "results"))
    assert (meta.status, meta.exit_code) == ("failed", 2)
    assert meta.finished_at
    assert wait_no_processes(meta.run_id) == []


def test_interrupt_while_reporting_leaves_the_run_interrupted_and_resume_reports(
    world: Path, tmp_path: Path
) -> None:
    def interrupted(run_dir: Path) -> Epilogue:
        raise KeyboardInterrupt

    cfg = load_config(
        write_config(tmp_path / "run.toml", world, tmp_path / "results", perf={"enabled": False})
    )
    outcome = execute_run(cfg, after_complete=interrupted)
    assert (outcome.status, outcome.exit_code) == ("interrupted", 130)
    meta = read_meta(outcome.run_dir)
    assert (meta.status, meta.exit_code) == ("interrupted", 130)
    resumed = execute_run(cfg, run_id=outcome.run_id, resume=True, after_complete=write_report)
    assert resumed.status == "complete"
    assert (outcome.run_dir / HTML_FILE).is_file()
