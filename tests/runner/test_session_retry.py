"""A worker that dies under a determinism repeat or an unlimited run of a tenant session
(OOM killer, a crash) is replaced and that execution run once more, marked ``retried``,
as for the load execution itself: a harness fault must not leave a ``WorkerCrash`` in
the records, where the comparison would read it as the baseline disagreeing with itself.
The kill is real (SIGKILL of the engine worker); only its moment is chosen by the test,
through a wrapper around the session's own execute step (a fault injected, named so)."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest
from runner_fixtures import write_config

from simulator.config import load_config
from simulator.engines.runtime import default_root
from simulator.runner.execute import Statement
from simulator.runner.inputs import resolve_generation
from simulator.runner.session import TenantSession


def _session(world_dir: Path, tmp_path: Path) -> TenantSession:
    cfg = load_config(write_config(tmp_path / "run.toml", world_dir, tmp_path / "results"))
    generation = resolve_generation(cfg)
    select = Statement(
        index=0,
        query_id="q0",
        kind="select",
        sql="SELECT user_id, count(*) AS n FROM events GROUP BY user_id ORDER BY n LIMIT 3",
        ordered=True,
        order_keys=("n",),
        limit=3,
        unlimited_sql="SELECT user_id, count(*) AS n FROM events GROUP BY user_id",
    )
    return TenantSession(
        run_id="retry-test",
        tenant=sorted(generation.tenants())[0],
        workspace_root=str(tmp_path / "ws"),
        generation_store=str(generation.path.parent.resolve()),
        generation_id=generation.id,
        engines=[cfg.engines["base"]],
        baseline="base",
        runtimes_root=str(default_root()),
        statements={"base": [select]},
        writable=[],
        timeout_s=60.0,
        keep_result_rows=0,
        determinism_runs=2,
        unlimited_hash_rows=1000,
        read_only_cache=str(tmp_path / "cache"),
    )


@pytest.mark.parametrize(
    "moment, retried_phase",
    [("before the repeat", "repeat"), ("after the repeat", "unlimited")],
)
def test_a_worker_killed_under_a_repeat_or_an_unlimited_run_is_replaced_and_it_retried(
    world: Path, tmp_path: Path, moment: str, retried_phase: str
) -> None:
    session = _session(world, tmp_path)
    session.start()
    try:
        original = session._execute
        killed: list[int] = []

        def kill(lane: Any) -> None:
            killed.append(lane.worker.pid)
            os.kill(lane.worker.pid, signal.SIGKILL)

        def execute_with_a_kill(
            engine: str, lane: Any, statement: Statement, phase: str, *rest: Any, **kw: Any
        ) -> Any:
            if phase == "repeat" and moment == "before the repeat" and not killed:
                kill(lane)
            answer = original(engine, lane, statement, phase, *rest, **kw)
            if phase == "repeat" and moment == "after the repeat" and not killed:
                kill(lane)
            return answer

        session._execute = execute_with_a_kill  # type: ignore[method-assign]
        records = [record for record, _ in session.run("base", 0, 1)]
    finally:
        session.close()
    assert len(killed) == 1
    phases = [(r["phase"], r["status"], r["retried"]) for r in records]
    assert phases == [
        ("load", "ok", False),
        ("repeat", "ok", retried_phase == "repeat"),
        ("unlimited", "ok", retried_phase == "unlimited"),
    ], phases
    assert not [r for r in records if r["error_class"] in ("WorkerCrash", "HarnessError")]
