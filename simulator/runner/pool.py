"""The Ray session pool: one :class:`~simulator.runner.session.TenantSession` actor per
tenant, started together, replaced when one dies, closed (or aborted) at the end.

Ray is imported inside the methods: importing the runner must not pull in Ray (``qsim
report`` and the tests of the record types never need it).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any

from simulator.engines.runtime import default_root
from simulator.errors import QsimError, RunError
from simulator.results.layout import WORKSPACES_FOLDER
from simulator.runner.context import RunContext
from simulator.runner.local_servers import LocalServers
from simulator.runner.node import node_id
from simulator.runner.prepare import writable_tables
from simulator.runner.schedule import Lane
from simulator.runner.session import TenantSession

SESSION_CPUS = 0.05  # sessions mostly wait on engine workers; 8 tenants fit on 2 cores
CLOSE_TIMEOUT_S = 30.0
REPLACE_ATTEMPTS = 4


@dataclass
class Session:
    """One tenant's actor; ``incarnation`` counts replacements."""

    actor: Any
    incarnation: int
    node: str = ""
    pid: int = 0


class SessionPool:
    """The tenants' sessions of one run.

    ``lane_ok_writes`` (owned by the recorder) tells a replacement session which writes of
    each lane succeeded, so it can rebuild the workspace state; ``harness`` counts
    ``sessions_replaced`` for run.json.
    """

    def __init__(
        self,
        ctx: RunContext,
        servers: LocalServers,
        lane_ok_writes: dict[Lane, list[int]],
        harness: dict[str, int],
    ) -> None:
        self.ctx = ctx
        self.servers = servers
        self.lane_ok_writes = lane_ok_writes
        self.harness = harness
        self.sessions: dict[str, Session] = {}
        self.driver_node = ""

    def __getitem__(self, tenant: str) -> Session:
        return self.sessions[tenant]

    def _kwargs(self, tenant: str, incarnation: int) -> dict[str, Any]:
        ctx = self.ctx
        return {
            "run_id": ctx.run_id,
            "tenant": tenant,
            "workspace_root": str(ctx.store.run_dir / WORKSPACES_FOLDER),
            "generation_store": ctx.generation.store,
            "generation_cache": ctx.cfg.dataset.cache,
            "driver_node": self.driver_node,
            "generation_id": ctx.generation.id,
            "engines": [
                self.servers.engine_for(ctx.cfg.engines[name], tenant) for name in ctx.engines
            ],
            "baseline": ctx.baseline,
            "runtimes_root": str(default_root()),
            "runtimes": ctx.runtimes,
            "statements": ctx.statements[tenant],
            "writable": writable_tables(ctx.generation, tenant, ctx.queries[tenant]),
            "timeout_s": ctx.cfg.load.timeout_s,
            "keep_result_rows": ctx.cfg.compare.keep_result_rows,
            "determinism_runs": ctx.cfg.compare.determinism_runs,
            "unlimited_hash_rows": ctx.cfg.compare.unlimited_hash_rows,
            "incarnation": incarnation,
            "read_only_cache": ctx.cfg.dataset.read_only_cache,
            "read_only_cache_max_bytes": int(ctx.cfg.dataset.read_only_cache_max_gb * 1e9),
        }

    def _actor_class(self) -> Any:
        import ray

        return ray.remote(TenantSession).options(
            num_cpus=SESSION_CPUS,
            max_concurrency=len(self.ctx.engines) + 2,
            scheduling_strategy="SPREAD",
            max_restarts=0,
            max_task_retries=0,
        )

    def start(self, tenants: list[str]) -> None:
        """Start a session per tenant; record engine versions and sessions in run.json."""
        self.driver_node = node_id()
        actor_class = self._actor_class()
        created = {t: actor_class.remote(**self._kwargs(t, 0)) for t in tenants}
        self.sessions = {t: Session(actor, 0) for t, actor in created.items()}
        starts = {t: actor.start.remote() for t, actor in created.items()}
        versions: dict[str, str] = {}
        cache_uses: dict[str, dict[str, str]] = {}
        for tenant, ref in starts.items():
            info = self.get(ref)
            self.sessions[tenant].node = info["node"]
            self.sessions[tenant].pid = info["pid"]
            versions.update(info["versions"])
            cache_uses[tenant] = info.get("read_only_cache", {})
        store = self.ctx.store
        meta = store.read_meta()
        for name, version in versions.items():
            meta.engines[name].version = version
        meta.sessions = {
            t: {"node": s.node, "pid": s.pid, "read_only_cache": cache_uses[t]}
            for t, s in self.sessions.items()
        }
        store.write_meta(meta)

    def get(self, ref: Any) -> Any:
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

    def replace(self, tenant: str, incarnation: int) -> None:
        """The session of ``tenant`` died: start a fresh one that rebuilds lane state."""
        import ray
        from ray.exceptions import ActorUnavailableError, RayActorError

        current = self.sessions[tenant]
        if current.incarnation != incarnation:
            return  # another failed call already replaced it
        ray.kill(current.actor, no_restart=True)
        ok_writes = {e: self.lane_ok_writes.get(Lane(tenant, e), []) for e in self.ctx.engines}
        # A node that is leaving can still be picked for the replacement until Ray has
        # declared it dead: try again, waiting a little longer each time.
        for attempt in range(REPLACE_ATTEMPTS):
            fresh = self._actor_class().remote(**self._kwargs(tenant, incarnation + 1))
            try:
                info = self.get(fresh.start.remote())
                self.get(fresh.restore.remote(ok_writes))
                break
            except (RayActorError, ActorUnavailableError) as err:
                ray.kill(fresh, no_restart=True)
                if attempt == REPLACE_ATTEMPTS - 1:
                    first = str(err).strip().splitlines()[0]
                    raise RunError(
                        f"tenant {tenant}: no replacement session could start ({first})"
                    ) from None
                time.sleep(2.0**attempt)
        self.sessions[tenant] = Session(fresh, incarnation + 1, info["node"], info["pid"])
        self.harness["sessions_replaced"] += 1

    def close(self, graceful: bool) -> None:
        """Close every session (abort in-flight work unless graceful) and kill its actor."""
        import ray

        if self.sessions and ray.is_initialized():
            method = "close" if graceful else "abort"
            refs = [getattr(s.actor, method).remote() for s in self.sessions.values()]
            # A dead session cannot be closed; Ray reaps its process.
            with contextlib.suppress(Exception):
                ray.wait(refs, num_returns=len(refs), timeout=CLOSE_TIMEOUT_S)
            for session in self.sessions.values():
                ray.kill(session.actor, no_restart=True)
        self.sessions = {}
