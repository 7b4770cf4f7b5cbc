"""``qsim workload ...``: the commands a user types, their output, exit codes and errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from simulator.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "workloads" / "examples"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["workload", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_synth_ingest_sample_show(tmp_path, capsys):
    log = tmp_path / "log.jsonl"
    workloads = str(tmp_path / "w")
    code, out, _ = _run(
        capsys, "synth", "--tenants", "3", "--days", "5", "--rows", "2000", "--out", str(log)
    )
    assert code == 0 and "wrote 2000 queries for 3 tenants over 5 days" in out
    code, out, _ = _run(capsys, "ingest", str(log), "--name", "demo", "--dir", workloads)
    assert code == 0
    assert "kept 2000, quarantined 0" in out
    code, out, _ = _run(
        capsys, "sample", "demo", "--name", "nightly", "--budget", "150", "--dir", workloads
    )
    assert code == 0 and "wrote workload nightly" in out
    code, out, _ = _run(capsys, "show", "nightly", "--dir", workloads, "--json")
    assert code == 0
    shown = json.loads(out)
    assert shown["queries"] <= 150 and shown["tenants"] == 3
    assert shown["patterns_kept"] <= shown["patterns_total"]
    assert 0 < shown["log_queries_represented"] <= 2000
    assert shown["params"]["budget"] == 150
    code, out, _ = _run(capsys, "show", "nightly", "--dir", workloads)
    assert code == 0
    assert "patterns kept" in out and "t01" in out and "kinds (sampled/log)" in out


def test_synth_large_writes_flag(tmp_path, capsys):
    plain, large = tmp_path / "plain.jsonl", tmp_path / "large.jsonl"
    for out, extra in ((plain, ()), (large, ("--large-writes",))):
        code, _, _ = _run(capsys, "synth", "--tenants", "2", "--rows", "300", "--out", str(out),
                          *extra)  # fmt: skip
        assert code == 0
    assert "stage_events" not in plain.read_text()
    tenants = {json.loads(line)["tenant"] for line in large.read_text().splitlines()
               if "INTO stage_events" in line}  # fmt: skip
    assert tenants == {"t01", "t02"}


def test_synth_from_a_generation(tmp_path, capsys):
    store = tmp_path / "store"
    assert main(["dataset", "generate", "--name", "g", "--scale", "0.0005", "--tenants", "2",
                 "--store", str(store)]) == 0  # fmt: skip
    capsys.readouterr()
    log = tmp_path / "g.jsonl"
    code, out, _ = _run(
        capsys, "synth", "--generation", "g", "--store", str(store), "--rows", "300",
        "--out", str(log),
    )  # fmt: skip
    assert code == 0 and "for 2 tenants" in out
    code, _, err = _run(
        capsys, "synth", "--generation", "nope", "--store", str(store), "--out", str(log)
    )
    assert code == 2 and "generation 'nope' not found" in err


def test_ingest_trino_example_with_quarantine_counts(tmp_path, capsys):
    log = tmp_path / "events.jsonl"
    text = (EXAMPLES / "trino-query-completed.jsonl").read_bytes()
    log.write_bytes(text + b"\xff\xfe garbage\n" + text.splitlines()[0] + b"\n")
    code, out, _ = _run(
        capsys, "ingest", str(log), "--name", "tr", "--dir", str(tmp_path), "--json"
    )
    assert code == 0
    result = json.loads(out)
    assert result["format"] == "trino"
    assert (result["kept"], result["quarantined"]) == (40, 2)
    assert result["quarantine_reasons"] == {"duplicate_query_id": 1, "undecodable": 1}


def test_ingest_mapping_from_flags_and_config(tmp_path, capsys):
    csv_log = tmp_path / "log.csv"
    csv_log.write_text("id,account,ts,text\n1,t01,2024-03-01 00:00:00,SELECT 1\n")
    code, out, _ = _run(
        capsys, "ingest", str(csv_log), "--name", "c", "--dir", str(tmp_path),
        "--map", "query_id=id", "--map", "tenant=account", "--map", "submitted_at=ts",
        "--map", "sql=text",
    )  # fmt: skip
    assert code == 0 and "kept 1, quarantined 0" in out
    config = tmp_path / "run.toml"
    config.write_text(
        '[workload.ingest]\nquery_id = "id"\ntenant = "account"\nsubmitted_at = "ts"\n'
        'sql = "text"\ndefault_dialect = "duckdb"\n'
        '[engines.baseline]\nadapter = "duckdb"\n[engines.candidate]\nadapter = "duckdb"\n'
    )
    code, out, _ = _run(
        capsys, "ingest", str(csv_log), "--name", "c2", "--dir", str(tmp_path),
        "--config", str(config),
    )  # fmt: skip
    assert code == 0 and "kept 1" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["ingest", "{missing}", "--name", "x"], "no such log file"),
        (["ingest", "{csv}", "--name", "x"], "CSV header has no column 'submitted_at'"),
        (["ingest", "{csv}", "--name", "x", "--map", "nope=a"], "--map 'nope=a'"),
        (["ingest", "{csv}", "--name", "../x"], "is not a valid name"),
        (["ingest", "{csv}", "--name", "x", "--dialect", "cobol"], "unsupported SQL dialect"),
        (["sample", "nolog", "--name", "w"], "no normalized log named 'nolog'"),
        (["ingest", "{empty}", "--name", "x"], "log is empty (no rows)"),
        (["ingest", "/dev/null", "--name", "x"], "/dev/null: log is empty"),
        (["show", "missing"], "no workload named 'missing'"),
    ],
)
def test_errors_are_one_line_with_exit_code_2(tmp_path, capsys, argv, message):
    csv_log = tmp_path / "log.csv"
    csv_log.write_text("query_id,tenant,sql\n1,t01,SELECT 1\n")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    names = {"missing": str(tmp_path / "missing.jsonl"), "csv": str(csv_log), "empty": str(empty)}
    argv = [a.format(**names) for a in argv] + ["--dir", str(tmp_path)]
    code, _, err = _run(capsys, *argv)
    assert code == 2
    assert err.startswith("qsim: error: ") and err.count("\n") == 1
    assert message in err


@pytest.mark.slow
def test_console_script_exit_code_and_no_traceback(tmp_path, capsys):
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_bytes(bytes(range(256)) * 100)
    code, _, err = _run(capsys, "ingest", str(garbage), "--name", "g", "--dir", str(tmp_path))
    assert code == 2 and "no usable row (quarantined " in err
    qsim = Path(sys.executable).with_name("qsim")
    done = subprocess.run(
        [str(qsim), "workload", "sample", "g", "--name", "w", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "no normalized log named 'g'" in done.stderr
