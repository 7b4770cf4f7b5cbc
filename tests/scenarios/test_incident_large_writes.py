"""The 2020 incident on the large-write pipeline (``qsim selftest --scale``): the lossy
candidate's lost partitions of stage_events (a copy of each tenant's whole events table,
partitioned by day) come back as write_mismatch naming the partition and its rows. Real Ray,
real DuckDB workers, at a tiny scale; the same code runs at scale 1 in benchmarks/RESULTS.md
("Detection on million-row written tables")."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.selftest.incident import run_incident
from simulator.selftest.suite import incident_rows
from simulator.selftest.world import LARGE_WRITE_TABLE

pytestmark = pytest.mark.slow


def test_lost_partitions_of_stage_events_are_named_with_their_rows(tmp_path: Path) -> None:
    run = run_incident(tmp_path, [1], scale=0.02, confirm=False)
    assert run.exit_code == 1
    lost = run.lost_on(LARGE_WRITE_TABLE)
    # Under load the CTAS (every day but one) and the INSERT (that day) of stage_events lose
    # one day partition each; every one is reported on stage_events with its rows.
    assert {w.kind for w in lost} >= {"ctas", "insert"}, run.lost_writes
    assert all(w.named and w.verdict == "write_mismatch" for w in lost), lost
    assert all(w.partition.startswith("day=2024-03-") and w.rows > 1000 for w in lost)
    assert run.table_rows[LARGE_WRITE_TABLE] > 10_000  # the whole events table of a tenant
    row = incident_rows(run, LARGE_WRITE_TABLE)[1]
    assert row.ok and row.fault.startswith(f"lost writes into {LARGE_WRITE_TABLE} (")
    # The world is the scaled one, apart from the default scenario's in the same folder.
    assert (tmp_path / "workloads" / "scenarios-s0.02").is_dir()
    assert not (tmp_path / "workloads" / "scenarios").exists()
