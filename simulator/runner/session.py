"""The tenant session: one Ray actor per tenant owning that tenant's engine workers.

A session holds, for each engine of the run (baseline and candidates), a workspace (a
copy-on-write view of the generation for this tenant) and an :class:`EngineWorker` over it.
It runs the statements it is told to, one lane (tenant x engine) at a time in log order;
lanes of different engines may run concurrently (threaded actor).

Faults of the harness are absorbed here where possible:
- an engine worker that crashes is replaced (over the workspace as it is on disk) and the
  statement retried once, the record marked ``retried``;
- when the whole session is lost (actor killed, node gone), the driver starts a new one and
  calls :meth:`TenantSession.restore`; the new session rebuilds each lane's state in a fresh
  workspace by re-running the lane's earlier successful writes (not recorded again) before
  the retried statement.

The class is plain Python (tests can drive it without Ray); the driver wraps it with
``ray.remote``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shutil
import signal
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from simulator.config import EngineSpec
from simulator.datasets.workspace import make_workspace
from simulator.engines import worker_checksums
from simulator.engines.faults import wrap as wrap_faults
from simulator.engines.read_only_cache import (
    CacheLease,
    ReadOnlyCache,
    default_cache_root,
    uses_cache,
)
from simulator.engines.runtime import Runtime, ensure_runtime
from simulator.engines.worker import EngineWorker
from simulator.errors import EngineError
from simulator.results.execution import Execution
from simulator.runner.execute import Statement, execute_statement
from simulator.runner.inflight import InFlightView
from simulator.runner.node import node_folders, node_generation, node_id
from simulator.runner.write_state import VerifiedTable

# The engine's error class in an explain failure ("engine x: explain failed: Class: ...").
EXPLAIN_ERROR = re.compile(r"explain failed: (\w+)")

ExecutionResult = tuple[dict[str, Any], bytes | None]
WARM_UP_SQL = "SELECT 1"
T = TypeVar("T")


def _remove_if_empty(folder: Path) -> None:
    # The last session to close removes the run's workspaces folder.
    with contextlib.suppress(OSError):
        folder.rmdir()


class _Lane:
    """One engine of this tenant: its workspace, worker and replay position."""

    def __init__(self, worker: Any, workspace: Path) -> None:
        self.worker = worker
        self.workspace = workspace
        self.applied = 0  # statements of the log already reflected in the workspace
        self.ok_writes: list[int] = []
        # Last verified post-state of each table this lane wrote (see runner.write_state).
        self.verified: dict[str, VerifiedTable] = {}
        self.lock = threading.Lock()


def _start_lane(lane: _Lane, timeout_s: float) -> str:
    """Start a lane's worker and run one untimed statement on it; its engine version."""
    version = lane.worker.start()
    lane.worker.execute(WARM_UP_SQL, timeout_s, None)
    return str(version)


def _each(items: Iterable[T], step: Callable[[T], Any]) -> list[Any]:
    """``step`` on every lane (or engine name) at once, one thread each; results in their
    order. The first one's error (in that order) is raised once every step has ended."""
    items = list(items)
    if len(items) <= 1:
        return [step(item) for item in items]
    with ThreadPoolExecutor(max_workers=len(items), thread_name_prefix="lane") as pool:
        futures = [pool.submit(step, item) for item in items]
    return [future.result() for future in futures]


class TenantSession:
    """All engines of one tenant; see the module docstring."""

    def __init__(
        self,
        *,
        run_id: str,
        tenant: str,
        workspace_root: str,
        generation_store: str,
        generation_id: str,
        engines: list[EngineSpec],
        baseline: str,
        runtimes_root: str,
        runtimes: dict[str, Runtime] | None = None,
        statements: dict[str, list[Statement]],
        writable: list[str],
        timeout_s: float,
        keep_result_rows: int,
        determinism_runs: int,
        incarnation: int = 0,
        unlimited_hash_rows: int = 0,
        driver_node: str = "",
        generation_cache: str = "",
        read_only_cache: str = "",
        read_only_cache_max_bytes: int = 0,
    ) -> None:
        self.run_id = run_id
        self.tenant = tenant
        # On another node than the driver's, everything lives on that node's own disk.
        self.folders = node_folders(
            run_id, driver_node, workspace_root, runtimes_root, generation_cache
        )
        self.workspace_root = self.folders.workspaces / tenant
        self.generation_store = generation_store
        self.generation_id = generation_id
        self.engines = {spec.name: spec for spec in engines}
        self.baseline = baseline
        self.runtimes_root = self.folders.runtimes
        self.runtimes = runtimes or {}
        self.statements = statements
        self.writable = set(writable)
        self.timeout_s = timeout_s
        self.keep_result_rows = keep_result_rows
        self.determinism_runs = determinism_runs
        self.unlimited_hash_rows = unlimited_hash_rows
        self.incarnation = incarnation
        self.in_flight = InFlightView()
        self.node = node_id()
        self.lanes: dict[str, _Lane] = {}
        cache_root = Path(read_only_cache) if read_only_cache else None
        self.read_only_cache = ReadOnlyCache(
            cache_root or default_cache_root(self.runtimes_root), read_only_cache_max_bytes
        )
        self.leases: list[CacheLease] = []

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> dict[str, Any]:
        """Build or reuse runtimes, make workspaces, start every engine worker.

        Returns {"versions": {engine: version}, "node": node id, "pid": pid,
        "read_only_cache": {engine: "hit" | "built: why"}} (engines that use the cache).
        Raises EngineError (one line naming the engine) when an engine cannot start,
        DatasetError when the generation's files cannot be had on this node.
        """
        self.generation = node_generation(
            self.generation_store, self.generation_id, self.tenant, self.folders.cache
        )
        cache_uses = {}
        for name, spec in self.engines.items():
            runtime = self._runtime(spec)
            workspace = self.workspace_root / f"{name}-{self.incarnation}"
            if workspace.exists():
                shutil.rmtree(workspace)
            workspace.mkdir(parents=True)
            tables = make_workspace(self.generation, self.tenant, workspace, self.writable)
            if uses_cache(spec):
                lease = self.read_only_cache.acquire(
                    spec,
                    runtime,
                    self.generation.id,
                    self.tenant,
                    self.generation.table_specs(self.tenant),
                )
                self.leases.append(lease)
                cache_uses[name] = f"built: {lease.reason}" if lease.built else "hit"
                spec = lease.attach_settings(spec)
            worker = wrap_faults(
                EngineWorker(spec, runtime, workspace / "engine", tables),
                spec,
                self.in_flight,
                tables,
            )
            self.lanes[name] = _Lane(worker, workspace)
        # The workers start side by side: a start is mostly the worker's own imports and
        # table loads, in its own process, while this one waits for its reply.
        started = _each(self.lanes.values(), lambda lane: _start_lane(lane, self.timeout_s))
        versions = dict(zip(self.lanes, started, strict=True))
        self._warm_up_checksums()
        return {
            "versions": versions,
            "node": self.node,
            "pid": os.getpid(),
            "read_only_cache": cache_uses,
        }

    def _warm_up_checksums(self) -> None:
        """Load the checksum kernels for this tenant's column types (and common result
        types) in this process before the load phase, so no statement is timed with that
        one-off cost. Small results are checksummed here; a worker loads its own kernels
        only on its first large result (outside the engine's timed spans)."""
        worker_checksums.warm_up(self.generation.table_specs(self.tenant))

    def _runtime(self, spec: EngineSpec) -> Runtime:
        """The driver's runtime on the driver's node or when it lies in this node's
        runtimes folder (a shared file system), else the node's own, built or checked here."""
        known = self.runtimes.get(spec.name)
        shared = known is not None and (
            self.folders.on_driver or known.path.parent == self.runtimes_root
        )
        if known is not None and shared and known.python.exists():
            return known
        return ensure_runtime(spec, self.runtimes_root)

    def restore(self, ok_writes: dict[str, list[int]]) -> None:
        """Tell a fresh session which earlier writes each lane must re-run before going on."""
        for name, indices in ok_writes.items():
            self.lanes[name].ok_writes = sorted(indices)

    def pid(self) -> int:
        """This actor's process id (tests kill it to simulate a lost session)."""
        return os.getpid()

    def worker_pids(self) -> dict[str, int | None]:
        """Engine worker process ids by engine (tests kill them to simulate a dead worker)."""
        return {name: lane.worker.pid for name, lane in self.lanes.items()}

    def abort(self) -> None:
        """Kill every engine worker now (even mid-statement) and remove the workspaces.

        Used on Ctrl-C and on failure: a statement still running must not outlive the run.
        """
        for lane in self.lanes.values():
            pid = lane.worker.pid
            if pid:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
        self.lanes.clear()
        self._release_leases()
        shutil.rmtree(self.workspace_root, ignore_errors=True)
        _remove_if_empty(self.workspace_root.parent)

    def close(self) -> None:
        """Close every worker and remove the workspaces (safe to call twice)."""
        _each(self.lanes.values(), lambda lane: lane.worker.close())
        self.lanes.clear()
        self._release_leases()
        shutil.rmtree(self.workspace_root, ignore_errors=True)
        _remove_if_empty(self.workspace_root.parent)

    def _release_leases(self) -> None:
        for lease in self.leases:
            lease.release()
        self.leases.clear()

    # -- load phase -----------------------------------------------------------------------
    def run_chunk(
        self, engine: str, indices: list[int], in_flight: int, retried: bool = False
    ) -> list[list[ExecutionResult]]:
        """Run consecutive statements of one lane back to back (one call for several tiny
        statements amortizes the driver round trip); returns each statement's records."""
        return [self.run(engine, index, in_flight, retried) for index in indices]

    def run(
        self, engine: str, index: int, in_flight: int, retried: bool = False
    ) -> list[ExecutionResult]:
        """Run statement ``index`` of this tenant on ``engine`` and return its records.

        A baseline SELECT is run ``determinism_runs`` times in a row (phase ``repeat`` for
        the extra runs) so the comparison can tell nondeterminism from regression; one that
        reached a LIMIT without a total order once more without it (phase ``unlimited``,
        row hashes kept) for the subset check.
        """
        lane = self.lanes[engine]
        with lane.lock:
            self.in_flight.set(in_flight)
            self._catch_up(engine, lane, index)
            statement = self.statements[engine][index]
            record, kept = _once_more_on_crash(
                lambda: self._execute(engine, lane, statement, "load", 0, in_flight)
            )
            record.retried = record.retried or retried
            results: list[ExecutionResult] = [(record.to_dict(), kept)]
            if statement.is_write and record.status == "ok":
                lane.ok_writes.append(index)
            repeats = self.determinism_runs - 1 if engine == self.baseline else 0
            if statement.kind == "select" and record.status == "ok":
                for repetition in range(1, repeats + 1):
                    again, again_kept = _once_more_on_crash(
                        lambda rep=repetition: self._execute(
                            engine, lane, statement, "repeat", rep, in_flight
                        )
                    )
                    results.append((again.to_dict(), again_kept))
            if engine == self.baseline and self._needs_unlimited(statement, record):
                assert statement.unlimited_sql is not None
                unlimited_statement = dataclasses.replace(
                    statement, sql=statement.unlimited_sql, limit=None
                )
                unlimited, hashes = _once_more_on_crash(
                    lambda: execute_statement(
                        lane.worker,
                        unlimited_statement,
                        run_id=self.run_id,
                        engine=engine,
                        tenant=self.tenant,
                        phase="unlimited",
                        timeout_s=self.timeout_s,
                        in_flight=in_flight,
                        node=self.node,
                        row_hash_cap=self.unlimited_hash_rows,
                    )
                )
                results.append((unlimited.to_dict(), hashes))
            lane.applied = index + 1
            return results

    def _needs_unlimited(self, statement: Statement, record: Execution) -> bool:
        """Whether the baseline's unlimited run can decide something: a LIMIT reached by a
        result whose ORDER BY (if any) leaves rows free to differ."""
        if not (self.unlimited_hash_rows and statement.unlimited_sql and record.result):
            return False
        if statement.limit is None or record.result.get("row_count", 0) < statement.limit:
            return False  # a result shorter than its LIMIT is complete
        keys = {key.casefold() for key in statement.order_keys}
        names = record.result.get("column_names", [])
        return not (statement.ordered and all(n.casefold() in keys for n in names))

    def _execute(
        self,
        engine: str,
        lane: _Lane,
        statement: Statement,
        phase: str,
        repetition: int,
        in_flight: int,
        checksum: bool = True,
    ) -> tuple[Execution, bytes | None]:
        return execute_statement(
            lane.worker,
            statement,
            run_id=self.run_id,
            engine=engine,
            tenant=self.tenant,
            phase=phase,
            repetition=repetition,
            timeout_s=self.timeout_s,
            keep_result_rows=self.keep_result_rows,
            in_flight=in_flight,
            node=self.node,
            checksum=checksum,
            verified=lane.verified,
        )

    def _catch_up(self, engine: str, lane: _Lane, index: int) -> None:
        """Re-run the lane's successful writes between its workspace state and ``index``."""
        for earlier in lane.ok_writes:
            if lane.applied <= earlier < index:
                statement = self.statements[engine][earlier]
                lane.worker.execute(statement.sql or "", self.timeout_s, None)
        lane.applied = max(lane.applied, index)

    # -- plans ----------------------------------------------------------------------------
    def explain(self, indices: list[int]) -> dict[str, dict[int, dict[str, Any]]]:
        """Plan statements ``indices`` on every engine whose adapter has plans, without
        running them (contract ``explain``, under the engine's sandbox), one engine at a
        time. Returns engine -> index -> ``{"tree": operator tree}`` or ``{"error": engine
        error class}`` (never the message, which may quote the SQL)."""
        plans: dict[str, dict[int, dict[str, Any]]] = {}
        for engine, lane in self.lanes.items():
            answers = plans.setdefault(engine, {})
            if not getattr(lane.worker, "has_explain", False):
                continue
            with lane.lock:
                for index in indices:
                    sql = self.statements[engine][index].sql
                    if not sql:
                        continue
                    try:
                        answers[index] = {"tree": lane.worker.explain(sql)}
                    except EngineError as err:
                        found = EXPLAIN_ERROR.search(str(err))
                        answers[index] = {"error": found.group(1) if found else "EngineError"}
        return plans

    # -- performance phase ----------------------------------------------------------------
    def perf_round(
        self, index: int, order: list[str], repetition: int, fresh_workers: bool = False
    ) -> list[dict[str, Any]]:
        """One interleaved round of statement ``index``: each engine of ``order`` once, in
        that order, with nothing else running. With ``fresh_workers`` every engine worker of
        the tenant is replaced by a new process first (a new process-pair block of the
        performance phase) and runs the statement once untimed. Returns the records (phase
        ``perf``)."""
        if fresh_workers:
            # A fresh process's first statement pays cold caches and lazy imports; one
            # untimed run per engine keeps that out of the block's pairs. The workers
            # restart side by side: nothing is timed until every one is back.
            def restart(engine: str) -> None:
                lane = self.lanes[engine]
                with lane.lock:
                    lane.worker.restart()
                    warm_up = self.statements[engine][index].sql
                    if warm_up:
                        lane.worker.execute(warm_up, self.timeout_s, None)

            _each(self.lanes, restart)
        records = []
        for engine in order:
            lane = self.lanes[engine]
            with lane.lock:
                self.in_flight.set(1)
                statement = self.statements[engine][index]
                record, _ = self._execute(
                    engine, lane, statement, "perf", repetition, 1, checksum=False
                )
                records.append(record.to_dict())
        return records


def _once_more_on_crash(
    execute: Callable[[], tuple[Execution, bytes | None]],
) -> tuple[Execution, bytes | None]:
    """``execute()``, and once more (marked ``retried``) when the worker died under it:
    EngineWorker replaces it over the workspace on disk. A harness fault never stays in a
    record, whether it hit the load execution, a determinism repeat or an unlimited run."""
    record, kept = execute()
    if record.status == "crash":
        record, kept = execute()
        record.retried = True
    return record, kept
