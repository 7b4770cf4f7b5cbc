"""A run whose candidate is PostgreSQL without a DSN: qsim starts a throwaway local cluster,
gives every tenant's lane its own database and unprivileged role, and stops the cluster
when the run ends. Real Ray, real DuckDB baseline, real PostgreSQL server."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from runner_fixtures import DUCKDB_NEW, duckdb_engine, read_jsonl, wait_no_processes, write_config

from simulator.config import load_config
from simulator.engines.postgres_server import find_bindir
from simulator.results.layout import EXECUTIONS_FILE, VERDICTS_FILE
from simulator.results.store import RunStore
from simulator.runner.run import execute_run

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.mark.skipif(find_bindir() is None, reason="no PostgreSQL server binaries (initdb)")
def test_postgres_candidate_gets_a_local_server_that_stops_with_the_run(
    world: Path, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path / "run.toml",
        world,
        tmp_path / "results",
        engines={
            "base": duckdb_engine(DUCKDB_NEW),
            "pg": {"adapter": "postgres", "dialect": "postgres", "requirements": []},
        },
        run={"candidates": ["pg"]},
        perf={"enabled": False},
    )
    outcome = execute_run(load_config(config))
    assert outcome.status == "complete"
    meta = RunStore(outcome.run_dir).read_meta().to_dict()
    assert meta["engines"]["pg"]["version"].startswith("PostgreSQL ")
    executions = read_jsonl(outcome.run_dir / EXECUTIONS_FILE)
    pg = Counter(e["status"] for e in executions if e["engine"] == "pg" and e["phase"] == "load")
    assert pg["ok"] >= 10
    verdicts = read_jsonl(outcome.run_dir / VERDICTS_FILE)
    assert Counter(v["candidate"] for v in verdicts) == {"pg": meta["queries"]}
    assert any(v["verdict"] == "match" for v in verdicts)
    # The run's cluster is gone: its folder deleted, none of its processes left behind.
    (server,) = meta["local_servers"]
    assert server["kind"] == "postgres" and server["databases"] >= 2
    assert not Path(server["folder"]).exists()
    assert wait_no_processes(outcome.run_id) == []
    assert not [p for p in Path("/proc").glob("[0-9]*") if _runs_in(p, server["folder"])]


def _runs_in(proc: Path, folder: str) -> bool:
    try:
        return folder in (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return False
