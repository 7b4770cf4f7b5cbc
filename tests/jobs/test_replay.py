"""qsim replay's target check: unknown tenants, patterns and query ids are refused with
close matches before anything runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from simulator.errors import ReportError
from simulator.jobs.replay import check_target, known_queries, prepare_replay


def write_config(tmp_path: Path, results: Path) -> Path:
    path = tmp_path / "replay.toml"
    path.write_text(
        f"""
[run]
name = "nightly"
results_dir = "{results}"

[workload]
name = "demo"
dir = "{tmp_path / "workloads"}"

[engines.baseline]
adapter = "duckdb"

[engines.candidate]
adapter = "duckdb"
"""
    )
    return path


def test_targets_come_from_the_newest_run_of_the_workload(
    tmp_path: Path, results: Path, make_run: Callable[..., Path]
) -> None:
    make_run("old", tenants=("t01",), started_at="2026-11-01T00:00:00+00:00")
    make_run("new", tenants=("t01", "t02", "t03"), started_at="2026-11-02T00:00:00+00:00")
    cfg = prepare_replay(write_config(tmp_path, results), "t03", pattern_id="p_ins")
    rows = known_queries(cfg)
    assert rows is not None and {r["tenant"] for r in rows} == {"t01", "t02", "t03"}


@pytest.mark.parametrize(
    ("tenant", "pattern", "query", "message"),
    [
        ("t04", None, None, "tenant 't04': not in workload demo; close matches: t02, t01"),
        (
            "t01",
            "p_insert",
            None,
            "pattern 'p_insert': not in tenant t01 of workload demo; close matches: p_ins",
        ),
        (
            "t01",
            None,
            "t01-p_ins-q7",
            "query id 't01-p_ins-q7': not in tenant t01 of "
            "workload demo; close matches: t01-p_ins-q1, t01-p_ins-q0, t01-p_sel_day-q1",
        ),
    ],
)
def test_unknown_targets_list_close_matches(
    tmp_path: Path,
    results: Path,
    make_run: Callable[..., Path],
    tenant: str,
    pattern: str | None,
    query: str | None,
    message: str,
) -> None:
    make_run("r1")
    with pytest.raises(ReportError) as info:
        prepare_replay(write_config(tmp_path, results), tenant, pattern_id=pattern, query_id=query)
    assert str(info.value) == message


def test_far_off_names_say_how_many_exist() -> None:
    rows = [{"tenant": "t01", "pattern_id": "p", "query_id": "q"}]
    with pytest.raises(ReportError, match=r"^tenant 'zzzz': not in w; 1 known$"):
        check_target(rows, "zzzz", None, None, "w")
