"""The nightly pipeline: run the config against the listed candidates, write every report
output, compare with the previous night in the history, and apply the gate (see gate.py)."""

from __future__ import annotations

from pathlib import Path

from simulator.config import load_config
from simulator.jobs.candidates import with_candidates
from simulator.jobs.run_report import run_and_report
from simulator.report.writer import ReportOutcome, generate_reports
from simulator.results.layout import HISTORY_FILE


def run_nightly(
    config_path: Path, candidate_specs: list[str], *, ray_address: str | None = None
) -> ReportOutcome:
    """Run, report and gate one night; the outcome's ``gate.exit_code`` is the exit code.

    Refuses (QsimError) a bad config or candidate spec, a run that cannot start, and an
    unusable history database.
    """
    cfg = with_candidates(load_config(config_path), candidate_specs)
    outcome = run_and_report(cfg, ray_address=ray_address)
    history_db = Path(cfg.run.results_dir) / HISTORY_FILE
    return generate_reports(Path(outcome.run_dir), history_db=history_db)
