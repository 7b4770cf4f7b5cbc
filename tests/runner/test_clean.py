"""``qsim clean``: a throwaway PostgreSQL named in a run folder's servers file is stopped and
its folder deleted (a real server); a run a live driver holds is left alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulator.cli import main
from simulator.config import EngineSpec
from simulator.engines.postgres_server import find_bindir, postmaster_pid
from simulator.errors import RunError
from simulator.results.layout import SERVERS_FILE
from simulator.results.meta import RunMeta
from simulator.results.store import RunStore
from simulator.runner.clean import clean_all, clean_run
from simulator.runner.local_servers import LocalServers


def _run_folder(results: Path, run_id: str) -> RunStore:
    return RunStore.create(results, run_id, RunMeta(run_id=run_id))


@pytest.mark.postgres
@pytest.mark.skipif(find_bindir() is None, reason="no PostgreSQL server binaries (initdb)")
def test_clean_stops_the_recorded_server_and_deletes_its_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = _run_folder(tmp_path / "results", "r1")
    servers = LocalServers(store.run_dir / SERVERS_FILE)
    servers.prepare([EngineSpec(name="pg", adapter="postgres")])
    (entry,) = json.loads((store.run_dir / SERVERS_FILE).read_text())
    folder, pid = Path(entry["folder"]), entry["pid"]
    assert pid is not None and postmaster_pid(folder) == pid
    store.close()  # the driver "dies" without stopping the server
    code = main(["clean", "r1", "--results-dir", str(tmp_path / "results")])
    assert code == 0
    assert f"stopped server {folder}" in capsys.readouterr().out
    assert not folder.exists()
    assert not Path(f"/proc/{pid}").exists()
    assert not (store.run_dir / SERVERS_FILE).exists()
    servers.stop()  # nothing left to stop; the journal stays absent
    assert not (store.run_dir / SERVERS_FILE).exists()


def test_clean_leaves_a_run_a_live_driver_holds(tmp_path: Path) -> None:
    held = _run_folder(tmp_path / "results", "r2")
    with pytest.raises(RunError, match="another qsim process is running this run"):
        clean_run(held.run_dir)
    assert clean_all(tmp_path / "results") == ([], ["r2"])
    held.close()
    with pytest.raises(RunError, match="no such results folder"):
        clean_all(tmp_path / "nowhere")
