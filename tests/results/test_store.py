"""The run folder store: durable appends, torn lines, dedupe, full disk, the run lock."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from runner_fixtures import FakeFullDisk

from simulator.errors import RunError
from simulator.results import store as store_module
from simulator.results.layout import RUN_FILE
from simulator.results.meta import RunMeta, RunStatus
from simulator.results.store import RunStore


def _execution(i: int) -> dict[str, object]:
    return {"execution_id": f"load:e:t01:q{i}:0", "status": "ok", "wall_ms": float(i)}


def test_create_writes_run_json_and_refuses_an_existing_folder(tmp_path: Path) -> None:
    store = RunStore.create(tmp_path, "r1", RunMeta(status=RunStatus.RUNNING))
    meta = json.loads((tmp_path / "r1" / RUN_FILE).read_text())
    assert meta == RunMeta(run_id="r1", status=RunStatus.RUNNING).to_dict()
    assert meta["format_version"] == 1 and meta["run_id"] == "r1" and meta["status"] == "running"
    store.update_meta(status=RunStatus.COMPLETE, exit_code=0)
    assert store.read_meta().status == "complete"
    store.close()
    with pytest.raises(RunError, match="already exists; use --resume r1"):
        RunStore.create(tmp_path, "r1", RunMeta())


def test_append_load_dedupes_by_execution_id_and_drops_a_torn_line(tmp_path: Path) -> None:
    store = RunStore.create(tmp_path, "r1", RunMeta())
    store.append("executions", [_execution(1), _execution(2)])
    store.append("executions", [_execution(2) | {"status": "error"}])
    with open(store.path("executions"), "ab") as handle:
        handle.write(b'{"execution_id": "load:e:t01:q3:0", "sta')  # driver killed mid-write
    records = store.load("executions")
    assert [r["execution_id"] for r in records] == ["load:e:t01:q1:0", "load:e:t01:q2:0"]
    assert records[1]["status"] == "error"
    kept = store.keep_records("executions", lambda r: r["execution_id"].endswith("q1:0"))
    assert len(kept) == 1
    assert store.path("executions").read_text().count("\n") == 1
    store.append("executions", [_execution(4)])
    assert len(store.load("executions")) == 2


def test_second_driver_on_the_same_run_is_refused(tmp_path: Path) -> None:
    first = RunStore.create(tmp_path, "r1", RunMeta())
    with pytest.raises(RunError, match="another qsim process is running this run"):
        RunStore.open_existing(tmp_path, "r1")
    first.close()
    RunStore.open_existing(tmp_path, "r1").close()


def test_resume_of_a_missing_run_names_the_runs_there(tmp_path: Path) -> None:
    RunStore.create(tmp_path, "demo-1", RunMeta()).close()
    with pytest.raises(RunError, match=r"no such run to resume \(runs there: demo-1\)"):
        RunStore.open_existing(tmp_path, "demo-2")


def test_full_disk_keeps_every_complete_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = RunStore.create(tmp_path, "r1", RunMeta())
    monkeypatch.setattr(store_module, "_write_all", FakeFullDisk(store_module._write_all, allow=2))
    store.append("executions", [_execution(1)])
    store.append("executions", [_execution(2), _execution(3)])
    with pytest.raises(RunError) as caught:
        store.append("executions", [_execution(4)])
    message = str(caught.value)
    assert "\n" not in message
    assert "executions.jsonl: disk full (ENOSPC)" in message
    assert "3 records kept intact" in message and "--resume r1" in message
    # The half-written line was cut back: the file holds exactly the 3 complete records.
    assert store.path("executions").read_bytes().count(b"\n") == 3
    assert len(store.load("executions")) == 3


def test_result_files_are_kept_under_results(tmp_path: Path) -> None:
    store = RunStore.create(tmp_path, "r1", RunMeta())
    relative = store.write_result_file("load:cand:t01:q1:0", b"ARROW1")
    assert relative == "results/load_cand_t01_q1_0.arrow"
    assert (tmp_path / "r1" / relative).read_bytes() == b"ARROW1"


def _failed(message: str) -> dict[str, object]:
    return {"execution_id": "load:e:t01:q1:0", "status": "error", "error_message": message}


MESSAGE = "Conversion Error: Could not convert string 'zqx@cust.example' to INT32"


@pytest.mark.parametrize(("diff_sample_rows", "raw"), [(0, False), (5, True)])
def test_engine_text_is_masked_unless_the_run_opted_in_to_customer_values(
    tmp_path: Path, diff_sample_rows: int, raw: bool
) -> None:
    meta = RunMeta(config={"report": {"diff_sample_rows": diff_sample_rows}})
    store = RunStore.create(tmp_path, "r1", meta)
    verdict = {
        "candidate": "c",
        "query_id": "q1",
        "reason": MESSAGE,
        "evidence": {"candidate": {"error_message": MESSAGE}, "differing_columns": ["n"]},
    }
    store.append("executions", [_failed(MESSAGE)])
    store.append("verdicts", [verdict])
    store.close()
    written = (tmp_path / "r1" / "executions.jsonl").read_text()
    written += (tmp_path / "r1" / "verdicts.jsonl").read_text()
    assert ("zqx@cust.example" in written) is raw
    if not raw:
        assert written.count("Could not convert string '?' to INT32") == 3
        assert '"differing_columns": ["n"]' in written
