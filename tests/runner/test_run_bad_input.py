"""Bad input and setup: each gives one clear line (a QsimError, exit code 2 in the CLI),
loses nothing already recorded, and leaves no Ray or worker process behind."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from runner_fixtures import (
    DUCKDB_NEW,
    DUCKDB_OLD,
    FakeFullDisk,
    config_data,
    duckdb_engine,
    read_jsonl,
    to_toml,
    wait_no_processes,
    write_config,
)

from simulator.config import load_config
from simulator.errors import DatasetError, EngineError, QsimError, RunError, WorkloadError
from simulator.jobs.run_report import run_and_report
from simulator.results import store as store_module
from simulator.results.layout import EXECUTIONS_FILE, HISTORY_FILE, RUN_FILE
from simulator.results.meta import RunMeta
from simulator.workload.store import WorkloadQuery, load_workload, save_workload


def _one_line(err: QsimError) -> str:
    message = str(err)
    assert message and "\n" not in message
    return message


def test_missing_generation_is_one_line_and_creates_no_run_folder(
    world: Path, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path / "run.toml", world, tmp_path / "results", dataset={"generation": "nosuch"}
    )
    with pytest.raises(DatasetError) as caught:
        run_and_report(load_config(config))
    assert "generation 'nosuch' not found" in _one_line(caught.value)
    assert not (tmp_path / "results").exists()


def test_missing_store_is_refused_naming_it_unless_the_config_generates_into_it(
    world: Path, tmp_path: Path
) -> None:
    data = config_data(world, tmp_path / "results")
    data["dataset"]["store"] = str(tmp_path / "no-such-store")
    del data["dataset"]["generate"]
    config = tmp_path / "run.toml"
    config.write_text(to_toml(data))
    with pytest.raises(DatasetError) as caught:
        run_and_report(load_config(config))
    assert _one_line(caught.value).startswith(f"store {tmp_path / 'no-such-store'} does not exist")
    assert not (tmp_path / "no-such-store").exists()
    assert not (tmp_path / "results").exists()


def test_missing_workload_is_not_built_unless_the_config_describes_it(
    world: Path, tmp_path: Path
) -> None:
    data = config_data(world, tmp_path / "results", workload={"name": "nosuch"})
    del data["workload"]["synth"]
    config = tmp_path / "run.toml"
    config.write_text(to_toml(data))
    with pytest.raises(WorkloadError) as caught:
        run_and_report(load_config(config))
    assert "no workload named 'nosuch'" in _one_line(caught.value)


def test_zero_query_workload_and_tenant_without_tables(world: Path, tmp_path: Path) -> None:
    workloads = tmp_path / "workloads"
    save_workload(workloads, "empty", [], {})
    stray = load_workload(world / "workloads", "tiny").queries[0]
    ghost = WorkloadQuery(**{**stray.to_dict(), "tenant": "t09", "query_id": "ghost"})
    save_workload(workloads, "ghost", [ghost], {})
    for name, error, text in (
        ("empty", WorkloadError, "has zero queries; nothing to replay"),
        ("ghost", RunError, "tenant 't09' has no tables in generation"),
    ):
        data = config_data(world, tmp_path / "results", workload={"name": name})
        data["workload"]["dir"] = str(workloads)
        del data["workload"]["synth"]
        config = tmp_path / f"{name}.toml"
        config.write_text(to_toml(data))
        with pytest.raises(error) as caught:
            run_and_report(load_config(config))
        assert text in _one_line(caught.value)


def test_cli_prints_the_line_and_exits_2(world: Path, tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "run.toml", world, tmp_path / "results", dataset={"generation": "nosuch"}
    )
    done = subprocess.run(
        [sys.executable, "-m", "simulator", "run", str(config)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("qsim: error: generation 'nosuch' not found")


@pytest.mark.slow
def test_engine_that_fails_to_start_fails_the_run_cleanly(world: Path, tmp_path: Path) -> None:
    broken = duckdb_engine(DUCKDB_NEW)
    broken["settings"] = {"threads": 1, "memory_limit": "banana"}
    config = write_config(
        tmp_path / "run.toml",
        world,
        tmp_path / "results",
        engines={"base": duckdb_engine(DUCKDB_OLD), "cand": broken},
    )
    with pytest.raises(EngineError) as caught:
        run_and_report(load_config(config))
    assert "engine cand" in _one_line(caught.value)
    (run_dir,) = (tmp_path / "results").iterdir()
    meta = json.loads((run_dir / RUN_FILE).read_text())
    assert meta["status"] == "failed" and meta["exit_code"] == 2
    assert wait_no_processes(run_dir.name) == []


@pytest.mark.slow
def test_disk_full_mid_run_keeps_every_record_and_resumes(
    world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(
        tmp_path / "run.toml", world, tmp_path / "results", perf={"enabled": False}
    )
    fake = FakeFullDisk(store_module._write_all, allow=12)
    monkeypatch.setattr(store_module, "_write_all", fake)
    with pytest.raises(RunError) as caught:
        run_and_report(load_config(config))
    message = _one_line(caught.value)
    assert "disk full (ENOSPC)" in message and "--resume" in message
    assert fake.refused >= 1
    (run_dir,) = [p for p in (tmp_path / "results").iterdir() if p.is_dir()]
    raw = (run_dir / EXECUTIONS_FILE).read_bytes()
    assert raw.endswith(b"\n")  # the half-written line was cut back
    kept = read_jsonl(run_dir / EXECUTIONS_FILE)
    assert kept
    assert wait_no_processes(run_dir.name) == []

    monkeypatch.setattr(store_module, "_write_all", fake.real)  # space freed
    # A corrupt report history does not undo the run: results and exit code stand.
    (tmp_path / "results" / HISTORY_FILE).write_bytes(b"not a database" * 100)
    outcome = run_and_report(load_config(config), run_id=run_dir.name, resume=True)
    assert outcome.status == "complete" and outcome.exit_code in (0, 1)
    assert "history" in outcome.report_error
    assert f"qsim report {run_dir.name}" in outcome.summary
    executions = read_jsonl(run_dir / EXECUTIONS_FILE)
    ids = [e["execution_id"] for e in executions]
    assert len(ids) == len(set(ids))
    meta = json.loads((run_dir / RUN_FILE).read_text())
    assert Counter(e["engine"] for e in executions if e["phase"] == "load") == {
        "base": meta["queries"],
        "cand": meta["queries"],
    }


def test_resume_refuses_a_changed_config_and_a_missing_run(world: Path, tmp_path: Path) -> None:
    config = write_config(tmp_path / "run.toml", world, tmp_path / "results")
    cfg = load_config(config)
    store_module.RunStore.create(
        tmp_path / "results", "t-1", RunMeta(config={**cfg.raw, "load": {"concurrency": 9}})
    ).close()
    with pytest.raises(RunError) as caught:
        run_and_report(cfg, run_id="t-1", resume=True)
    assert "config differs from the one run t-1 started with" in _one_line(caught.value)
    with pytest.raises(RunError) as caught:
        run_and_report(cfg, run_id="t-2", resume=True)
    assert "no such run to resume (runs there: t-1)" in _one_line(caught.value)
