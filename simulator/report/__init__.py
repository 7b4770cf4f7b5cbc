"""Reports: HTML diff report, JSON summary, JUnit XML, run history and accepted findings.

``write_reports(run_dir)`` is the stage's entry point: it writes ``summary.json``,
``junit.xml`` and ``report.html`` into the run folder, records the run in
``results/history.sqlite`` and returns the report's path.
"""

from __future__ import annotations

from pathlib import Path

from simulator.report.writer import ReportOutcome, generate_reports

__all__ = ["ReportOutcome", "generate_reports", "write_reports"]


def write_reports(run_dir: Path, *, history_db: Path | None = None) -> Path:
    """Write all report outputs of ``run_dir`` and record it in the history (by default
    ``history.sqlite`` beside the run folder); return the path of ``report.html``.

    Raises ReportError for a folder that is not a run or a locked/corrupt history database,
    in which case no file of the run folder is changed.
    """
    return generate_reports(run_dir, history_db=history_db).report_path
