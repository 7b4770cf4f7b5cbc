"""``qsim replay`` of one query or one pattern, cold, in under a few seconds.

On one node a replay of a few statements does not need Ray (whose start alone takes
~11 s here), nor the performance phase and the report of a full run: this runs the
statements in this process through the service's workbench (one tenant session, its
engine workers in their sandboxes, the tenant's earlier writes first as a run would),
judges each, prints one line per statement (verdict, timings, checksums; never a customer
value) and records every replay in the run history like the page does. ``--full`` (or a
Ray address) keeps the full run with its report.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulator.config import ReportSection, RunConfig
from simulator.errors import RunError
from simulator.results.exit_codes import failing_verdicts
from simulator.results.layout import HISTORY_FILE
from simulator.runner.prepare import select_queries
from simulator.serve.audit import ReplayLog
from simulator.serve.workbench import ReplayJob, ReplayRequest, Workbench


@dataclass
class QuickOutcome:
    """The jobs of a quick replay, in order, judged by the run's failing-verdict rule."""

    settings: ReportSection
    jobs: list[ReplayJob] = field(default_factory=list)

    @property
    def regressions(self) -> int:
        """How many statements got a failing verdict (or could not be replayed)."""
        failing = failing_verdicts(self.settings)
        return sum(
            1
            for job in self.jobs
            if job.state != "done" or (job.verdict or {}).get("verdict") in failing
        )

    def lines(self) -> list[str]:
        """One line per statement and candidate, then a count line."""
        out = [_line(job) for job in self.jobs]
        out.append(f"{len(self.jobs)} replayed, {self.regressions} failing")
        return out


def _side(view: dict[str, Any]) -> str:
    run = view["execution"]
    if view["status"] != "ok":
        return f"{view['engine']} {view['status']} {run.get('error_class') or ''}".rstrip()
    rows = run.get("row_count")
    if rows is None:
        rows = run.get("rows_affected")
    return (
        f"{view['engine']} {run['wall_ms']:.1f} ms (cpu {run.get('cpu_ms') or 0:.1f} ms, "
        f"{run.get('peak_rss_mb') or 0:.0f} MB) rows {rows} {run.get('checksum') or ''}"
    ).rstrip()


def _line(job: ReplayJob) -> str:
    view = job.view()
    if job.state != "done":
        return f"{job.query_id or '?'}: {job.state}: {job.error}"
    verdict = view["verdict"] or {}
    reason = f" ({verdict['reason']})" if verdict.get("reason") else ""
    sides = " | ".join(_side(engine) for engine in view["engines"])
    target = f"{job.query_id} pattern {job.pattern_id} {job.kind}"
    return f"{verdict.get('verdict')}{reason}: {target}: {sides}"


def quick_replay(
    cfg: RunConfig,
    tenant: str,
    *,
    pattern_id: str | None = None,
    query_id: str | None = None,
    client: str = "cli",
) -> QuickOutcome:
    """Replay the picked statements (and the tenant's earlier writes they read) on the
    baseline against each candidate. Raises RunError when more than one candidate would
    replay writes (they would apply twice in one session: use the full replay)."""
    with tempfile.TemporaryDirectory(prefix="qsim-replay-") as state:
        engines = [cfg.run.baseline, *cfg.run.candidates]
        bench = Workbench(cfg, Path(state), max_sessions=1, engines=engines)
        try:
            queries = select_queries(
                bench.workload,
                [tenant],
                [query_id] if query_id else None,
                [pattern_id] if pattern_id else None,
            )
            candidates = list(cfg.run.candidates)
            if len(candidates) > 1 and any(q.kind != "select" for q in queries):
                raise RunError(
                    "a quick replay of writes takes one candidate (pick one with --candidate, "
                    "or replay with --full)"
                )
            Path(cfg.run.results_dir).mkdir(parents=True, exist_ok=True)
            log = ReplayLog(Path(cfg.run.results_dir) / HISTORY_FILE)
            outcome = QuickOutcome(cfg.report)
            for query in queries:
                for candidate in candidates:
                    request = ReplayRequest(
                        tenant, cfg.run.baseline, candidate, query_id=query.query_id
                    )
                    job = bench.submit(request, on_done=lambda done: log.record(done, client))
                    job.done.wait()
                    outcome.jobs.append(job)
            return outcome
        finally:
            bench.close(graceful=False)  # every replay is judged and recorded by now
