"""``qsim replay`` of one query: replayed in the process (no Ray), one verdict line with
timings and checksums, exit code by the run's failing-verdict rule, the replay in the run
history; an unknown query is still refused with close matches before anything starts."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from simulator.cli import main
from simulator.config import load_config
from simulator.workload.store import load_workload

pytestmark = pytest.mark.slow
LINE = re.compile(
    r"^(?P<verdict>\w+)(?: \(.*\))?: (?P<query>\S+) pattern (?P<pattern>[0-9a-f]{16}) "
    r"(?P<kind>\w+): base (?P<base_ms>[\d.]+) ms \(cpu [\d.]+ ms, \d+ MB\) rows (?P<rows>\d+) "
    r"(?P<checksum>[0-9a-f]{32}) \| cand [\d.]+ ms \(cpu [\d.]+ ms, \d+ MB\) rows (?P=rows) "
    r"[0-9a-f]{32}$"
)


def test_one_query_replays_in_process(
    serve_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = load_config(serve_config)
    workload = load_workload(cfg.workload.dir, cfg.workload.name)
    query = next(q for q in workload.queries if q.tenant == "t01" and q.kind == "select")
    code = main(
        ["replay", "--config", str(serve_config), "--tenant", "t01", "--query-id", query.query_id]
    )
    out = capsys.readouterr().out.splitlines()
    assert out[-1] in ("1 replayed, 0 failing", "1 replayed, 1 failing")
    assert code == (0 if out[-1].endswith("0 failing") else 1)
    found = LINE.match(out[0])
    assert found is not None, out[0]
    assert (found["query"], found["pattern"], found["kind"]) == (
        query.query_id,
        query.pattern_id,
        "select",
    )
    assert float(found["base_ms"]) > 0
    with sqlite3.connect(Path(cfg.run.results_dir) / "history.sqlite") as db:
        rows = db.execute(
            "SELECT tenant, query_id, pasted, baseline, candidate, state, verdict, client "
            "FROM serve_replays"
        ).fetchall()
    assert rows == [("t01", query.query_id, 0, "base", "cand", "done", found["verdict"], "cli")]
    assert not list(Path(cfg.run.results_dir).glob("*/run.json"))  # no run folder, no Ray


def test_an_unknown_query_is_refused_before_anything_starts(
    serve_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["replay", "--config", str(serve_config), "--tenant", "t01", "--query-id", "nope"])
    assert code == 2
    assert "query id 'nope': not in tenant t01" in capsys.readouterr().err
