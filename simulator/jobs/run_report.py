"""Run then report: the job behind ``qsim run``.

:func:`run_and_report` runs a config with the runner and, once the run is complete, writes
every report output into its folder and records it in the history beside it. A report
failure (say a locked history database) does not undo the run: the results and the exit
code stand, and the summary says what failed and how to rebuild the report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from simulator.config import RunConfig
from simulator.errors import ReportError
from simulator.report import write_reports
from simulator.runner.run import Epilogue, RunOutcome, execute_run


def write_report(run_dir: Path) -> Epilogue:
    """Write the report outputs of ``run_dir``; the summary note says where, or why not."""
    try:
        path = write_reports(run_dir)
    except ReportError as err:
        return Epilogue(
            note=f"report not written: {err} (rebuild it with: qsim report {run_dir.name})",
            error=str(err),
        )
    return Epilogue(note=f"report: {path}")


def run_and_report(cfg: RunConfig, **options: Any) -> RunOutcome:
    """Run ``cfg`` (``options`` as for :func:`~simulator.runner.run.execute_run`: run_id,
    resume, tenants, query_ids, pattern_ids, fresh_baseline, ray_address) and report it.

    Raises what ``execute_run`` raises; a report failure is in ``report_error`` instead.
    """
    return execute_run(cfg, after_complete=write_report, **options)
