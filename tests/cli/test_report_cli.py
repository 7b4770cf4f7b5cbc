"""qsim report / history / accept / nightly / replay from the command line."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from run_folders import RunSpec, write_run

from simulator.cli import GROUPS, main
from simulator.results.layout import HISTORY_FILE, HTML_FILE, JUNIT_FILE, SUMMARY_FILE

FINDINGS = {("t01", "p_ins"): "write_mismatch", ("t02", "p_top_cust"): "result_mismatch"}


@pytest.fixture
def results(tmp_path: Path) -> Path:
    path = tmp_path / "results"
    path.mkdir()
    return path


def night(results: Path, day: int, **fields: object) -> str:
    fields.setdefault("regressions", FINDINGS)
    run_id = f"n{day}"
    spec = RunSpec(run_id=run_id, started_at=f"2026-11-{day:02d}T01:00:00+00:00", **fields)
    write_run(results, spec)
    return run_id


def qsim(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_report_is_a_cli_group() -> None:
    assert "report" in GROUPS


def test_report_prints_verdicts_and_path(results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = night(results, 1)
    code, out, _ = qsim(capsys, "report", run, "--results-dir", str(results))
    lines = out.splitlines()
    assert code == 0
    assert lines[0] == "DO NOT SHIP: candidate 2.0.1: 10 match, 1 result_mismatch, 1 write_mismatch"
    assert lines[1] == "findings: 2 new, 0 known, 0 fixed; gate fail (exit 1)"
    assert lines[-1] == str(results / run / HTML_FILE)
    assert (results / run / SUMMARY_FILE).is_file() and (results / run / JUNIT_FILE).is_file()
    code, _, _ = qsim(capsys, "report", str(results / run), "--results-dir", str(results), "--gate")
    assert code == 1


def test_unknown_run_is_one_line(results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    night(results, 1)
    code, out, err = qsim(capsys, "report", "n7", "--results-dir", str(results))
    assert code == 2 and out == ""
    assert (
        err
        == f"qsim: error: n7: no such run (no run.json in {results / 'n7'}); close matches: n1\n"
    )


def test_two_nights_accept_and_history(results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rd = ["--results-dir", str(results)]
    code, out, _ = qsim(capsys, "report", night(results, 1), *rd, "--gate")
    assert code == 1 and "2 new, 0 known" in out
    # The engine team accepts the wrong result; the lost write stays open.
    code, out, _ = qsim(
        capsys,
        "accept",
        "p_top_cust",
        "--reason",
        "rounding changed in 2.0",
        "--until",
        "2099-12-31",
        "--by",
        "ana",
        *rd,
    )
    assert code == 0
    assert out == (
        "accepted pattern p_top_cust (every candidate, tenant and verdict) by ana "
        "until 2099-12-31: rounding changed in 2.0\n"
    )
    code, out, _ = qsim(capsys, "report", night(results, 2), *rd, "--gate")
    assert code == 0 and "0 new, 2 known, 0 fixed; gate pass (exit 0)" in out
    # Night 3 brings a new candidate error: the gate fails on it alone.
    regressions = {**FINDINGS, ("t02", "p_sel_day"): "candidate_error"}
    code, out, _ = qsim(capsys, "report", night(results, 3, regressions=regressions), *rd, "--gate")
    assert code == 1
    assert "  gate: new correctness finding candidate/t02/p_sel_day/candidate_error" in out
    code, out, _ = qsim(capsys, "history", *rd, "--pipeline", "nightly")
    assert code == 0
    listed = [line.split()[1] for line in out.splitlines() if not line.startswith(" ")]
    assert listed == ["n3", "n2", "n1"]
    assert "gate FAIL  1 new finding(s)" in out.splitlines()[0]
    code, out, _ = qsim(capsys, "history", *rd, "--pattern", "p_top_cust")
    rows = [line.split("\t") for line in out.splitlines()[1:]]
    assert [(r[1], r[3], r[4]) for r in rows if r[3] == "t02"] == [
        ("n1", "t02", "result_mismatch"),
        ("n2", "t02", "result_mismatch"),
        ("n3", "t02", "result_mismatch"),
    ]


def test_history_and_accept_bad_input(results: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rd = ["--results-dir", str(results)]
    code, _, err = qsim(capsys, "history", *rd)
    assert code == 2 and "no run history yet" in err
    qsim(capsys, "report", night(results, 1), *rd)
    code, _, err = qsim(capsys, "accept", "p_top", "--reason", "x", *rd)
    assert code == 2 and err.count("\n") == 1 and "close matches: p_top_cust" in err
    code, _, err = qsim(capsys, "accept", "p_ins", "--reason", "x", "--until", "soon", *rd)
    assert code == 2 and "expected a date YYYY-MM-DD" in err
    (results / HISTORY_FILE).write_bytes(b"\x00garbage" * 100)
    code, _, err = qsim(capsys, "history", *rd)
    assert code == 2 and err.count("\n") == 1 and "history database is corrupt" in err


def test_replay_refuses_unknown_tenant(
    tmp_path: Path, results: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    night(results, 1)
    config = tmp_path / "c.toml"
    config.write_text(
        f'[run]\nresults_dir = "{results}"\n[workload]\nname = "demo"\n'
        f'dir = "{tmp_path / "workloads"}"\n'
        '[engines.baseline]\nadapter = "duckdb"\n[engines.candidate]\nadapter = "duckdb"\n'
    )
    code, _, err = qsim(capsys, "replay", "--tenant", "t1", "--config", str(config))
    assert code == 2
    assert err == "qsim: error: tenant 't1': not in workload demo; close matches: t01\n"
    code, _, err = qsim(
        capsys, "replay", "--tenant", "t01", "--pattern", "p_sel", "--config", str(config)
    )
    assert code == 2 and "close matches: p_sel_day" in err
    code, _, err = qsim(
        capsys, "replay", "--tenant", "t01", "--config", str(config), "--candidate", "nope"
    )
    assert code == 2 and "no engine 'nope'" in err


def test_nightly_missing_config_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = qsim(capsys, "nightly", str(tmp_path / "none.toml"), "--candidate", "rc")
    assert code == 2 and err.count("\n") == 1 and "no such config file" in err


E2E_CONFIG = """
[run]
name = "nightly-e2e"
results_dir = "{tmp}/results"
baseline = "duckdb_1_1"
candidates = ["duckdb_2_0"]

[dataset]
generation = "demo"
store = "datasets/store"

[dataset.generate]
name = "demo"
scale = 0.01
seed = 42
tenants = 8

[workload]
name = "e2e"
dir = "{tmp}/workloads"

[workload.synth]
rows = 1000
seed = 7

[workload.sample]
budget = 16
seed = 7

[engines.duckdb_1_1]
adapter = "duckdb"
requirements = ["duckdb==1.1.3"]
settings = {{ threads = 1 }}

[engines.duckdb_2_0]
adapter = "duckdb"
requirements = ["duckdb==2.0.1"]
settings = {{ threads = 1 }}

[load]
concurrency = 2

[perf]
enabled = false
"""


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("simulator.runner.run") is None, reason="runner not available"
)
def test_nightly_end_to_end_twice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two real nights (the demo generation and DuckDB releases, a small workload, no perf
    phase): the second night knows the first night's findings and passes the gate."""
    # From the repository, so the engine runtimes and the demo generation are reused.
    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    config = tmp_path / "nightly.toml"
    config.write_text(E2E_CONFIG.format(tmp=tmp_path))
    first, out, _ = qsim(capsys, "nightly", str(config), "--candidate", "duckdb_2_0")
    night1 = json.loads((Path(out.splitlines()[-1]).parent / SUMMARY_FILE).read_text())
    assert night1["run_status"] == "complete" and night1["previous_run_id"] is None
    assert first == night1["exit_status"] == (1 if night1["findings"]["new"] else 0)
    second, out, _ = qsim(capsys, "nightly", str(config), "--candidate", "duckdb_2_0")
    night2 = json.loads((Path(out.splitlines()[-1]).parent / SUMMARY_FILE).read_text())
    assert night2["previous_run_id"] == night1["run_id"]
    assert night2["findings"]["new"] == []
    assert [f["id"] for f in night2["findings"]["known"]] == [
        f["id"] for f in night1["findings"]["new"]
    ]
    assert second == 0
    assert night2["verdict_counts"] == night1["verdict_counts"]
