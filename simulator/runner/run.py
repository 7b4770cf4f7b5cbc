"""The main job: ``execute_run(cfg)`` replays a workload on the baseline and every
candidate under load, compares, and records everything in ``results/<run_id>/``.

The driver (this process) is the only writer of the run folder and the only scheduler:
it resolves inputs, starts Ray and one :class:`~simulator.runner.session.TenantSession`
actor per tenant, dispatches statements lane by lane under the load model, appends each
finished execution (fsync'd) and each verdict as soon as both sides of a query exist, runs
the isolated performance phase, then writes the summary. Consecutive tiny statements of a
lane travel in one call to its session (up to ``CHUNK_TARGET_MS`` of engine time), which
keeps the per-statement cost of the driver round trip small.

Resume rule (``resume=True``): a lane (tenant x engine) whose every statement is recorded is
kept as is. A lane with only part of its statements recorded is replayed from its first
statement in a fresh workspace (a workspace's state cannot be trusted after the driver
died), after its records and the verdicts that used them are removed from the record
files (atomic rewrite), so each execution id ends up recorded exactly once. Performance
rounds are reused when complete (see :mod:`simulator.runner.perf`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import platform
import secrets
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from simulator import __version__
from simulator.compare.judge import judge_query
from simulator.config import RunConfig
from simulator.engines.runtime import default_root, ensure_runtime
from simulator.errors import QsimError, RunError
from simulator.progress import progress
from simulator.results.execution import Execution
from simulator.results.exit_codes import EXIT_INCOMPLETE, EXIT_INTERRUPTED, exit_code
from simulator.results.layout import BANK_FILE, QUERIES_FILE, WORKSPACES_FOLDER
from simulator.results.meta import EngineMeta, HostMeta, RunMeta, RunStatus
from simulator.results.store import RunStore
from simulator.results.verdicts import Verdict
from simulator.runner import summary
from simulator.runner.bank import (
    BankEntry,
    BaselineBank,
    bank_key,
    chosen_for_refresh,
    write_history,
)
from simulator.runner.bank import fingerprint as bank_fingerprint
from simulator.runner.cluster import RayCluster
from simulator.runner.confirm import confirm_quietly
from simulator.runner.execute import Statement
from simulator.runner.inflight import InFlightCounter
from simulator.runner.inputs import resolve_generation, resolve_workload
from simulator.runner.local_servers import LocalServers
from simulator.runner.perf import PerfPhase, choose_targets
from simulator.runner.prepare import (
    build_statements,
    by_tenant,
    check_tenants,
    read_queries,
    select_queries,
    writable_tables,
    write_queries,
)
from simulator.runner.schedule import Lane, LoadSchedule, release_offsets
from simulator.runner.session import TenantSession
from simulator.workload.store import WorkloadQuery

SESSION_CPUS = 0.05  # sessions mostly wait on engine workers; 8 tenants fit on 2 cores
CLOSE_TIMEOUT_S = 30.0
REPLACE_ATTEMPTS = 4
# A lane's consecutive statements go to its session in one call when they are tiny:
# enough of them to fill CHUNK_TARGET_MS of engine time, at most CHUNK_MAX.
CHUNK_TARGET_MS = 50.0
CHUNK_MAX = 16


@dataclass
class RunOutcome:
    """What a run produced: its folder, status, exit code and verdict counts."""

    run_id: str
    run_dir: Path
    status: str
    exit_code: int
    verdict_counts: dict[str, dict[str, int]]
    perf_counts: dict[str, dict[str, int]]
    summary: str
    report_error: str = ""


@dataclass
class Epilogue:
    """What the step run after a complete run (the report, see :mod:`simulator.jobs`)
    adds to the summary: one note, and the error text when it failed."""

    note: str
    error: str = ""


# Called with the run folder once a run completed; its wall time is recorded as the
# run's "report" timing.
AfterComplete = Callable[[Path], Epilogue]


def new_run_id(name: str) -> str:
    """``<name>-<UTC timestamp>-<random>``: sortable by time, unique across hosts."""
    return f"{name}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(2)}"


def _display_path(path: Path) -> Path:
    """``path`` relative to the current directory when it lies under it, else absolute."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM stops a run like Ctrl-C does (clean stop, resumable)."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@dataclass
class _Session:
    actor: Any
    incarnation: int
    node: str = ""
    pid: int = 0


def execute_run(
    cfg: RunConfig,
    *,
    run_id: str | None = None,
    resume: bool = False,
    tenants: list[str] | None = None,
    query_ids: list[str] | None = None,
    pattern_ids: list[str] | None = None,
    fresh_baseline: bool = False,
    ray_address: str | None = None,
    after_complete: AfterComplete | None = None,
) -> RunOutcome:
    """Run (or with ``resume=True`` finish) the job ``cfg`` describes; see the module doc.
    ``after_complete`` (the report writer of :mod:`simulator.jobs.run_report`) runs once the
    run is complete, before the summary is rendered.

    Raises a QsimError (one line) for bad input or setup: missing generation or workload,
    zero queries, a tenant without tables, an engine that cannot start, a full disk. A
    Ctrl-C or SIGTERM stops cleanly: the outcome has status ``interrupted`` and exit code
    130, and the run can be resumed.
    """
    if resume and not run_id:
        raise RunError("--resume needs a run id")
    driver = _Driver(cfg, run_id, resume, fresh_baseline, ray_address, after_complete)
    return driver.execute(tenants, query_ids, pattern_ids)


class _Driver:
    def __init__(
        self,
        cfg: RunConfig,
        run_id: str | None,
        resume: bool,
        fresh_baseline: bool,
        ray_address: str | None,
        after_complete: AfterComplete | None,
    ) -> None:
        self.cfg = cfg
        self.after_complete = after_complete
        self.resume = resume
        self.run_id = run_id or new_run_id(cfg.run.name)
        self.fresh_baseline = fresh_baseline
        self.ray_address = ray_address if ray_address is not None else cfg.run.ray_address
        # Absolute: engine workers run with their workspace as current directory.
        self.results_dir = Path(cfg.run.results_dir).resolve()
        self.baseline = cfg.run.baseline
        self.candidates = list(cfg.run.candidates)
        self.engines = [self.baseline, *self.candidates]
        self.store: RunStore | None = None
        self.cluster: RayCluster | None = None
        self.bank: BaselineBank | None = None
        self.sessions: dict[str, _Session] = {}
        self.records: dict[tuple[str, str, int], list[Execution]] = {}
        self.verdicts: dict[tuple[str, str], dict[str, Any]] = {}
        self.perf: list[dict[str, Any]] = []
        self.lane_ok_writes: dict[Lane, list[int]] = {}
        self.bank_served: dict[tuple[str, int], BankEntry] = {}
        self.bank_keys: dict[tuple[str, int], str] = {}
        self.bank_stats = {"enabled": False, "hits": 0, "served": 0, "refreshed": 0, "drifted": []}
        self.in_flight = InFlightCounter()
        self.started = time.monotonic()
        self.notes: list[str] = []
        self.harness = {"retried": 0, "sessions_replaced": 0}
        self.load_stats: dict[str, Any] = {}
        self.timings: dict[str, float] = {}
        self.perf_stats: dict[str, int] = {}
        self.report_error = ""
        self.servers = LocalServers()

    # -- top level --------------------------------------------------------------------------
    def execute(
        self, tenants: list[str] | None, query_ids: list[str] | None, pattern_ids: list[str] | None
    ) -> RunOutcome:
        with self._timed("prepare"):
            if self.resume:
                self._open_for_resume()
            else:
                self._prepare_new(tenants, query_ids, pattern_ids)
        assert self.store is not None
        status, code = RunStatus.FAILED, EXIT_INCOMPLETE
        try:
            with _terminate_as_interrupt():
                try:
                    self.servers.prepare(self.cfg.engines[name] for name in self.engines)
                    self._replay()
                    status = RunStatus.COMPLETE
                except KeyboardInterrupt:
                    status, code = RunStatus.INTERRUPTED, EXIT_INTERRUPTED
                finally:
                    self._stop(graceful=status == RunStatus.COMPLETE)
        except BaseException:
            self.servers.stop()
            self._finish_meta(RunStatus.FAILED, EXIT_INCOMPLETE)
            self.store.close()
            raise
        try:
            if status == RunStatus.COMPLETE and self.cfg.load.confirm_quietly:
                with self._timed("confirm"):
                    self._confirm_quietly()
        finally:
            self.servers.stop()
        if self.servers.started:
            self.store.update_meta(local_servers=self.servers.describe())
        verdicts = list(self.verdicts.values())
        if status == RunStatus.COMPLETE:
            code = exit_code(
                failing=summary.regressed(verdicts, self.perf, self.cfg.report.gate_perf)
            )
        self.notes.extend(self._run_notes())
        meta = self._finish_meta(status, code)
        if status == RunStatus.COMPLETE:
            if self.after_complete is not None:
                with self._timed("report"):
                    epilogue = self.after_complete(self.store.run_dir)
                self.notes.append(epilogue.note)
                self.report_error = epilogue.error
            self.store.update_meta(timings=self.timings)
        if status == RunStatus.INTERRUPTED:
            self.notes.append(
                f"interrupted: resume with qsim run {self.cfg.path} --resume {self.run_id}"
            )
        text = summary.render(
            meta,
            verdicts,
            self.perf,
            _display_path(self.store.run_dir),
            status=status,
            code=code,
            wall_s=time.monotonic() - self.started,
            notes=self.notes,
        )
        self.store.close()
        return RunOutcome(
            run_id=self.run_id,
            run_dir=self.store.run_dir,
            status=status,
            exit_code=code,
            verdict_counts=summary.verdict_counts(verdicts, self.candidates),
            perf_counts=summary.perf_counts(self.perf, self.candidates),
            summary=text,
            report_error=self.report_error,
        )

    @contextmanager
    def _timed(self, phase: str) -> Iterator[None]:
        began = time.monotonic()
        try:
            yield
        finally:
            self.timings[phase] = round(time.monotonic() - began, 3)

    def _run_notes(self) -> list[str]:
        """Summary lines about how the results were obtained."""
        notes = []
        bank = self.bank_stats
        if bank["served"]:
            notes.append(
                f"baseline bank: {bank['served']} baseline statements reused from earlier runs "
                f"({bank['refreshed']} re-executed to check, {len(bank['drifted'])} drifted)"
            )
        faulty = [name for name in self.engines if self.cfg.engines[name].faults.enabled]
        if faulty:
            notes.append(f"WARNING: fault injection was ON for {', '.join(faulty)}")
        if self.harness["retried"] or self.harness["sessions_replaced"]:
            notes.append(
                f"harness: {self.harness['sessions_replaced']} tenant sessions replaced, "
                f"{self.harness['retried']} statements retried"
            )
        return notes

    # -- inputs -----------------------------------------------------------------------------
    def _prepare_new(
        self, tenants: list[str] | None, query_ids: list[str] | None, pattern_ids: list[str] | None
    ) -> None:
        generation = resolve_generation(self.cfg)
        workload = resolve_workload(self.cfg, generation)
        queries = select_queries(workload, tenants, query_ids, pattern_ids)
        check_tenants(generation, queries, workload.name)
        runtimes = {
            name: ensure_runtime(self.cfg.engines[name], default_root()) for name in self.engines
        }
        self.runtimes = runtimes
        self.generation = generation
        self.queries = by_tenant(queries)
        meta = RunMeta(
            run_id=self.run_id,
            pipeline=self.cfg.run.name,
            config_path=str(self.cfg.path),
            config=self.cfg.raw,
            generation_id=generation.id,
            generation_name=generation.name,
            workload_id=workload.id,
            workload_name=workload.name,
            baseline=self.baseline,
            candidates=self.candidates,
            engines={
                name: self._engine_meta(name, runtimes[name].spec_hash) for name in self.engines
            },
            qsim_version=__version__,
            host=HostMeta(
                hostname=socket.gethostname(),
                platform=platform.platform(),
                cpus=os.cpu_count(),
                python=sys.version.split()[0],
            ),
            started_at=_now_iso(),
            status=RunStatus.RUNNING,
            queries=len(queries),
            tenants=sorted(self.queries),
            load=self._load_meta(),
            filters={"tenants": tenants, "query_ids": query_ids, "pattern_ids": pattern_ids},
            fresh_baseline=self.fresh_baseline,
        )
        self.store = RunStore.create(self.results_dir, self.run_id, meta)
        write_queries(self.store.run_dir / QUERIES_FILE, queries)

    def _engine_meta(self, name: str, spec_hash: str) -> EngineMeta:
        spec = self.cfg.engines[name]
        return EngineMeta(
            role="baseline" if name == self.baseline else "candidate",
            adapter=spec.adapter,
            requirements=list(spec.requirements),
            dialect=spec.dialect,
            settings=spec.settings,
            version="",
            runtime_spec_hash=spec_hash,
            faults_enabled=spec.faults.enabled,
            faults=dataclasses.asdict(spec.faults),
        )

    def _load_meta(self) -> dict[str, Any]:
        load = self.cfg.load
        return {
            "mode": load.mode,
            "concurrency": load.concurrency,
            "per_tenant_concurrency": load.per_tenant_concurrency,
            "time_compression": load.time_compression,
            "timeout_s": load.timeout_s,
        }

    def _open_for_resume(self) -> None:
        from simulator.datasets.store import GenerationStore

        self.store = RunStore.open_existing(self.results_dir, self.run_id)
        meta = self.store.read_meta()
        if meta.config != self.cfg.raw:
            self.store.close()
            raise RunError(
                f"{self.store.meta_path}: config differs from the one run {self.run_id} started "
                f"with ({meta.config_path}); resume with that config"
            )
        if meta.status == RunStatus.COMPLETE:
            self.notes.append("run was already complete; nothing re-executed")
        self.generation = GenerationStore(self.cfg.dataset.store).get(meta.generation_id)
        self.queries = by_tenant(read_queries(self.store.run_dir / QUERIES_FILE))
        self.fresh_baseline = meta.fresh_baseline or self.fresh_baseline
        self.runtimes = {
            name: ensure_runtime(self.cfg.engines[name], default_root()) for name in self.engines
        }
        self.store.update_meta(
            status=RunStatus.RUNNING,
            exit_code=None,
            finished_at=None,
            resumed_at=[*(meta.resumed_at or []), _now_iso()],
        )

    # -- replay -----------------------------------------------------------------------------
    def _replay(self) -> None:
        assert self.store is not None
        self.statements = {
            tenant: build_statements(self.cfg, self.generation, tenant, queries)
            for tenant, queries in self.queries.items()
        }
        start = self._restore_records() if self.resume else {}
        self._plan_bank(start)
        lengths = {
            Lane(tenant, engine): len(queries)
            for tenant, queries in self.queries.items()
            for engine in self.engines
        }
        schedule = LoadSchedule(
            lengths,
            mode=self.cfg.load.mode,
            concurrency=self.cfg.load.concurrency,
            per_tenant_concurrency=self.cfg.load.per_tenant_concurrency,
            release=release_offsets(
                {t: [q.submitted_at for q in qs] for t, qs in self.queries.items()},
                self.cfg.load.time_compression,
            ),
            start=start,
        )
        perf_done = self.store.read_meta().perf_done or self.store.load("perf")
        perf_pending = self.cfg.perf.enabled and not perf_done
        if schedule.done() and not perf_pending:
            self.perf = self.store.load("perf")
            return
        self.cluster = RayCluster(self.store.run_dir, self.run_id, self.ray_address or "")
        with self._timed("ray_start"):
            self.cluster.start()
        self.store.update_meta(ray=self.cluster.describe())
        needed = sorted({lane.tenant for lane, n in lengths.items() if start.get(lane, 0) < n})
        if perf_pending:
            needed = sorted(self.queries)
        with self._timed("sessions_start"):
            self._start_sessions(needed)
        with self._timed("load"):
            self._load_phase(schedule)
        if perf_pending:
            with self._timed("perf"):
                self._perf_phase()
        else:
            self.perf = self.store.load("perf")

    def _confirm_quietly(self) -> None:
        """Replay each tenant with correctness findings alone (concurrency 1, fresh
        workspaces); findings that do not come back are marked ``under_load_only``
        (:mod:`simulator.runner.confirm`). Done once per run, after Ray has stopped."""
        assert self.store is not None
        if self.cfg.load.concurrency <= 1 or self.store.read_meta().confirm is not None:
            return
        try:
            confirmation = confirm_quietly(
                self.cfg,
                self.store.run_dir,
                list(self.verdicts.values()),
                generation=self.generation,
                engine_for=self.servers.engine_for,
            )
        except KeyboardInterrupt:
            self.notes.append("quiet confirmation interrupted: no finding marked under-load-only")
            return
        if confirmation.apply(self.verdicts.values()):
            self.store.rewrite("verdicts", list(self.verdicts.values()))
        self.store.update_meta(confirm=confirmation.describe())
        if confirmation.under_load_only:
            self.notes.append(
                f"{len(confirmation.under_load_only)} finding(s) did not reproduce when "
                "replayed alone: they appeared only under concurrent load"
            )

    def _restore_records(self) -> dict[Lane, int]:
        """Resume: keep complete lanes, drop partial ones; return lane start positions."""
        assert self.store is not None
        existing = {r["execution_id"]: r for r in self.store.load("executions")}
        start: dict[Lane, int] = {}
        complete: set[Lane] = set()
        for tenant, queries in self.queries.items():
            for engine in self.engines:
                lane = Lane(tenant, engine)
                records = [self._lane_records(existing, lane, i, q) for i, q in enumerate(queries)]
                if all(r is not None for r in records):
                    complete.add(lane)
                    start[lane] = len(queries)
                    for index, recs in enumerate(records):
                        assert recs is not None
                        self._remember(lane, index, [Execution.from_dict(r) for r in recs])

        def keep_execution(record: dict[str, Any]) -> bool:
            if record["phase"] not in ("load", "repeat"):
                return True
            return Lane(record["tenant"], record["engine"]) in complete

        self.store.keep_records("executions", keep_execution)

        def keep_verdict(record: dict[str, Any]) -> bool:
            return (
                Lane(record["tenant"], self.baseline) in complete
                and Lane(record["tenant"], record["candidate"]) in complete
            )

        for record in self.store.keep_records("verdicts", keep_verdict):
            self.verdicts[(record["candidate"], record["query_id"])] = record
        late = [
            verdict
            for tenant, queries in self.queries.items()
            for index in range(len(queries))
            for verdict in self._judge_ready(tenant, index)
        ]
        self.store.append("verdicts", late)
        total = len(self.queries) * len(self.engines)
        self.notes.append(
            f"resumed: {len(complete)} of {total} lanes were complete and kept; "
            "the others were replayed from their first statement"
        )
        return start

    def _lane_records(
        self, existing: dict[str, dict[str, Any]], lane: Lane, index: int, query: WorkloadQuery
    ) -> list[dict[str, Any]] | None:
        first = existing.get(Execution.make_id("load", lane.engine, lane.tenant, query.query_id, 0))
        if first is None:
            return None
        records = [first]
        if lane.engine == self.baseline and query.kind == "select" and first["status"] == "ok":
            for repetition in range(1, self.cfg.compare.determinism_runs):
                again = existing.get(
                    Execution.make_id(
                        "repeat", lane.engine, lane.tenant, query.query_id, repetition
                    )
                )
                if again is None:
                    return None
                records.append(again)
        return records

    # -- baseline bank ------------------------------------------------------------------------
    def _plan_bank(self, start: dict[Lane, int]) -> None:
        """Decide which baseline statements the bank serves (see bank.py for the rule)."""
        spec = self.cfg.engines[self.baseline]
        if not self.cfg.run.bank or spec.faults.enabled:
            return
        assert self.store is not None
        spec_hash = self.store.read_meta().engines[self.baseline].runtime_spec_hash
        self.bank = BaselineBank(self._bank_path())
        self.bank_stats["enabled"] = True
        for tenant, queries in self.queries.items():
            lane = Lane(tenant, self.baseline)
            if start.get(lane, 0) >= len(queries):
                continue
            statements = self.statements[tenant][self.baseline]
            writes: list[str] = []
            keys: dict[int, str] = {}
            for statement in statements:
                if statement.sql is not None:
                    # The repeat count is part of the key: banked SELECTs carry their repeats.
                    settings = {
                        "settings": spec.settings,
                        "runs": self.cfg.compare.determinism_runs,
                    }
                    keys[statement.index] = bank_key(
                        spec_hash,
                        settings,
                        self.generation.id,
                        tenant,
                        statement.sql,
                        write_history(writes),
                    )
                    if statement.is_write:
                        writes.append(statement.sql)
            self.bank_keys.update({(tenant, i): k for i, k in keys.items()})
            if self.fresh_baseline:
                continue
            hits = self.bank.get_many(list(keys.values()))
            served = {
                i
                for i, k in keys.items()
                if k in hits and not chosen_for_refresh(k, self.run_id, self.cfg.run.bank_refresh)
            }
            self.bank_stats["hits"] += sum(1 for k in keys.values() if k in hits)
            executed = [i for i in keys if i not in served]
            last = max(executed, default=-1)
            # Writes before the last executed statement must really run: later statements
            # depend on the state they leave in the workspace.
            served = {i for i in served if not (statements[i].is_write and i < last)}
            for index in served:
                self.bank_served[(tenant, index)] = hits[keys[index]]

    def _bank_path(self) -> Path:
        folder = Path(self.cfg.run.bank_dir) if self.cfg.run.bank_dir else self.results_dir
        return folder / BANK_FILE

    def _from_bank(self, tenant: str, index: int, entry: BankEntry) -> list[Execution]:
        assert self.store is not None
        out = []
        for data in entry.executions:
            record = Execution.from_dict(data)
            record.run_id = self.run_id
            record.engine = self.baseline
            record.execution_id = Execution.make_id(
                record.phase, self.baseline, tenant, record.query_id, record.repetition
            )
            record.from_bank = True
            record.retried = False
            record.in_flight_at_start = 0
            record.node = ""
            record.result_path = ""
            if entry.result is not None and record.phase == "load":
                record.result_path = self.store.write_result_file(record.execution_id, entry.result)
            out.append(record)
        self.bank_stats["served"] += 1
        return out

    def _bank_store(
        self, tenant: str, index: int, records: list[Execution], kept: bytes | None
    ) -> None:
        if self.bank is None or records[0].status not in ("ok", "error") or records[0].fault:
            return
        key = self.bank_keys.get((tenant, index))
        if key is None:
            return
        dicts = [r.to_dict() for r in records]
        previous = self.bank.get_many([key]).get(key)
        if previous is not None and not self.fresh_baseline:
            self.bank_stats["refreshed"] += 1
            # A statically nondeterministic query (rand, TABLESAMPLE ...) differs by design.
            expected_to_vary = bool(self.queries[tenant][index].nondeterministic)
            if not expected_to_vary and (
                bank_fingerprint(previous.executions) != bank_fingerprint(dicts)
            ):
                self.bank_stats["drifted"].append(records[0].query_id)
        self.bank.put(key, dicts, kept, self.run_id)

    # -- sessions -----------------------------------------------------------------------------
    def _session_kwargs(self, tenant: str, incarnation: int) -> dict[str, Any]:
        assert self.store is not None
        return {
            "run_id": self.run_id,
            "tenant": tenant,
            "workspace_root": str(self.store.run_dir / WORKSPACES_FOLDER),
            "generation_store": str(self.generation.path.parent.resolve()),
            "generation_id": self.generation.id,
            "engines": [
                self.servers.engine_for(self.cfg.engines[name], tenant) for name in self.engines
            ],
            "baseline": self.baseline,
            "runtimes_root": str(default_root()),
            "runtimes": self.runtimes,
            "statements": self.statements[tenant],
            "writable": writable_tables(self.generation, tenant, self.queries[tenant]),
            "timeout_s": self.cfg.load.timeout_s,
            "keep_result_rows": self.cfg.compare.keep_result_rows,
            "determinism_runs": self.cfg.compare.determinism_runs,
            "incarnation": incarnation,
        }

    def _actor_class(self) -> Any:
        import ray

        return ray.remote(TenantSession).options(
            num_cpus=SESSION_CPUS,
            max_concurrency=len(self.engines) + 2,
            scheduling_strategy="SPREAD",
            max_restarts=0,
            max_task_retries=0,
        )

    def _start_sessions(self, tenants: list[str]) -> None:
        import ray

        actor_class = self._actor_class()
        created = {t: actor_class.remote(**self._session_kwargs(t, 0)) for t in tenants}
        self.sessions = {t: _Session(actor, 0) for t, actor in created.items()}
        starts = {t: actor.start.remote() for t, actor in created.items()}
        versions: dict[str, str] = {}
        for tenant, ref in starts.items():
            info = self._get(ref)
            self.sessions[tenant].node = info["node"]
            self.sessions[tenant].pid = info["pid"]
            versions.update(info["versions"])
        assert self.store is not None
        meta = self.store.read_meta()
        for name, version in versions.items():
            meta.engines[name].version = version
        meta.sessions = {t: {"node": s.node, "pid": s.pid} for t, s in self.sessions.items()}
        self.store.write_meta(meta)
        del ray

    def _get(self, ref: Any) -> Any:
        """ray.get that turns a QsimError raised in an actor back into itself."""
        import ray
        from ray.exceptions import RayTaskError

        try:
            return ray.get(ref)
        except RayTaskError as err:
            cause = getattr(err, "cause", None)
            if isinstance(cause, QsimError):
                raise cause from None
            raise

    def _replace_session(self, tenant: str, incarnation: int) -> None:
        """The session of ``tenant`` died: start a fresh one that rebuilds lane state."""
        import ray
        from ray.exceptions import ActorUnavailableError, RayActorError

        current = self.sessions[tenant]
        if current.incarnation != incarnation:
            return  # another failed call already replaced it
        ray.kill(current.actor, no_restart=True)
        ok_writes = {e: self.lane_ok_writes.get(Lane(tenant, e), []) for e in self.engines}
        # A node that is leaving can still be picked for the replacement until Ray has
        # declared it dead: try again, waiting a little longer each time.
        for attempt in range(REPLACE_ATTEMPTS):
            fresh = self._actor_class().remote(**self._session_kwargs(tenant, incarnation + 1))
            try:
                info = self._get(fresh.start.remote())
                self._get(fresh.restore.remote(ok_writes))
                break
            except (RayActorError, ActorUnavailableError) as err:
                ray.kill(fresh, no_restart=True)
                if attempt == REPLACE_ATTEMPTS - 1:
                    first = str(err).strip().splitlines()[0]
                    raise RunError(
                        f"tenant {tenant}: no replacement session could start ({first})"
                    ) from None
                time.sleep(2.0**attempt)
        self.sessions[tenant] = _Session(fresh, incarnation + 1, info["node"], info["pid"])
        self.harness["sessions_replaced"] += 1

    def _stop(self, graceful: bool) -> None:
        """Close sessions (abort in-flight work unless graceful) and stop Ray."""
        import ray

        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            if self.sessions and ray.is_initialized():
                method = "close" if graceful else "abort"
                refs = [getattr(s.actor, method).remote() for s in self.sessions.values()]
                # A dead session cannot be closed; Ray reaps its process.
                with contextlib.suppress(Exception):
                    ray.wait(refs, num_returns=len(refs), timeout=CLOSE_TIMEOUT_S)
                for session in self.sessions.values():
                    ray.kill(session.actor, no_restart=True)
            self.sessions = {}
            if self.cluster is not None:
                self.cluster.shutdown()
            if self.bank is not None:
                self.bank.close()
        finally:
            signal.signal(signal.SIGINT, previous)

    # -- load phase ---------------------------------------------------------------------------
    def _load_phase(self, schedule: LoadSchedule) -> None:
        import ray
        from ray.exceptions import ActorUnavailableError, RayActorError, RayTaskError

        pending: dict[Any, tuple[Lane, list[int], int, int]] = {}
        bar = progress(schedule.remaining(), "replay", unit="stmt")
        lane_ms: dict[Lane, float] = {}
        began = time.monotonic()
        busy_ms = 0.0
        executions = 0

        def fill() -> None:
            """Start every lane the load model lets start now."""
            now = time.monotonic() - began
            while (picked := schedule.pick(now)) is not None:
                lane, index = picked
                served = self._serve_locally(lane, index)
                if served is None:
                    chunk = self._chunk(schedule, lane, index, now, lane_ms.get(lane))
                    self._dispatch(pending, lane, chunk, 0)
                    continue
                self._remember(lane, index, served)
                schedule.finish(lane)
                self._persist([(lane, index, served, [None] * len(served))])
                bar.update(1)

        try:
            while not schedule.done():
                fill()
                now = time.monotonic() - began
                wake = schedule.next_release(now)
                if not pending:
                    if wake is not None:
                        time.sleep(max(0.0, wake - now))
                    continue
                timeout = None if wake is None else max(0.0, wake - now)
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=timeout)
                if ready:
                    more, _ = ray.wait(list(pending), num_returns=len(pending), timeout=0)
                    ready = list(dict.fromkeys([*ready, *more]))
                batch: list[tuple[Lane, int, list[Execution], list[bytes | None]]] = []
                for ref in ready:
                    lane, chunk, attempt, incarnation = pending.pop(ref)
                    self.in_flight.finished()
                    try:
                        chunk_results = ray.get(ref)
                    except (RayActorError, ActorUnavailableError):
                        self._replace_session(lane.tenant, incarnation)
                        if attempt == 0:
                            self.harness["retried"] += len(chunk)
                            self._dispatch(pending, lane, chunk, 1)
                            continue
                        chunk_results = [
                            [(self._harness_crash(lane, index).to_dict(), None)] for index in chunk
                        ]
                    except RayTaskError as err:
                        cause = getattr(err, "cause", None)
                        if isinstance(cause, QsimError):
                            raise cause from None
                        raise
                    for index, results in zip(chunk, chunk_results, strict=True):
                        records = [Execution.from_dict(d) for d, _ in results]
                        self._remember(lane, index, records)
                        batch.append((lane, index, records, [k for _, k in results]))
                        ms = sum(r.wall_ms for r in records)
                        previous = lane_ms.get(lane, ms)
                        lane_ms[lane] = 0.8 * previous + 0.2 * ms
                    schedule.finish(lane, len(chunk))
                # Engines get their next statements before the driver spends time on fsync
                # and comparison; a crash in between only loses work the resume rule redoes.
                fill()
                self._persist(batch)
                for _, _, records, _ in batch:
                    busy_ms += sum(r.wall_ms for r in records)
                    executions += len(records)
                bar.update(len(batch))
                if batch:
                    bar.set_postfix_str(self._postfix(), refresh=False)
        finally:
            bar.close()
            wall = time.monotonic() - began
            slots = min(
                self.cfg.load.concurrency,
                len(self.queries) * self.cfg.load.per_tenant_concurrency,
            )
            self.load_stats = {
                "wall_s": round(wall, 3),
                "executions": executions,
                "engine_busy_ms": round(busy_ms, 1),
                "peak_in_flight": self.in_flight.peak,
                "slots": slots,
                "efficiency": round(busy_ms / 1000 / (wall * slots), 3)
                if wall > 0 and executions
                else None,
            }

    def _postfix(self) -> str:
        counts: dict[str, int] = {}
        for v in self.verdicts.values():
            counts[v["verdict"]] = counts.get(v["verdict"], 0) + 1
        return " ".join(f"{k}={n}" for k, n in sorted(counts.items()))

    def _chunk(
        self, schedule: LoadSchedule, lane: Lane, index: int, now: float, avg_ms: float | None
    ) -> list[int]:
        """Statement ``index`` and the lane's next ones that go in the same call: only when
        they are tiny (by the lane's recent engine time), released, and not served by the
        driver itself."""
        if avg_ms is None:
            return [index]
        size = int(min(CHUNK_MAX, max(1.0, CHUNK_TARGET_MS / max(avg_ms, 0.01))))
        chunk = [index]
        length = schedule.lengths[lane]
        while len(chunk) < size and (nxt := index + len(chunk)) < length:
            if not schedule.released(lane, nxt, now) or self._served_by_driver(lane, nxt):
                break
            chunk.append(nxt)
        return chunk

    def _dispatch(
        self,
        pending: dict[Any, tuple[Lane, list[int], int, int]],
        lane: Lane,
        chunk: list[int],
        attempt: int,
    ) -> None:
        session = self.sessions[lane.tenant]
        count = self.in_flight.started()
        ref = session.actor.run_chunk.remote(lane.engine, chunk, count, attempt > 0)
        pending[ref] = (lane, chunk, attempt, session.incarnation)

    def _harness_crash(self, lane: Lane, index: int) -> Execution:
        query = self.queries[lane.tenant][index]
        return Execution(
            execution_id=Execution.make_id("load", lane.engine, lane.tenant, query.query_id, 0),
            run_id=self.run_id,
            engine=lane.engine,
            tenant=lane.tenant,
            query_id=query.query_id,
            phase="load",
            status="crash",
            error_class="HarnessError",
            error_message="tenant session died twice running this statement",
            retried=True,
            started_at=time.time(),
            finished_at=time.time(),
        )

    def _served_by_driver(self, lane: Lane, index: int) -> bool:
        statement: Statement = self.statements[lane.tenant][lane.engine][index]
        return statement.sql is None or (
            lane.engine == self.baseline and (lane.tenant, index) in self.bank_served
        )

    def _serve_locally(self, lane: Lane, index: int) -> list[Execution] | None:
        """Records the driver produces without an engine: skips and bank hits."""
        statement: Statement = self.statements[lane.tenant][lane.engine][index]
        if statement.sql is None:
            return [
                Execution(
                    execution_id=Execution.make_id(
                        "load", lane.engine, lane.tenant, statement.query_id, 0
                    ),
                    run_id=self.run_id,
                    engine=lane.engine,
                    tenant=lane.tenant,
                    query_id=statement.query_id,
                    phase="load",
                    status="skipped",
                    error_message=statement.skip_reason,
                )
            ]
        if lane.engine == self.baseline and (lane.tenant, index) in self.bank_served:
            return self._from_bank(lane.tenant, index, self.bank_served[(lane.tenant, index)])
        return None

    def _persist(self, batch: list[tuple[Lane, int, list[Execution], list[bytes | None]]]) -> None:
        """Write finished statements (kept results, then one append + fsync), bank the
        baseline's, then judge what became judgeable."""
        assert self.store is not None
        if not batch:
            return
        for _, _, records, kept in batch:
            for record, data in zip(records, kept, strict=True):
                if data is not None:
                    record.result_path = self.store.write_result_file(record.execution_id, data)
        self.store.append("executions", [r.to_dict() for _, _, recs, _ in batch for r in recs])
        for lane, index, records, kept in batch:
            if lane.engine == self.baseline and not records[0].from_bank:
                self._bank_store(lane.tenant, index, records, kept[0])
        verdicts: list[dict[str, Any]] = []
        for lane, index, _, _ in batch:
            verdicts.extend(self._judge_ready(lane.tenant, index))
        self.store.append("verdicts", verdicts)

    def _remember(self, lane: Lane, index: int, records: list[Execution]) -> None:
        self.records[(lane.engine, lane.tenant, index)] = records
        statement = self.statements[lane.tenant][lane.engine][index]
        if statement.is_write and records[0].status == "ok":
            self.lane_ok_writes.setdefault(lane, []).append(index)

    def _absolute(self, record: Execution) -> Execution:
        assert self.store is not None
        if not record.result_path:
            return record
        return dataclasses.replace(record, result_path=str(self.store.run_dir / record.result_path))

    def _judge_ready(self, tenant: str, index: int) -> list[dict[str, Any]]:
        """Judge every candidate whose execution and the baseline's are both recorded;
        return the new verdicts (the caller appends them)."""
        assert self.store is not None
        base = self.records.get((self.baseline, tenant, index))
        if base is None:
            return []
        query = self.queries[tenant][index]
        fresh = []
        for candidate in self.candidates:
            if (candidate, query.query_id) in self.verdicts:
                continue
            cand = self.records.get((candidate, tenant, index))
            if cand is None:
                continue
            try:
                verdict = judge_query(
                    query,
                    [self._absolute(r) for r in base],
                    self._absolute(cand[0]),
                    self.cfg.compare,
                    candidate,
                    self.run_id,
                    diff_sample_rows=self.cfg.report.diff_sample_rows,
                )
            except Exception as err:  # a comparison bug must not lose the run's records
                verdict = Verdict(
                    run_id=self.run_id,
                    candidate=candidate,
                    tenant=tenant,
                    query_id=query.query_id,
                    pattern_id=query.pattern_id,
                    kind=query.kind,
                    verdict="skipped",
                    reason=f"internal comparison error: {type(err).__name__}: {err}",
                    weight=query.weight,
                )
            verdict.under_load_only = False
            record = verdict.to_dict()
            self.verdicts[(candidate, query.query_id)] = record
            fresh.append(record)
        return fresh

    # -- performance phase ----------------------------------------------------------------------
    def _perf_phase(self) -> None:
        assert self.store is not None
        existing = {
            r["execution_id"]: r for r in self.store.load("executions") if r["phase"] == "perf"
        }

        def load_ok(tenant: str, index: int) -> bool:
            return all(
                (recs := self.records.get((e, tenant, index))) is not None
                and recs[0].status == "ok"
                for e in self.engines
            )

        def baseline_ms(tenant: str, index: int) -> float:
            recs = self.records.get((self.baseline, tenant, index))
            return recs[0].wall_ms if recs else 0.0

        def drop(ids: set[str]) -> None:
            assert self.store is not None
            self.store.keep_records("executions", lambda r: r["execution_id"] not in ids)

        targets = choose_targets(self.queries, load_ok, baseline_ms, self.cfg.perf)
        bar = progress(len(targets) * self.cfg.perf.repetitions, "perf", unit="round")
        phase = PerfPhase(
            self.cfg.perf,
            run_id=self.run_id,
            baseline=self.baseline,
            candidates=self.candidates,
            run_round=self._perf_round,
            existing=existing,
            drop=drop,
            on_round=lambda: bar.update(1),
        )
        try:
            verdicts = phase.run(targets)
        finally:
            bar.close()
        self.perf = [v.to_dict() for v in verdicts]
        self.store.append("perf", self.perf)
        self.store.update_meta(perf_done=True)
        self.perf_stats = {
            "patterns": len(targets),
            "rounds_executed": phase.executed_rounds,
            "rounds_reused": phase.reused_rounds,
        }

    def _perf_round(
        self, tenant: str, index: int, order: list[str], repetition: int, fresh: bool
    ) -> list[dict[str, Any]]:
        from ray.exceptions import ActorUnavailableError, RayActorError

        assert self.store is not None
        for attempt in range(2):
            session = self.sessions[tenant]
            try:
                records = self._get(
                    session.actor.perf_round.remote(index, order, repetition, fresh)
                )
                break
            except (RayActorError, ActorUnavailableError):
                self._replace_session(tenant, session.incarnation)
                if attempt:
                    raise RunError(
                        f"tenant {tenant}: session died twice during the perf phase"
                    ) from None
        if attempt:
            for record in records:
                record["retried"] = True
        self.store.append("executions", records)
        return records

    # -- end of run -----------------------------------------------------------------------------
    def _finish_meta(self, status: str, code: int) -> RunMeta:
        assert self.store is not None
        fields: dict[str, Any] = {
            "status": status,
            "exit_code": code,
            "finished_at": _now_iso(),
            "bank": self.bank_stats,
            "harness": self.harness,
            "timings": self.timings,
        }
        try:
            load = dict(self.store.read_meta().load)
            load.update(self.load_stats)
            fields["load"] = load
            if self.perf_stats:
                fields["perf"] = self.perf_stats
            return self.store.update_meta(**fields)
        except QsimError:
            return dataclasses.replace(self.store.read_meta(), **fields)
