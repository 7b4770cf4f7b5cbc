"""Quiet confirmation: which findings of a loaded run appear only under concurrent load.

The 2020 incident slipped through because the regression suite ran on a quiet cluster.
After the load phase, every tenant that has a correctness finding (``result_mismatch``,
``write_mismatch``, ``candidate_error``, ``timeout``) is replayed once more on a quiet
machine: in log order, in fresh workspaces, one statement at a time (the baseline's, then
each candidate's, never overlapping), with fault injection told that nothing else is in
flight. Each finding is judged again on the quiet records; a finding whose quiet verdict is
not the same finding is marked ``under_load_only``.

Only the tenants with findings are replayed, and only the candidates with findings there,
so a clean run costs nothing. The quiet replay runs in this process (no Ray): its engine
workers are the same isolated runtimes the load phase used.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulator.compare.judge import judge_query
from simulator.config import EngineSpec, RunConfig
from simulator.datasets.store import Generation, GenerationStore
from simulator.engines.runtime import default_root, ensure_runtime
from simulator.errors import RunError
from simulator.results.execution import Execution
from simulator.results.layout import QUERIES_FILE, WORKSPACES_FOLDER
from simulator.results.store import read_meta
from simulator.results.verdicts import REGRESSION_VERDICTS
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


@dataclass
class QuietConfirmation:
    """What the quiet replay found.

    ``reproduced`` and ``under_load_only`` hold ``(candidate, query_id)`` of the loaded run's
    findings; ``quiet_verdicts`` the verdict name each finding got on the quiet replay.
    """

    tenants: list[str] = field(default_factory=list)
    executions: int = 0
    wall_s: float = 0.0
    reproduced: list[tuple[str, str]] = field(default_factory=list)
    under_load_only: list[tuple[str, str]] = field(default_factory=list)
    quiet_verdicts: dict[tuple[str, str], str] = field(default_factory=dict)

    def apply(self, verdicts: Iterable[dict[str, Any]]) -> int:
        """Set ``under_load_only`` on the verdict dicts it names; returns how many changed."""
        marked = set(self.under_load_only)
        changed = 0
        for verdict in verdicts:
            flag = (verdict["candidate"], verdict["query_id"]) in marked
            if flag and not verdict.get("under_load_only"):
                changed += 1
            if flag:
                verdict["under_load_only"] = True
        return changed

    def describe(self) -> dict[str, Any]:
        """A JSON-ready summary for ``run.json`` (key ``confirm``)."""
        return {
            "tenants": self.tenants,
            "executions": self.executions,
            "wall_s": round(self.wall_s, 3),
            "reproduced": [{"candidate": c, "query_id": q} for c, q in self.reproduced],
            "under_load_only": [
                {"candidate": c, "query_id": q, "quiet_verdict": self.quiet_verdicts[(c, q)]}
                for c, q in self.under_load_only
            ],
        }

    @classmethod
    def from_meta(cls, data: dict[str, Any]) -> QuietConfirmation:
        """Rebuild from :meth:`describe` output (``run.json`` key ``confirm``)."""
        marked = [(d["candidate"], d["query_id"]) for d in data.get("under_load_only", [])]
        return cls(
            tenants=list(data.get("tenants", [])),
            executions=int(data.get("executions", 0)),
            wall_s=float(data.get("wall_s", 0.0)),
            reproduced=[(d["candidate"], d["query_id"]) for d in data.get("reproduced", [])],
            under_load_only=marked,
            quiet_verdicts={
                (d["candidate"], d["query_id"]): d["quiet_verdict"]
                for d in data.get("under_load_only", [])
            },
        )


def findings_by_tenant(verdicts: Iterable[dict[str, Any]]) -> dict[str, dict[str, set[str]]]:
    """Correctness findings grouped as tenant -> candidate -> query ids."""
    grouped: dict[str, dict[str, set[str]]] = {}
    for verdict in verdicts:
        if verdict["verdict"] in REGRESSION_VERDICTS:
            by_candidate = grouped.setdefault(verdict["tenant"], {})
            by_candidate.setdefault(verdict["candidate"], set()).add(verdict["query_id"])
    return grouped


def confirm_quietly(
    cfg: RunConfig,
    run_dir: Path,
    verdicts: list[dict[str, Any]],
    *,
    generation: Generation | None = None,
    work_dir: Path | None = None,
    engine_for: EngineFor = lambda spec, tenant: spec,
) -> QuietConfirmation:
    """Replay, quietly, every tenant of ``verdicts`` that has a correctness finding.

    ``engine_for(spec, tenant)`` gives the spec a tenant's engine runs with (the runner's
    :class:`~simulator.runner.local_servers.LocalServers` fills in DSNs of servers it runs).

    ``run_dir`` is the loaded run's folder (its ``run.json`` names the generation and its
    ``queries.parquet`` holds the statements); ``verdicts`` are that run's verdict dicts (not
    modified: call :meth:`QuietConfirmation.apply`). Workspaces and kept results go under
    ``work_dir`` (a temporary folder by default), removed afterwards. Raises RunError when
    the run folder is unreadable and EngineError when an engine cannot start.
    """
    began = time.monotonic()
    outcome = QuietConfirmation()
    findings = findings_by_tenant(verdicts)
    if not findings:
        return outcome
    run_dir = Path(run_dir)
    if generation is None:
        generation = _generation(cfg, run_dir)
    queries = by_tenant(read_queries(run_dir / QUERIES_FILE))
    owned = work_dir is None
    root = Path(tempfile.mkdtemp(prefix="qsim-confirm-")) if work_dir is None else work_dir
    try:
        for tenant in sorted(findings):
            if tenant not in queries:
                raise RunError(f"{run_dir / QUERIES_FILE}: no statements for tenant {tenant!r}")
            outcome.tenants.append(tenant)
            _confirm_tenant(
                cfg,
                generation,
                tenant,
                queries[tenant],
                findings[tenant],
                root,
                outcome,
                engine_for,
            )
    finally:
        if owned:
            shutil.rmtree(root, ignore_errors=True)
    outcome.wall_s = time.monotonic() - began
    return outcome


def _generation(cfg: RunConfig, run_dir: Path) -> Generation:
    return GenerationStore(cfg.dataset.store).get(read_meta(run_dir).generation_id)


def _confirm_tenant(
    cfg: RunConfig,
    generation: Generation,
    tenant: str,
    queries: list[WorkloadQuery],
    findings: dict[str, set[str]],
    root: Path,
    outcome: QuietConfirmation,
    engine_for: EngineFor,
) -> None:
    """Quietly replay one tenant on the baseline and its candidates with findings."""
    baseline = cfg.run.baseline
    candidates = [c for c in cfg.run.candidates if c in findings]
    engines = [baseline, *candidates]
    statements = build_statements(cfg, generation, tenant, queries)
    kept_dir = root / tenant / "kept"
    kept_dir.mkdir(parents=True, exist_ok=True)
    session = TenantSession(
        run_id=f"confirm-{tenant}",
        tenant=tenant,
        workspace_root=str(root / WORKSPACES_FOLDER),
        generation_store=str(generation.path.parent.resolve()),
        generation_id=generation.id,
        engines=[engine_for(cfg.engines[name], tenant) for name in engines],
        baseline=baseline,
        runtimes_root=str(default_root()),
        runtimes={name: ensure_runtime(cfg.engines[name], default_root()) for name in engines},
        statements={name: statements[name] for name in engines},
        writable=writable_tables(generation, tenant, queries),
        timeout_s=cfg.load.timeout_s,
        keep_result_rows=cfg.compare.keep_result_rows,
        determinism_runs=cfg.compare.determinism_runs,
    )
    try:
        session.start()
        for index, query in enumerate(queries):
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
                if baseline not in records or candidate not in records:
                    verdict = "skipped"
                else:
                    verdict = judge_query(
                        query,
                        records[baseline],
                        records[candidate][0],
                        cfg.compare,
                        candidate,
                        f"confirm-{tenant}",
                    ).verdict
                _classify(outcome, candidate, query.query_id, verdict)
    finally:
        session.close()


def _classify(
    outcome: QuietConfirmation, candidate: str, query_id: str, quiet_verdict: str
) -> None:
    key = (candidate, query_id)
    outcome.quiet_verdicts[key] = quiet_verdict
    # The loaded verdict is a regression; it reproduces when the quiet one is a regression
    # too (any kind: the problem exists without load, whatever shape it takes quietly).
    if quiet_verdict in REGRESSION_VERDICTS:
        outcome.reproduced.append(key)
    else:
        outcome.under_load_only.append(key)


def _kept(record: Execution, data: bytes | None, folder: Path) -> Execution:
    """Put a kept result on disk so the comparison can read it (order and LIMIT checks)."""
    if data is None:
        return record
    path = folder / (record.execution_id.replace(":", "_").replace("/", "_") + ".arrow")
    path.write_bytes(data)
    record.result_path = str(path)
    return record
