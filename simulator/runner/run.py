"""The main job: ``execute_run(cfg)`` replays a workload on the baseline and every
candidate under load, compares, and records everything in ``results/<run_id>/``.

The driver (this process) is the only writer of the run folder and the only scheduler.
This module holds the phase sequence; each phase lives in its own module:

1. prepare: a new run folder (:mod:`.start`) or the one being resumed (:mod:`.resume`);
2. replay: statements built per engine (:mod:`.prepare`), the baseline bank planned
   (:mod:`.bank_plan`), Ray started (:mod:`.cluster`) with one session per tenant
   (:mod:`.pool`), then the load loop (:mod:`.load`) dispatches statements lane by lane
   under the load model while the recorder (:mod:`.recorder`) appends each finished
   execution (fsync'd) and each verdict as soon as both sides of a query exist;
3. perf: the isolated performance phase (:mod:`.perf`);
4. confirm: findings replayed alone, after Ray has stopped (:mod:`.confirm`);
5. finish: run.json completed, the ``after_complete`` step (the report, supplied by
   :mod:`simulator.jobs.run_report`) and the summary (:mod:`.summary`).
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.config import RunConfig
from simulator.errors import QsimError, RunError
from simulator.results.exit_codes import EXIT_INCOMPLETE, EXIT_INTERRUPTED, exit_code
from simulator.results.layout import SERVERS_FILE, STATEMENTS_FILE, RecordKind
from simulator.results.meta import RunMeta, RunStatus
from simulator.runner import summary
from simulator.runner.bank_plan import BankPlan
from simulator.runner.cluster import RayCluster
from simulator.runner.confirm import confirm_quietly
from simulator.runner.context import RunContext
from simulator.runner.load import LoadLoop, record_load_verdicts
from simulator.runner.local_servers import LocalServers, stop_leftovers
from simulator.runner.perf import run_perf_phase
from simulator.runner.plans import capture_plans
from simulator.runner.pool import SessionPool
from simulator.runner.prepare import build_statements, statements_parquet
from simulator.runner.recorder import Recorder
from simulator.runner.resume import open_for_resume, restore_records
from simulator.runner.schedule import Lane, LoadSchedule, release_offsets
from simulator.runner.start import new_run_id, now_iso, start_run


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


def _display_path(path: Path) -> Path:
    """``path`` relative to the current directory when it lies under it, else absolute."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM stops a run like Ctrl-C does (clean stop, resumable), in every phase."""
    try:
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _signals_ignored() -> Iterator[None]:
    """Ignore SIGINT and SIGTERM in the block (the clean-up after a first signal must not
    be cut short by a second one); a no-op outside the main thread."""
    try:
        previous = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:
        yield
        return
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def _timed(timings: dict[str, float], phase: str) -> Iterator[None]:
    """Record the wall time of the block as ``timings[phase]`` (seconds); with ``qsim -v``
    say on stderr that the phase starts."""
    if os.environ.get("QSIM_VERBOSE"):
        print(f"qsim: phase {phase}", file=sys.stderr, flush=True)
    began = time.monotonic()
    try:
        yield
    finally:
        timings[phase] = round(time.monotonic() - began, 3)


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
    with _terminate_as_interrupt():
        return _prepare_and_run(
            cfg,
            run_id=run_id,
            resume=resume,
            tenants=tenants,
            query_ids=query_ids,
            pattern_ids=pattern_ids,
            fresh_baseline=fresh_baseline,
            ray_address=ray_address,
            after_complete=after_complete,
        )


def _prepare_and_run(
    cfg: RunConfig,
    *,
    run_id: str | None,
    resume: bool,
    tenants: list[str] | None,
    query_ids: list[str] | None,
    pattern_ids: list[str] | None,
    fresh_baseline: bool,
    ray_address: str | None,
    after_complete: AfterComplete | None,
) -> RunOutcome:
    """Open the run folder (new or resumed) and run the phases; see :func:`execute_run`."""
    started = time.monotonic()
    timings: dict[str, float] = {}
    notes: list[str] = []
    with _timed(timings, "prepare"):
        if resume:
            assert run_id is not None
            ctx = open_for_resume(cfg, run_id, fresh_baseline, notes)
        else:
            run_id = run_id or new_run_id(cfg.run.name)
            ctx = start_run(cfg, run_id, tenants, query_ids, pattern_ids, fresh_baseline)
    run = _Run(
        ctx,
        resumed=resume,
        ray_address=ray_address if ray_address is not None else cfg.run.ray_address,
        after_complete=after_complete,
        timings=timings,
        notes=notes,
        started=started,
    )
    return run.execute()


class _Run:
    """The phase sequence of one run over its open run folder."""

    def __init__(
        self,
        ctx: RunContext,
        *,
        resumed: bool,
        ray_address: str | None,
        after_complete: AfterComplete | None,
        timings: dict[str, float],
        notes: list[str],
        started: float,
    ) -> None:
        self.ctx = ctx
        self.resumed = resumed
        self.ray_address = ray_address
        self.after_complete = after_complete
        self.timings = timings
        self.notes = notes
        self.started = started
        self.servers = LocalServers(ctx.store.run_dir / SERVERS_FILE)
        self.harness = {"retried": 0, "sessions_replaced": 0}
        self.bank = BankPlan(ctx)
        self.recorder = Recorder(ctx, self.bank)
        self.pool = SessionPool(ctx, self.servers, self.recorder.lane_ok_writes, self.harness)
        self.loop = LoadLoop(ctx, self.pool, self.recorder, self.bank, self.harness)
        self.cluster: RayCluster | None = None
        self.perf: list[dict[str, Any]] = []
        self.perf_stats: dict[str, int] = {}
        self.report_error = ""

    def execute(self) -> RunOutcome:
        """Run the phases and render the summary. Whatever stops the run, ``run.json`` gets
        a final status and exit code: a KeyboardInterrupt (Ctrl-C, SIGTERM) in any phase,
        the report included, ends it ``interrupted`` (130); any other exception ``failed``
        (2), and is raised again."""
        ctx, store = self.ctx, self.ctx.store
        try:
            status = self._run_phases()
            verdicts = list(self.recorder.verdicts.values())
            code = EXIT_INTERRUPTED
            if status == RunStatus.COMPLETE:
                failing = summary.regressed(
                    verdicts, self.perf, ctx.cfg.report, ctx.store.load(RecordKind.LOAD)
                )
                code = exit_code(failing=failing)
            self.notes.extend(self._run_notes())
            meta = self._finish_meta(status, code)
            if status == RunStatus.COMPLETE and self.after_complete is not None:
                try:
                    with _timed(self.timings, "report"):
                        epilogue = self.after_complete(store.run_dir)
                except KeyboardInterrupt:
                    status, code = RunStatus.INTERRUPTED, EXIT_INTERRUPTED
                    meta = self._finish_meta(status, code)
                else:
                    self.notes.append(epilogue.note)
                    self.report_error = epilogue.error
                    store.update_meta(timings=self.timings)
        except BaseException as err:
            with _signals_ignored():
                self.servers.stop()
                if isinstance(err, KeyboardInterrupt):
                    self._finish_meta(RunStatus.INTERRUPTED, EXIT_INTERRUPTED)
                else:
                    self._finish_meta(RunStatus.FAILED, EXIT_INCOMPLETE)
                store.close()
            raise
        if status == RunStatus.INTERRUPTED:
            self.notes.append(
                f"interrupted: resume with qsim run {ctx.cfg.path} --resume {ctx.run_id}"
            )
        text = summary.render(
            meta,
            verdicts,
            self.perf,
            _display_path(store.run_dir),
            status=status,
            code=code,
            wall_s=time.monotonic() - self.started,
            notes=self.notes,
        )
        store.close()
        return RunOutcome(
            run_id=ctx.run_id,
            run_dir=store.run_dir,
            status=status,
            exit_code=code,
            verdict_counts=summary.verdict_counts(verdicts, ctx.candidates),
            perf_counts=summary.perf_counts(self.perf, ctx.candidates),
            summary=text,
            report_error=self.report_error,
        )

    def _run_phases(self) -> RunStatus:
        """Servers, replay, perf and quiet confirmation; returns ``complete``, or
        ``interrupted`` after a KeyboardInterrupt. Servers are stopped either way."""
        ctx = self.ctx
        replayed = False
        left = stop_leftovers(ctx.store.run_dir / SERVERS_FILE)
        if left:
            self.notes.append(f"stopped {len(left)} server(s) left by an earlier driver")
        try:
            try:
                self.servers.prepare(ctx.cfg.engines[name] for name in ctx.engines)
                self._replay()
                record_load_verdicts(ctx)
                replayed = True
            finally:
                self._stop(graceful=replayed)
            if ctx.cfg.load.confirm_quietly:
                with _timed(self.timings, "confirm"):
                    self._confirm_quietly()
            return RunStatus.COMPLETE
        except KeyboardInterrupt:
            return RunStatus.INTERRUPTED
        finally:
            with _signals_ignored():
                self.servers.stop()
                if self.servers.started:
                    ctx.store.update_meta(local_servers=self.servers.describe())

    def _run_notes(self) -> list[str]:
        """Summary lines about how the results were obtained."""
        notes = []
        bank = self.bank.stats
        if bank["served"]:
            notes.append(
                f"baseline bank: {bank['served']} baseline statements reused from earlier runs "
                f"({bank['refreshed']} re-executed to check, {len(bank['drifted'])} drifted)"
            )
        cfg = self.ctx.cfg
        faulty = [name for name in self.ctx.engines if cfg.engines[name].faults.enabled]
        if faulty:
            notes.append(f"WARNING: fault injection was ON for {', '.join(faulty)}")
        if self.harness["retried"] or self.harness["sessions_replaced"]:
            notes.append(
                f"harness: {self.harness['sessions_replaced']} tenant sessions replaced, "
                f"{self.harness['retried']} statements retried"
            )
        return notes

    # -- replay -----------------------------------------------------------------------------
    def _replay(self) -> None:
        ctx, store = self.ctx, self.ctx.store
        ctx.statements.update(
            {
                tenant: build_statements(ctx.cfg, ctx.generation, tenant, queries)
                for tenant, queries in ctx.queries.items()
            }
        )
        store.write_bytes_atomic(
            store.run_dir / STATEMENTS_FILE, statements_parquet(ctx.statements)
        )
        start = restore_records(ctx, self.recorder, self.notes) if self.resumed else {}
        self.bank.plan(start)
        lengths = {
            Lane(tenant, engine): len(queries)
            for tenant, queries in ctx.queries.items()
            for engine in ctx.engines
        }
        load = ctx.cfg.load
        schedule = LoadSchedule(
            lengths,
            mode=load.mode,
            concurrency=load.concurrency,
            per_tenant_concurrency=load.per_tenant_concurrency,
            release=release_offsets(
                {t: [q.submitted_at for q in qs] for t, qs in ctx.queries.items()},
                load.time_compression,
            ),
            start=start,
            seed=ctx.cfg.run.seed,
        )
        perf_done = store.read_meta().perf_done or store.load(RecordKind.PERF)
        perf_pending = ctx.cfg.perf.enabled and not perf_done
        if schedule.done() and not perf_pending:
            self.perf = store.load(RecordKind.PERF)
            return
        self.cluster = RayCluster(store.run_dir, ctx.run_id, self.ray_address or "")
        with _timed(self.timings, "ray_start"):
            self.cluster.start()
        store.update_meta(ray=self.cluster.describe())
        needed = sorted({lane.tenant for lane, n in lengths.items() if start.get(lane, 0) < n})
        if perf_pending:
            needed = sorted(ctx.queries)
        with _timed(self.timings, "sessions_start"):
            self.pool.start(needed)
        with _timed(self.timings, "load"):
            self.loop.run(schedule)
        if not store.path(RecordKind.PLANS).exists():
            with _timed(self.timings, "plans"):
                capture_plans(ctx, self.pool)
        if perf_pending:
            with _timed(self.timings, "perf"):
                self.perf, self.perf_stats = run_perf_phase(ctx, self.pool, self.recorder)
        else:
            self.perf = store.load(RecordKind.PERF)

    def _confirm_quietly(self) -> None:
        """Replay each tenant with correctness findings alone (concurrency 1, fresh
        workspaces); findings that do not come back are marked ``under_load_only``
        (:mod:`simulator.runner.confirm`). Done once per run, after Ray has stopped."""
        ctx, store = self.ctx, self.ctx.store
        if ctx.cfg.load.concurrency <= 1 or store.read_meta().confirm is not None:
            return
        verdicts = self.recorder.verdicts
        confirmation = confirm_quietly(
            ctx.cfg,
            store.run_dir,
            list(verdicts.values()),
            generation=ctx.generation,
            engine_for=self.servers.engine_for,
        )
        if confirmation.apply(verdicts.values()):
            store.rewrite(RecordKind.VERDICTS, list(verdicts.values()))
        store.update_meta(confirm=confirmation.describe())
        if confirmation.under_load_only:
            self.notes.append(
                f"{len(confirmation.under_load_only)} finding(s) did not reproduce when "
                "replayed alone: they appeared only under concurrent load"
            )
        if confirmation.intermittent:
            self.notes.append(
                f"{len(confirmation.intermittent)} finding(s) came and went when replayed "
                "alone too: intermittent"
            )
        if confirmation.not_confirmed:
            self.notes.append(
                f"{len(confirmation.not_confirmed)} finding(s) not confirmed quietly: the bound "
                "(load.confirm_max_statements, load.confirm_budget_s) was reached"
            )

    def _stop(self, graceful: bool) -> None:
        """Close sessions (abort in-flight work unless graceful), stop Ray, close the bank."""
        with _signals_ignored():
            self.pool.close(graceful)
            if self.cluster is not None:
                self.cluster.shutdown()
            self.bank.close()

    # -- end of run -------------------------------------------------------------------------
    def _finish_meta(self, status: RunStatus, code: int) -> RunMeta:
        store = self.ctx.store
        fields: dict[str, Any] = {
            "status": status,
            "exit_code": code,
            "finished_at": now_iso(),
            "bank": self.bank.stats,
            "harness": self.harness,
            "timings": self.timings,
        }
        try:
            load = dict(store.read_meta().load)
            load.update(self.loop.stats)
            fields["load"] = load
            if self.perf_stats:
                fields["perf"] = self.perf_stats
            return store.update_meta(**fields)
        except QsimError:
            return dataclasses.replace(store.read_meta(), **fields)
