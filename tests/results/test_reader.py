"""Reading run folders: complete, incomplete (interrupted), deduplicated, and not a run."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from simulator.errors import ReportError
from simulator.results.reader import load_run, resolve_run
from simulator.results.layout import EXECUTIONS_FILE, QUERIES_FILE, RUN_FILE, VERDICTS_FILE


def test_complete_run_loads_every_record(make_run: Callable[..., Path]) -> None:
    run_dir = make_run("r1", regressions={("t01", "p_ins"): "write_mismatch"})
    data = load_run(run_dir)
    # 2 tenants x 3 patterns x 2 queries = 12 queries; baseline + 1 candidate executions.
    assert len(data.queries) == 12
    assert len(data.executions) == 24
    assert len(data.verdicts) == 12
    assert len(data.perf) == 6
    assert data.missing == []
    assert data.complete and data.pipeline == "nightly"
    assert data.baseline == "baseline" and data.candidates == ["candidate"]
    assert data.engine_version("candidate") == "2.0.1"


def test_resumed_duplicates_are_counted_once(make_run: Callable[..., Path]) -> None:
    run_dir = make_run("r1")
    path = run_dir / EXECUTIONS_FILE
    lines = path.read_text().splitlines()
    path.write_text("\n".join([*lines, lines[0], lines[1]]) + "\n")
    assert len(load_run(run_dir).executions) == 24


def test_interrupted_run_says_what_is_missing(make_run: Callable[..., Path]) -> None:
    run_dir = make_run("r1", status="running", files=(QUERIES_FILE, EXECUTIONS_FILE))
    path = run_dir / EXECUTIONS_FILE
    path.write_text(path.read_text() + '{"execution_id": "load:base')  # torn last write
    data = load_run(run_dir)
    assert len(data.executions) == 24
    assert data.verdicts == [] and data.perf == []
    text = "\n".join(data.missing)
    assert "run status is 'running'" in text
    assert "verdicts.jsonl missing" in text
    assert "perf.jsonl missing" in text
    assert "executions.jsonl: 1 unreadable line(s) skipped (first: line 25" in text


def test_perf_file_is_not_missing_when_perf_is_off(make_run: Callable[..., Path]) -> None:
    data = load_run(make_run("r1", perf=False))
    assert data.missing == []


def test_queries_without_verdicts_are_counted(make_run: Callable[..., Path]) -> None:
    run_dir = make_run("r1", status="interrupted")
    path = run_dir / VERDICTS_FILE
    path.write_text("\n".join(path.read_text().splitlines()[:5]) + "\n")
    data = load_run(run_dir)
    assert "7 of 12 queries have no verdict for candidate 'candidate'" in data.missing


def test_unknown_run_id_is_one_line_with_close_matches(
    make_run: Callable[..., Path], results: Path
) -> None:
    make_run("nightly-2026-11-24")
    with pytest.raises(ReportError) as info:
        resolve_run("nightly-2026-11-25", results)
    message = str(info.value)
    assert "\n" not in message
    assert "nightly-2026-11-25: no such run" in message
    assert "close matches: nightly-2026-11-24" in message
    assert resolve_run("nightly-2026-11-24", results) == results / "nightly-2026-11-24"


def test_folder_without_run_json_is_refused(results: Path) -> None:
    (results / "stray").mkdir()
    with pytest.raises(ReportError, match=r"run\.json: missing; .* is not a qsim run folder"):
        load_run(results / "stray")
    (results / "bad").mkdir()
    (results / "bad" / RUN_FILE).write_text("{not json")
    with pytest.raises(ReportError, match="not valid JSON"):
        load_run(results / "bad")


def test_report_settings_come_from_the_run_config(make_run: Callable[..., Path]) -> None:
    run_dir = make_run("r1", mask_literals=True, report={"gate_perf_ratio": 2})
    settings = load_run(run_dir).report_settings()
    assert settings.mask_literals is True
    assert settings.gate_perf_ratio == 2.0
    run = json.loads((run_dir / RUN_FILE).read_text())
    run["config"]["report"]["gate_known"] = "yes"  # ill-typed: the default stays
    (run_dir / RUN_FILE).write_text(json.dumps(run))
    assert load_run(run_dir).report_settings().gate_known is False
