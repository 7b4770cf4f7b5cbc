"""The service's core: warm tenant sessions and one replay at a time per tenant.

A :class:`Workbench` holds, per tenant picked so far (at most ``max_sessions``, least
recently used closed first), one :class:`~simulator.runner.session.TenantSession` per
engine (started side by side) in this process (no Ray: on one node a session is plain
Python and its engine workers are already separate processes; Ray would only add its
start-up), each over a workspace of every table of the tenant, so a write changes only
that workspace until :meth:`Workbench.reset`.

A replay (:meth:`Workbench.submit`) renders one workload query, or one pasted statement
(:mod:`.pasted`), for the picked baseline and candidate as a run would, runs both lanes
concurrently, judges the candidate (:func:`~simulator.compare.judge.judge_query`), then
optionally reruns a SELECT N times, interleaved, for a quick timing comparison. What a
:class:`ReplayJob` exposes never holds a customer value: engine messages and verdict text
are masked, workload SQL has its literals masked, checksums and counts only; unless the
service was started with ``diff_sample_rows`` > 0, and then every view says so.
"""

from __future__ import annotations

import contextlib
import dataclasses
import statistics
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulator.compare.judge import judge_query
from simulator.config import RunConfig
from simulator.engines.runtime import Runtime, default_root, ensure_runtime
from simulator.errors import QsimError, RunError
from simulator.results.execution import Execution
from simulator.results.masking import mask_error, mask_literals, mask_record, neutralize_bidi
from simulator.runner.inputs import resolve_generation, resolve_workload
from simulator.runner.local_servers import LocalServers
from simulator.runner.prepare import build_statements, by_tenant
from simulator.runner.session import TenantSession
from simulator.serve.pasted import DEFAULT_MAX_CHARS, pasted_query
from simulator.workload.store import WorkloadQuery
from simulator.workload.transpile import target_dialect

MAX_RERUNS = 20
DEFAULT_MAX_SESSIONS = 4
FINISHED_JOBS_KEPT = 200


@dataclass(frozen=True)
class ReplayRequest:
    """What the page asks for: a workload ``query_id`` of ``tenant`` or a pasted ``sql``."""

    tenant: str
    baseline: str
    candidate: str
    query_id: str = ""
    sql: str = ""
    reruns: int = 0


@dataclass
class EngineView:
    """One engine's side of a replay as the page shows it (no customer value)."""

    engine: str
    role: str
    status: str = "queued"
    sql: str = ""
    execution: dict[str, Any] = field(default_factory=dict)
    rerun_ms: list[float] = field(default_factory=list)


@dataclass
class ReplayJob:
    """A replay and its progress; ``state`` is queued, running, done or error."""

    job_id: str
    request: ReplayRequest
    pattern_id: str = ""
    query_id: str = ""
    kind: str = ""
    state: str = "queued"
    error: str = ""
    engines: dict[str, EngineView] = field(default_factory=dict)
    verdict: dict[str, Any] | None = None
    sql_masked: bool = True
    submitted: float = field(default_factory=time.monotonic)
    verdict_ms: float | None = None
    done: threading.Event = field(default_factory=threading.Event, repr=False)

    def view(self) -> dict[str, Any]:
        """The JSON the page polls."""
        return {
            "job": self.job_id,
            "tenant": self.request.tenant,
            "state": self.state,
            "error": self.error,
            "pattern_id": self.pattern_id,
            "query_id": self.query_id,
            "kind": self.kind,
            "sql_masked": self.sql_masked,
            "engines": [
                {**dataclasses.asdict(e), "rerun_median_ms": _median(e.rerun_ms)}
                for e in self.engines.values()
            ],
            "verdict": self.verdict,
            "verdict_ms": self.verdict_ms,
        }


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


class _Bench:
    """One tenant's warm sessions (one per engine, so their workers start side by side)
    and the index its next statement takes."""

    def __init__(self, sessions: dict[str, TenantSession]) -> None:
        self.sessions = sessions
        self.lock = threading.Lock()
        self.next_index = 0

    def close(self, graceful: bool = True) -> None:
        """Close every engine's session (workers stopped, workspaces removed); not
        graceful: kill the workers at once (nothing is left to write)."""
        with self.lock:
            for session in self.sessions.values():
                if graceful:
                    session.close()
                else:
                    session.abort()


class Workbench:
    """Warm sessions and replays of one config; see the module docstring."""

    def __init__(
        self,
        cfg: RunConfig,
        state_dir: Path,
        *,
        diff_sample_rows: int = 0,
        max_sql_chars: int = DEFAULT_MAX_CHARS,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
        engines: list[str] | None = None,
    ) -> None:
        self.cfg = cfg
        self.state_dir = Path(state_dir)
        self.diff_sample_rows = diff_sample_rows
        self.max_sql_chars = max_sql_chars
        self.max_sessions = max_sessions
        self.generation = resolve_generation(cfg)
        self.workload = resolve_workload(cfg, self.generation)
        self.queries = by_tenant(self.workload.queries)
        # The engines a replay may pick (default: every engine of the config).
        self.engine_names = engines or list(cfg.engines)
        specs = [cfg.engines[name] for name in self.engine_names]
        # Each check starts the runtime's Python once: check them side by side.
        with ThreadPoolExecutor(max_workers=len(specs)) as checks:
            futures = {
                name: checks.submit(ensure_runtime, spec, default_root())
                for name, spec in zip(self.engine_names, specs, strict=True)
            }
            self.runtimes: dict[str, Runtime] = {n: f.result() for n, f in futures.items()}
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.servers = LocalServers(self.state_dir / "servers.json")
        self.servers.prepare(specs)
        self._benches: OrderedDict[str, _Bench] = OrderedDict()
        self._starting: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self._jobs: OrderedDict[str, ReplayJob] = OrderedDict()
        self.warm_errors: dict[str, str] = {}  # tenant -> why its session could not start
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="qsim-serve")

    # -- what the page lists --------------------------------------------------------------
    @property
    def shows_values(self) -> bool:
        """Whether customer values may appear (the bounded diff-sample option)."""
        return self.diff_sample_rows > 0

    def tenants(self) -> list[str]:
        """The workload's tenants, sorted."""
        return sorted(self.queries)

    def catalog(self, tenant: str) -> list[dict[str, Any]]:
        """The tenant's workload queries in log order: ids, kind and literal-masked SQL."""
        return [
            {
                "query_id": q.query_id,
                "pattern_id": q.pattern_id,
                "kind": q.kind,
                "sql": self._workload_sql(q.sql, q.dialect),
            }
            for q in self._tenant_queries(tenant)
        ]

    def pasted_dialect(self, tenant: str) -> str:
        """The SQL dialect a pasted statement of ``tenant`` is read in: its workload's."""
        queries = self._tenant_queries(tenant)
        return queries[0].dialect if queries else "duckdb"

    def _tenant_queries(self, tenant: str) -> list[WorkloadQuery]:
        if tenant not in self.queries:
            raise RunError(f"tenant {neutralize_bidi(tenant)[:80]!r}: not in the workload")
        return self.queries[tenant]

    def _workload_sql(self, sql: str, dialect: str) -> str:
        return neutralize_bidi(sql if self.shows_values else mask_literals(sql, dialect))

    # -- sessions -------------------------------------------------------------------------
    def warm(self, tenant: str) -> None:
        """Start the tenant's session in the background (a no-op when warm)."""
        self._tenant_queries(tenant)
        if tenant not in self._benches:
            self._pool.submit(self._warm_quietly, tenant)

    def _warm_quietly(self, tenant: str) -> None:
        try:
            self._bench(tenant)
            self.warm_errors.pop(tenant, None)
        except QsimError as err:  # the page shows it (status); a replay would raise it again
            self.warm_errors[tenant] = mask_error(str(err))

    def is_warm(self, tenant: str) -> bool:
        """Whether the tenant's engine workers are running."""
        return tenant in self._benches

    def _bench(self, tenant: str) -> _Bench:
        with self._lock:
            bench = self._benches.get(tenant)
            if bench is not None:
                self._benches.move_to_end(tenant)
                return bench
            starting = self._starting.setdefault(tenant, threading.Lock())
        with starting:  # one start per tenant, other tenants start meanwhile
            with self._lock:
                if tenant in self._benches:
                    return self._benches[tenant]
            sessions = self._new_sessions(tenant)
            with self._lock:
                self._benches[tenant] = _Bench(sessions)
                evicted = []
                while len(self._benches) > self.max_sessions:
                    evicted.append(self._benches.popitem(last=False)[1])
        for old in evicted:
            old.close()
        return self._benches[tenant]

    def _new_sessions(self, tenant: str) -> dict[str, TenantSession]:
        """One started session per engine, started side by side; none left on failure."""
        sessions = {name: self._new_session(tenant, name) for name in self.engine_names}
        with ThreadPoolExecutor(max_workers=len(sessions)) as starts:
            futures = [starts.submit(session.start) for session in sessions.values()]
            failures = [f.exception() for f in futures if f.exception() is not None]
        if failures:
            for session in sessions.values():
                session.abort()
            raise failures[0]
        return sessions

    def _new_session(self, tenant: str, engine: str) -> TenantSession:
        cfg = self.cfg
        return TenantSession(
            run_id=f"serve-{uuid.uuid4().hex[:8]}",
            tenant=tenant,
            # Per engine: a session removes its whole tenant folder when it closes.
            workspace_root=str(self.state_dir / "workspaces" / engine),
            generation_store=str(self.generation.path.parent.resolve()),
            generation_id=self.generation.id,
            engines=[self.servers.engine_for(cfg.engines[engine], tenant)],
            baseline=cfg.run.baseline,
            runtimes_root=str(default_root()),
            runtimes=self.runtimes,
            statements={engine: []},
            # Every table is copied: a pasted write may touch any of them.
            writable=sorted(self.generation.tables(tenant)),
            timeout_s=cfg.load.timeout_s,
            keep_result_rows=cfg.compare.keep_result_rows,
            determinism_runs=cfg.compare.determinism_runs,
            unlimited_hash_rows=cfg.compare.unlimited_hash_rows,
        )

    def reset(self, tenant: str) -> None:
        """Throw the tenant's workspaces away; the next replay starts from the generation."""
        self._tenant_queries(tenant)
        with self._lock:
            bench = self._benches.pop(tenant, None)
        if bench is not None:
            bench.close()

    def close(self, graceful: bool = True) -> None:
        """Stop every engine worker (kill them unless ``graceful``), remove the workspaces,
        stop local servers."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            benches = list(self._benches.values())
            self._benches.clear()
        for bench in benches:
            bench.close(graceful)
        self.servers.stop()

    # -- replays --------------------------------------------------------------------------
    def submit(
        self, request: ReplayRequest, on_done: Callable[[ReplayJob], None] | None = None
    ) -> ReplayJob:
        """Check ``request`` and queue its replay (``on_done(job)`` is called when it ends,
        however it ends); raises a QsimError (one line) for an unknown tenant, query or
        engine, a pasted statement refused, a bad rerun count."""
        query = self._query_for(request)
        for role, name in (("baseline", request.baseline), ("candidate", request.candidate)):
            if name not in self.engine_names:
                raise RunError(
                    f"{role} {neutralize_bidi(name)[:60]!r}: not an engine of the config"
                )
        if request.baseline == request.candidate:
            raise RunError("pick two different engines as baseline and candidate")
        if not 0 <= request.reruns <= MAX_RERUNS:
            raise RunError(f"reruns: between 0 and {MAX_RERUNS}")
        if request.reruns and query.kind != "select":
            raise RunError("reruns time SELECTs only (a write would change the workspace)")
        job = ReplayJob(
            job_id=uuid.uuid4().hex[:12],
            request=request,
            pattern_id=query.pattern_id,
            query_id=query.query_id,
            kind=query.kind,
            sql_masked=not request.sql and not self.shows_values,
            engines={
                request.baseline: EngineView(request.baseline, "baseline"),
                request.candidate: EngineView(request.candidate, "candidate"),
            },
        )
        with self._lock:
            self._jobs[job.job_id] = job
            while len(self._jobs) > FINISHED_JOBS_KEPT:
                self._jobs.popitem(last=False)
        self._pool.submit(self._run_job, job, query, on_done)
        return job

    def job(self, job_id: str) -> ReplayJob | None:
        """A job submitted earlier (None when unknown or forgotten)."""
        return self._jobs.get(job_id)

    def _query_for(self, request: ReplayRequest) -> WorkloadQuery:
        queries = self._tenant_queries(request.tenant)
        if request.sql:
            dialect = self.pasted_dialect(request.tenant)
            return pasted_query(request.sql, request.tenant, dialect, self.max_sql_chars)
        for query in queries:
            if query.query_id == request.query_id:
                return query
        raise RunError(
            f"query {neutralize_bidi(request.query_id)[:40]!r}: not a query of tenant "
            f"{request.tenant}"
        )

    def _run_job(
        self,
        job: ReplayJob,
        query: WorkloadQuery,
        on_done: Callable[[ReplayJob], None] | None,
    ) -> None:
        try:
            job.state = "running"
            bench = self._bench(job.request.tenant)
            with bench.lock:
                self._replay(bench, job, query)
            job.state = "done"
        except QsimError as err:
            job.state, job.error = "error", mask_error(str(err))
        except Exception as err:  # a bug must end the job visibly, not hang the page
            job.state, job.error = "error", f"internal error: {type(err).__name__}"
        finally:
            if on_done is not None:
                with contextlib.suppress(QsimError):  # a locked history must not hang the page
                    on_done(job)
            job.done.set()

    def _replay(self, bench: _Bench, job: ReplayJob, query: WorkloadQuery) -> None:
        request, sessions = job.request, bench.sessions
        index = bench.next_index
        bench.next_index += 1
        others = [n for n in self.engine_names if n != request.baseline]
        cfg = dataclasses.replace(
            self.cfg,
            run=dataclasses.replace(self.cfg.run, baseline=request.baseline, candidates=others),
        )
        lanes = build_statements(cfg, self.generation, request.tenant, [query])
        for name, session in sessions.items():
            session.statements[name].append(dataclasses.replace(lanes[name][0], index=index))
            # A session repeats (determinism) and runs unlimited its baseline's SELECTs only.
            session.baseline = request.baseline
        for name, view in job.engines.items():
            sql = lanes[name][0].sql or ""
            view.sql = (
                sql if request.sql else self._workload_sql(sql, target_dialect(cfg.engines[name]))
            )
        results = self._run_lanes(sessions, job, index)
        self._judge(job, query, results, lanes)
        job.verdict_ms = round((time.monotonic() - job.submitted) * 1000, 1)
        for repetition in range(request.reruns):
            order = [request.baseline, request.candidate]
            if repetition % 2:
                order.reverse()  # interleaved, so drift does not favour one engine
            for engine in order:
                for record in sessions[engine].perf_round(index, [engine], repetition):
                    job.engines[engine].rerun_ms.append(round(record["wall_ms"], 3))

    def _run_lanes(
        self, sessions: dict[str, TenantSession], job: ReplayJob, index: int
    ) -> dict[str, list[tuple[dict[str, Any], bytes | None]]]:
        """Run the statement on both engines at once; each view follows its engine."""

        def lane(name: str) -> list[tuple[dict[str, Any], bytes | None]]:
            job.engines[name].status = "running"
            records = sessions[name].run(name, index, 1)
            job.engines[name].execution = self._shown_execution(records[0][0])
            job.engines[name].status = str(records[0][0]["status"])
            return records

        with ThreadPoolExecutor(max_workers=2) as lanes:
            futures = {name: lanes.submit(lane, name) for name in job.engines}
            return {name: future.result() for name, future in futures.items()}

    def _shown_execution(self, record: dict[str, Any]) -> dict[str, Any]:
        """The fields of an execution record the page shows (checksums, counts, timings)."""
        result = record.get("result") or {}
        shown = {
            key: record.get(key)
            for key in (
                "status",
                "error_class",
                "error_message",
                "wall_ms",
                "cpu_ms",
                "peak_rss_mb",
                "rows_returned",
                "rows_affected",
                "engine_version",
            )
        }
        shown["row_count"] = result.get("row_count")
        shown["checksum"] = result.get("multiset")
        shown["ordered_checksum"] = result.get("ordered")
        shown["writes"] = {
            table: {"row_count": state.get("row_count"), "checksum": state.get("checksum")}
            for table, state in (record.get("writes") or {}).items()
        }
        return shown if self.shows_values else mask_record(shown)

    def _judge(
        self,
        job: ReplayJob,
        query: WorkloadQuery,
        results: dict[str, list[tuple[dict[str, Any], bytes | None]]],
        lanes: dict[str, list[Any]],
    ) -> None:
        request = job.request
        folder = self.state_dir / "kept" / job.job_id
        try:
            base = [self._with_file(r, kept, folder) for r, kept in results[request.baseline]]
            cand = self._with_file(*results[request.candidate][0], folder)
            verdict = judge_query(
                query,
                base,
                cand,
                self.cfg.compare,
                request.candidate,
                f"serve-{job.job_id}",
                diff_sample_rows=self.diff_sample_rows,
                translated=lanes[request.candidate][0].sql != lanes[request.baseline][0].sql,
            ).to_dict()
        finally:
            for path in folder.glob("*"):
                path.unlink()
            if folder.exists():
                folder.rmdir()
        shown = {k: verdict[k] for k in ("verdict", "reason", "evidence")}
        job.verdict = shown if self.shows_values else mask_record(shown)

    @staticmethod
    def _with_file(record: dict[str, Any], kept: bytes | None, folder: Path) -> Execution:
        """The execution with its kept result (rows, for the comparison) in a file."""
        execution = Execution.from_dict(record)
        if kept is not None:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{len(list(folder.iterdir()))}.arrow"
            path.write_bytes(kept)
            execution.result_path = str(path)
        return execution
