"""Read a run folder (``results/<run_id>/``) into typed records for the report stage.

``RunData.run`` is ``run.json`` as written, kept as a plain object so that a damaged or
hand-edited file still renders (every accessor below falls back to a default); the runner,
which owns the file, reads it as a typed :class:`~simulator.results.meta.RunMeta`.

A run folder may be incomplete: the run is still going, was interrupted, or failed. The
loader renders what exists and lists what is missing (``RunData.missing``) so the report
can say so, instead of refusing. Only a folder that is not a run at all is an error.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from simulator.results.load_verdicts import LoadVerdict
from simulator.results.plans import PlanRecord
from simulator.results.verdicts import PerfVerdict, Verdict
from simulator.config import ReportSection
from simulator.results.execution import Execution
from simulator.errors import ReportError
from simulator.results.layout import (
    EXECUTIONS_FILE,
    LOAD_FILE,
    PLANS_FILE,
    PERF_FILE,
    QUERIES_FILE,
    RUN_FILE,
    VERDICTS_FILE,
    RecordKind,
    is_run_folder,
)


@dataclass
class RunData:
    """Everything a report needs from one run folder.

    ``queries`` maps ``(tenant, query_id)`` to the workload row of that query (SQL, kind,
    pattern id, weight). ``executions`` is deduplicated by ``execution_id`` (the last record
    wins, as on resume). ``missing`` holds one short sentence per gap in the folder.
    """

    run_dir: Path
    run: dict[str, Any]
    queries: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    executions: list[Execution] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    perf: list[PerfVerdict] = field(default_factory=list)
    # The comparison under load (load.jsonl); empty for runs from before it existed.
    load: list[LoadVerdict] = field(default_factory=list)
    # Plan shapes per engine and pattern (plans.jsonl); empty when none were captured.
    plans: list[PlanRecord] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def run_id(self) -> str:
        return str(self.run.get("run_id") or self.run_dir.name)

    @property
    def pipeline(self) -> str:
        """The pipeline name runs are compared within (falls back to the config's run.name)."""
        config_run = self.config.get("run")
        name = config_run.get("name") if isinstance(config_run, dict) else None
        return str(self.run.get("pipeline") or name or "default")

    @property
    def status(self) -> str:
        return str(self.run.get("status") or "unknown")

    @property
    def complete(self) -> bool:
        return self.status == "complete"

    @property
    def baseline(self) -> str:
        return str(self.run.get("baseline") or "")

    @property
    def candidates(self) -> list[str]:
        """Candidate names from run.json, plus any that only appear in verdicts."""
        names = [str(c) for c in self.run.get("candidates") or []]
        for record in [*self.verdicts, *self.perf]:
            if record.candidate not in names:
                names.append(record.candidate)
        return names

    @property
    def config(self) -> dict[str, Any]:
        config = self.run.get("config")
        return config if isinstance(config, dict) else {}

    @property
    def filters(self) -> dict[str, list[str]]:
        """The run's tenant / query id / pattern filters (a replay); empty for a full run."""
        filters = self.run.get("filters")
        if not isinstance(filters, dict):
            return {}
        return {
            str(k): [str(x) for x in v] for k, v in filters.items() if isinstance(v, list) and v
        }

    @property
    def engines(self) -> dict[str, dict[str, Any]]:
        engines = self.run.get("engines")
        return engines if isinstance(engines, dict) else {}

    @property
    def faults_enabled(self) -> bool:
        return any(bool(e.get("faults_enabled")) for e in self.engines.values())

    def engine_version(self, engine: str) -> str:
        """The engine's version from run.json, else from its executions, else ''."""
        version = str(self.engines.get(engine, {}).get("version") or "")
        if version:
            return version
        return next((e.engine_version for e in self.executions if e.engine == engine), "")

    def report_settings(self) -> ReportSection:
        """The run config's ``[report]`` section; unknown or ill-typed keys keep defaults."""
        raw = self.config.get("report")
        raw = raw if isinstance(raw, dict) else {}
        values: dict[str, Any] = {}
        for f in dataclasses.fields(ReportSection):
            value = raw.get(f.name)
            default = f.default
            if value is not None and type(value) is type(default):
                values[f.name] = value
            elif isinstance(default, float) and isinstance(value, int):
                values[f.name] = float(value)
        return ReportSection(**values)

    def perf_enabled(self) -> bool:
        perf = self.config.get("perf")
        return not (isinstance(perf, dict) and perf.get("enabled") is False)


def resolve_run(ref: str | Path, results_dir: Path) -> Path:
    """Return the run folder for a run id (under ``results_dir``) or a folder path.

    Refuses, with one line listing close run ids, a reference that names no run folder.
    """
    candidates = [Path(ref), results_dir / str(ref)]
    for path in candidates:
        if is_run_folder(path):
            return path
    known = (
        sorted(p.name for p in results_dir.iterdir() if is_run_folder(p))
        if results_dir.is_dir()
        else []
    )
    close = difflib.get_close_matches(str(ref), known, n=3, cutoff=0.5)
    hint = f"; close matches: {', '.join(close)}" if close else ""
    if not known:
        hint = f"; {results_dir} holds no runs"
    raise ReportError(f"{ref}: no such run (no {RUN_FILE} in {results_dir / str(ref)}){hint}")


def _read_jsonl(path: Path, build: Any, missing: list[str]) -> list[Any]:
    """Parse records line by line; a truncated or foreign line is skipped and noted."""
    records: list[Any] = []
    bad: list[int] = []
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                records.append(build(json.loads(line)))
            except (json.JSONDecodeError, TypeError, ValueError, AttributeError):
                bad.append(number)
    if bad:
        missing.append(
            f"{path.name}: {len(bad)} unreadable line(s) skipped (first: line {bad[0]}; "
            "an interrupted write leaves a truncated last line)"
        )
    return records


def load_run(run_dir: Path) -> RunData:
    """Load a run folder. Refuses (ReportError) only a folder without a readable run.json."""
    run_path = run_dir / RUN_FILE
    if not run_dir.is_dir():
        raise ReportError(f"{run_dir}: no such run folder")
    try:
        run = json.loads(run_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(f"{run_path}: missing; {run_dir} is not a qsim run folder") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ReportError(f"{run_path}: not valid JSON ({err})") from None
    if not isinstance(run, dict):
        raise ReportError(f"{run_path}: expected a JSON object")
    data = RunData(run_dir=run_dir, run=run)
    missing = data.missing
    if not data.complete:
        missing.append(f"run status is {data.status!r}, not 'complete': results below are partial")
    queries_path = run_dir / QUERIES_FILE
    if queries_path.is_file():
        try:
            rows = pq.read_table(queries_path).to_pylist()
            data.queries = {(str(r.get("tenant")), str(r.get("query_id"))): r for r in rows}
        except (OSError, ValueError) as err:
            missing.append(f"{QUERIES_FILE}: unreadable ({err}); SQL text and weights missing")
    else:
        missing.append(f"{QUERIES_FILE} missing: SQL text and weights unavailable")
    sources = (
        (EXECUTIONS_FILE, Execution.from_dict, "no latency or concurrency data"),
        (VERDICTS_FILE, Verdict.from_dict, "no correctness verdicts yet"),
        (PERF_FILE, PerfVerdict.from_dict, "no performance verdicts yet"),
    )
    loaded: dict[str, list[Any]] = {}
    for name, build, consequence in sources:
        path = run_dir / name
        if path.is_file():
            loaded[name] = _read_jsonl(path, build, missing)
        else:
            loaded[name] = []
            if name != PERF_FILE or data.perf_enabled():
                missing.append(f"{name} missing: {consequence}")
    by_id: dict[str, Execution] = {e.execution_id: e for e in loaded[EXECUTIONS_FILE]}
    data.executions = list(by_id.values())
    data.verdicts = loaded[VERDICTS_FILE]
    data.perf = loaded[PERF_FILE]
    if (run_dir / LOAD_FILE).is_file():
        data.load = _read_jsonl(run_dir / LOAD_FILE, LoadVerdict.from_dict, missing)
    if (run_dir / PLANS_FILE).is_file():
        data.plans = _read_jsonl(run_dir / PLANS_FILE, PlanRecord.from_dict, missing)
    if data.queries and data.verdicts:
        for candidate in data.candidates:
            judged = {(v.tenant, v.query_id) for v in data.verdicts if v.candidate == candidate}
            unjudged = len(set(data.queries) - judged)
            if unjudged:
                missing.append(
                    f"{unjudged} of {len(data.queries)} queries have no verdict "
                    f"for candidate {candidate!r}"
                )
    return data


def read_records(run_dir: Path, kind: RecordKind | str) -> list[dict[str, Any]]:
    """Every JSON line of one record file of ``run_dir``, as written ([] when the file does
    not exist). For analysis of finished runs; refuses (ValueError) a torn line."""
    path = Path(run_dir) / RecordKind(kind).file_name
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
