"""Every file name of a run folder (``results/<run_id>/``), defined once.

A run folder holds ``run.json`` (:class:`~simulator.results.meta.RunMeta`), the sampled
workload (``queries.parquet``), the SQL each engine was sent (``statements.parquet``), append-only record files (one JSON object a line, :class:`RecordKind`),
kept result files under ``results/``, the engines' workspaces while the run goes, and the
report outputs. The names are part of the on-disk format: old run folders and the history
database refer to them, so they never change.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

RUN_FILE = "run.json"
QUERIES_FILE = "queries.parquet"
# The SQL as sent to each engine (or why it was not sent), one row per (tenant, query, engine).
STATEMENTS_FILE = "statements.parquet"
LOCK_FILE = ".lock"
RESULTS_FOLDER = "results"
WORKSPACES_FOLDER = "workspaces"
# The throwaway servers the run started and has not stopped yet (written the moment one
# starts, so a later command can stop what a killed driver left running).
SERVERS_FILE = "servers.json"
# Report outputs, written next to the records by the report stage.
HTML_FILE = "report.html"
JUNIT_FILE = "junit.xml"
SUMMARY_FILE = "summary.json"
# Beside the run folders (in ``results_dir`` or ``run.bank_dir``), shared by every run.
HISTORY_FILE = "history.sqlite"
BANK_FILE = "baseline_bank.sqlite"


class RecordKind(StrEnum):
    """The append-only record files of a run folder; the value is the file stem."""

    EXECUTIONS = "executions"
    VERDICTS = "verdicts"
    PERF = "perf"
    # The comparison under load (simulator.compare.load): LoadVerdict records.
    LOAD = "load"
    # Plan shapes per engine and pattern (simulator.compare.plans): PlanRecord records.
    PLANS = "plans"

    @property
    def file_name(self) -> str:
        """``executions.jsonl`` and so on."""
        return f"{self.value}.jsonl"


EXECUTIONS_FILE = RecordKind.EXECUTIONS.file_name
VERDICTS_FILE = RecordKind.VERDICTS.file_name
PERF_FILE = RecordKind.PERF.file_name
LOAD_FILE = RecordKind.LOAD.file_name
PLANS_FILE = RecordKind.PLANS.file_name


def is_run_folder(path: Path) -> bool:
    """True when ``path`` holds a ``run.json`` (what makes a folder a run)."""
    return (Path(path) / RUN_FILE).is_file()


def result_file_name(execution_id: str) -> str:
    """Where a kept Arrow result of ``execution_id`` lives, relative to the run folder."""
    return f"{RESULTS_FOLDER}/{execution_id.replace(':', '_').replace('/', '_')}.arrow"
