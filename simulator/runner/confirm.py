"""Quiet confirmation: which findings of a loaded run appear only under concurrent load.

The 2020 incident slipped through because the regression suite ran on a quiet cluster.
After the load phase, the findings a quiet replay can relabel (``candidate_error``,
``timeout``, ``write_mismatch``, and a result mismatch that reads what such a finding
wrote) are replayed ``load.confirm_replays`` times on a quiet
machine: in log order, in fresh workspaces each time, one statement at a time (the
baseline's, then each candidate's, never overlapping), with fault injection told that
nothing else is in flight. Only the finding statements and the writes before them (the
state they read) are replayed, not a write whose baseline timed out under load (a known
timeout: replaying it only spends the budget). Any other ``result_mismatch`` is not
replayed: the baseline's determinism repeats already showed the result is deterministic,
and its input does not depend on load.

Each finding is judged again on every quiet replay: it is ``reproduced`` when every replay
shows a regression, ``under_load_only`` when none does, and ``intermittent`` when it comes
and goes in the quiet replays too. The replay is bounded by ``load.confirm_max_statements``
(statement positions per replay, over all tenants) and ``load.confirm_budget_s``; findings
the bound cuts off are listed as ``not_confirmed`` and keep their loaded label.

The quiet replay runs in this process (no Ray): its engine workers are the same isolated
runtimes the load phase used.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulator.compare.judge import judge_query
from simulator.config import EngineSpec, RunConfig
from simulator.datasets.object_store import open_store
from simulator.datasets.store import Generation
from simulator.engines.runtime import Runtime, default_root, ensure_runtime
from simulator.errors import RunError
from simulator.results.execution import Execution
from simulator.results.layout import QUERIES_FILE, WORKSPACES_FOLDER
from simulator.results.store import read_meta
from simulator.results.verdicts import REGRESSION_VERDICTS
from simulator.runner.execute import Statement
from simulator.runner.prepare import (
    build_statements,
    by_tenant,
    read_queries,
    writable_tables,
)
from simulator.runner.session import TenantSession
from simulator.workload.store import WorkloadQuery

# Quiet: the count a session is dispatched with includes the execution itself, so 1 means
# nothing else in flight (fault injection's in_flight() sees 0).
QUIET_IN_FLIGHT = 1

# (declared engine, tenant) -> the spec that tenant's engine runs with
EngineFor = Callable[[EngineSpec, str], EngineSpec]


# The findings a quiet replay can relabel; a result mismatch is deterministic by then.
CONFIRMABLE = ("candidate_error", "timeout", "write_mismatch")

Key = tuple[str, str]  # (candidate, query_id)


@dataclass
class QuietConfirmation:
    """What the quiet replays found.

    ``reproduced``, ``under_load_only``, ``intermittent`` and ``not_confirmed`` hold
    ``(candidate, query_id)`` of the loaded run's findings; ``quiet_verdicts`` the verdict
    name each finding got on each quiet replay.
    """

    tenants: list[str] = field(default_factory=list)
    replays: int = 0
    executions: int = 0
    statements: int = 0
    wall_s: float = 0.0
    reproduced: list[Key] = field(default_factory=list)
    under_load_only: list[Key] = field(default_factory=list)
    intermittent: list[Key] = field(default_factory=list)
    not_confirmed: list[Key] = field(default_factory=list)
    quiet_verdicts: dict[Key, list[str]] = field(default_factory=dict)

    def apply(self, verdicts: Iterable[dict[str, Any]]) -> int:
        """Set ``under_load_only`` / ``intermittent`` on the verdict dicts they name;
        returns how many changed."""
        labels = {"under_load_only": set(self.under_load_only)}
        labels["intermittent"] = set(self.intermittent)
        changed = 0
        for verdict in verdicts:
            key = (verdict["candidate"], verdict["query_id"])
            for label, marked in labels.items():
                if key in marked and not verdict.get(label):
                    verdict[label] = True
                    changed += 1
        return changed

    def describe(self) -> dict[str, Any]:
        """A JSON-ready summary for ``run.json`` (key ``confirm``)."""

        def listed(keys: list[Key]) -> list[dict[str, Any]]:
            return [
                {"candidate": c, "query_id": q, "quiet_verdicts": self.quiet_verdicts[(c, q)]}
                for c, q in keys
            ]

        return {
            "tenants": self.tenants,
            "replays": self.replays,
            "executions": self.executions,
            "statements": self.statements,
            "wall_s": round(self.wall_s, 3),
            "reproduced": [{"candidate": c, "query_id": q} for c, q in self.reproduced],
            "under_load_only": listed(self.under_load_only),
            "intermittent": listed(self.intermittent),
            "not_confirmed": [{"candidate": c, "query_id": q} for c, q in self.not_confirmed],
        }

    @classmethod
    def from_meta(cls, data: dict[str, Any]) -> QuietConfirmation:
        """Rebuild from :meth:`describe` output (``run.json`` key ``confirm``)."""

        def keys(name: str) -> list[Key]:
            return [(d["candidate"], d["query_id"]) for d in data.get(name, [])]

        quiet = {
            (d["candidate"], d["query_id"]): list(
                d.get("quiet_verdicts") or [d.get("quiet_verdict", "")]
            )
            for name in ("under_load_only", "intermittent")
            for d in data.get(name, [])
        }
        return cls(
            tenants=list(data.get("tenants", [])),
            replays=int(data.get("replays", 1)),
            executions=int(data.get("executions", 0)),
            statements=int(data.get("statements", 0)),
            wall_s=float(data.get("wall_s", 0.0)),
            reproduced=keys("reproduced"),
            under_load_only=keys("under_load_only"),
            intermittent=keys("intermittent"),
            not_confirmed=keys("not_confirmed"),
            quiet_verdicts=quiet,
        )


def findings_by_tenant(verdicts: Iterable[dict[str, Any]]) -> dict[str, dict[str, set[str]]]:
    """Correctness findings grouped as tenant -> candidate -> query ids."""
    grouped: dict[str, dict[str, set[str]]] = {}
    for verdict in verdicts:
        if verdict["verdict"] in REGRESSION_VERDICTS:
            by_candidate = grouped.setdefault(verdict["tenant"], {})
            by_candidate.setdefault(verdict["candidate"], set()).add(verdict["query_id"])
    return grouped


def label_changing(
    queries: list[WorkloadQuery], findings: dict[str, set[str]], kinds: dict[Key, str]
) -> dict[str, set[str]]:
    """The findings of one tenant a quiet replay can relabel: every ``CONFIRMABLE`` one, and
    any other (a result mismatch) that reads a table a confirmable finding before it wrote:
    its input may differ only under load. Other result mismatches are deterministic."""
    kept: dict[str, set[str]] = {}
    for candidate, ids in findings.items():
        tainted: set[str] = set()
        for query in queries:
            if query.query_id not in ids:
                continue
            if kinds.get((candidate, query.query_id)) in CONFIRMABLE:
                kept.setdefault(candidate, set()).add(query.query_id)
                tainted.update(table.lower() for table in query.tables_written)
            elif tainted & {table.lower() for table in query.tables_read}:
                kept.setdefault(candidate, set()).add(query.query_id)
    return kept


def known_timeouts(verdicts: Iterable[dict[str, Any]]) -> set[str]:
    """Query ids whose baseline timed out under load."""
    return {
        v["query_id"]
        for v in verdicts
        if (v.get("evidence") or {}).get("baseline", {}).get("status") == "timeout"
    }


def confirm_quietly(
    cfg: RunConfig,
    run_dir: Path,
    verdicts: list[dict[str, Any]],
    *,
    generation: Generation | None = None,
    work_dir: Path | None = None,
    engine_for: EngineFor = lambda spec, tenant: spec,
) -> QuietConfirmation:
    """Replay, quietly and ``load.confirm_replays`` times, the findings of ``verdicts`` a
    quiet replay can relabel, within the configured bounds.

    ``engine_for(spec, tenant)`` gives the spec a tenant's engine runs with (the runner's
    :class:`~simulator.runner.local_servers.LocalServers` fills in DSNs of servers it runs).

    ``run_dir`` is the loaded run's folder (its ``run.json`` names the generation and its
    ``queries.parquet`` holds the statements); ``verdicts`` are that run's verdict dicts (not
    modified: call :meth:`QuietConfirmation.apply`). Workspaces and kept results go under
    ``work_dir`` (a temporary folder by default), removed afterwards. Raises RunError when
    the run folder is unreadable and EngineError when an engine cannot start.
    """
    began = time.monotonic()
    outcome = QuietConfirmation(replays=cfg.load.confirm_replays)
    findings = findings_by_tenant(verdicts)
    if not findings:
        return outcome
    run_dir = Path(run_dir)
    if generation is None:
        generation = _generation(cfg, run_dir)
    queries = by_tenant(read_queries(run_dir / QUERIES_FILE))
    skip = known_timeouts(verdicts)
    kinds = {(v["candidate"], v["query_id"]): v["verdict"] for v in verdicts}
    owned = work_dir is None
    root = Path(tempfile.mkdtemp(prefix="qsim-confirm-")) if work_dir is None else work_dir
    # Each engine's runtime is checked once for every replay of every tenant (a check runs
    # the runtime's Python: ~0.25 s).
    runtimes: dict[str, Runtime] = {}
    try:
        for tenant in sorted(findings):
            if tenant not in queries:
                raise RunError(f"{run_dir / QUERIES_FILE}: no statements for tenant {tenant!r}")
            tenant_findings = label_changing(queries[tenant], findings[tenant], kinds)
            if not tenant_findings:
                continue
            plan = _plan(queries[tenant], tenant_findings, skip)
            over_budget = time.monotonic() - began >= cfg.load.confirm_budget_s
            if over_budget or outcome.statements + len(plan) > cfg.load.confirm_max_statements:
                outcome.not_confirmed += _keys(tenant_findings)
                continue
            outcome.tenants.append(tenant)
            outcome.statements += len(plan)
            quiet = _confirm_tenant(
                cfg,
                generation,
                tenant,
                queries[tenant],
                tenant_findings,
                plan,
                root / tenant,
                outcome,
                engine_for,
                runtimes,
                deadline=began + cfg.load.confirm_budget_s,
            )
            for key, seen in quiet.items():
                _classify(outcome, key, seen, cfg.load.confirm_replays)
    finally:
        if owned:
            shutil.rmtree(root, ignore_errors=True)
    outcome.wall_s = time.monotonic() - began
    return outcome


def _keys(findings: dict[str, set[str]]) -> list[Key]:
    return sorted((c, q) for c, ids in findings.items() for q in ids)


def _plan(queries: list[WorkloadQuery], findings: dict[str, set[str]], skip: set[str]) -> list[int]:
    """Statement positions a replay runs: each finding statement, and the writes before the
    last one (the state the findings read), except writes known to time out."""
    wanted = set().union(*findings.values())
    positions = [i for i, q in enumerate(queries) if q.query_id in wanted]
    last = max(positions, default=-1)
    return [
        i
        for i, q in enumerate(queries[: last + 1])
        if q.query_id in wanted
        or (q.tables_written and q.kind != "select" and q.query_id not in skip)
    ]


def _generation(cfg: RunConfig, run_dir: Path) -> Generation:
    return open_store(cfg.dataset.store, cfg.dataset.cache).get(read_meta(run_dir).generation_id)


def _confirm_tenant(
    cfg: RunConfig,
    generation: Generation,
    tenant: str,
    queries: list[WorkloadQuery],
    findings: dict[str, set[str]],
    plan: list[int],
    root: Path,
    outcome: QuietConfirmation,
    engine_for: EngineFor,
    runtimes: dict[str, Runtime],
    *,
    deadline: float,
) -> dict[Key, list[str]]:
    """Quietly replay ``plan`` of one tenant ``load.confirm_replays`` times on the baseline
    and its candidates with findings; the quiet verdicts of each finding, one a replay
    (empty, and the findings listed as not confirmed, when the budget ran out)."""
    statements = build_statements(cfg, generation, tenant, queries)
    quiet: dict[Key, list[str]] = {key: [] for key in _keys(findings)}
    for replay in range(cfg.load.confirm_replays):
        if time.monotonic() >= deadline:
            outcome.not_confirmed += list(quiet)
            return {}
        folder = root / f"replay-{replay}"
        for key, verdict in _replay(
            cfg,
            generation,
            tenant,
            queries,
            findings,
            plan,
            statements,
            replay,
            folder,
            outcome,
            engine_for,
            runtimes,
        ).items():
            quiet[key].append(verdict)
    return quiet


def _replay(
    cfg: RunConfig,
    generation: Generation,
    tenant: str,
    queries: list[WorkloadQuery],
    findings: dict[str, set[str]],
    plan: list[int],
    statements: dict[str, list[Statement]],
    replay: int,
    folder: Path,
    outcome: QuietConfirmation,
    engine_for: EngineFor,
    runtimes: dict[str, Runtime],
) -> dict[Key, str]:
    """Quiet replay number ``replay`` of ``plan`` in fresh workspaces: each finding's quiet
    verdict. ``runtimes`` holds the runtimes checked so far (filled here)."""
    baseline = cfg.run.baseline
    candidates = [c for c in cfg.run.candidates if c in findings]
    engines = [baseline, *candidates]
    for name in engines:
        if name not in runtimes:
            runtimes[name] = ensure_runtime(cfg.engines[name], default_root())
    kept_dir = folder / "kept"
    kept_dir.mkdir(parents=True, exist_ok=True)
    session = TenantSession(
        run_id=f"confirm-{tenant}",
        tenant=tenant,
        workspace_root=str(folder / WORKSPACES_FOLDER),
        generation_store=generation.store,
        generation_cache=cfg.dataset.cache,
        generation_id=generation.id,
        engines=[_reseeded(engine_for(cfg.engines[name], tenant), replay) for name in engines],
        baseline=baseline,
        runtimes_root=str(default_root()),
        runtimes={name: runtimes[name] for name in engines},
        statements={name: statements[name] for name in engines},
        writable=writable_tables(generation, tenant, queries),
        timeout_s=cfg.load.timeout_s,
        keep_result_rows=cfg.compare.keep_result_rows,
        determinism_runs=cfg.compare.determinism_runs,
        read_only_cache=cfg.dataset.read_only_cache,
        read_only_cache_max_bytes=int(cfg.dataset.read_only_cache_max_gb * 1e9),
    )
    verdicts: dict[Key, str] = {}
    try:
        session.start()
        for index in plan:
            query = queries[index]
            records: dict[str, list[Execution]] = {}
            for engine in engines:
                if statements[engine][index].sql is None:
                    continue
                results = session.run(engine, index, QUIET_IN_FLIGHT)
                outcome.executions += len(results)
                records[engine] = [_kept(Execution.from_dict(d), b, kept_dir) for d, b in results]
            for candidate in candidates:
                if query.query_id not in findings[candidate]:
                    continue
                verdict = "skipped"
                if baseline in records and candidate in records:
                    verdict = judge_query(
                        query,
                        records[baseline],
                        records[candidate][0],
                        cfg.compare,
                        candidate,
                        f"confirm-{tenant}",
                    ).verdict
                verdicts[(candidate, query.query_id)] = verdict
    finally:
        session.close()
    return verdicts


def _reseeded(spec: EngineSpec, replay: int) -> EngineSpec:
    """``spec`` with its injected faults drawn afresh for each replay: a seeded injector
    would otherwise repeat the same draws, and no replay could show an intermittent fault."""
    if not spec.faults.enabled or replay == 0:
        return spec
    faults = dataclasses.replace(spec.faults, seed=spec.faults.seed + replay)
    return dataclasses.replace(spec, faults=faults)


def _classify(outcome: QuietConfirmation, key: Key, seen: list[str], replays: int) -> None:
    outcome.quiet_verdicts[key] = seen
    # A quiet regression of any kind reproduces the finding: the problem exists without
    # load, whatever shape it takes quietly.
    regressions = sum(1 for verdict in seen if verdict in REGRESSION_VERDICTS)
    if regressions == replays:
        outcome.reproduced.append(key)
    elif regressions == 0:
        outcome.under_load_only.append(key)
    else:
        outcome.intermittent.append(key)


def _kept(record: Execution, data: bytes | None, folder: Path) -> Execution:
    """Put a kept result on disk so the comparison can read it (order and LIMIT checks)."""
    if data is None:
        return record
    path = folder / (record.execution_id.replace(":", "_").replace("/", "_") + ".arrow")
    path.write_bytes(data)
    record.result_path = str(path)
    return record
