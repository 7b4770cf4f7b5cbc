"""Choosing what a run replays: filters, the pipeline prefix of a picked query, refusals."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from simulator.config import EngineSpec
from simulator.errors import WorkloadError
from simulator.runner.cluster import ray_temp_dir
from simulator.runner.prepare import select_queries, unlimited_sql
from simulator.workload.store import Workload, WorkloadQuery


def _query(
    qid: str, tenant: str, seq: int, kind: str = "select", written: tuple = ()
) -> WorkloadQuery:
    return WorkloadQuery(
        query_id=qid,
        tenant=tenant,
        seq=seq,
        submitted_at=float(seq),
        sql="SELECT 1",
        dialect="duckdb",
        kind=kind,
        pattern_id=f"p-{qid}",
        tables_written=list(written),
    )


WORKLOAD = Workload(
    id="w",
    name="w",
    path=Path("w"),
    manifest={},
    queries=[
        _query("a1", "t01", 1, "ctas", ("stage",)),
        _query("a2", "t01", 2),
        _query("a3", "t01", 3, "insert", ("stage",)),
        _query("a4", "t01", 4),
        _query("a5", "t01", 5, "delete", ("stage",)),
        _query("b1", "t02", 1),
    ],
)


def test_a_picked_query_brings_its_tenants_earlier_writes() -> None:
    picked = select_queries(WORKLOAD, query_ids=["a4"])
    assert [q.query_id for q in picked] == ["a1", "a3", "a4"]
    assert [q.query_id for q in select_queries(WORKLOAD, tenants=["t02"])] == ["b1"]
    assert len(select_queries(WORKLOAD)) == 6


def test_a_filter_that_matches_nothing_names_close_matches() -> None:
    with pytest.raises(WorkloadError, match=r"no tenant 't2' \(close matches: t02\)"):
        select_queries(WORKLOAD, tenants=["t2"])
    with pytest.raises(WorkloadError, match="has zero queries"):
        select_queries(Workload("w", "w", Path("w"), {}, []))


def test_ray_temp_dir_moves_out_of_a_folder_too_long_for_sockets(tmp_path: Path) -> None:
    short, moved = ray_temp_dir(Path("/tmp/r"))
    assert not moved and short == Path("/tmp/r/ray")
    long, moved = ray_temp_dir(tmp_path / ("x" * 80))
    assert moved and str(long).startswith("/tmp/qsim-ray-") and len(str(long)) < 40
    long.rmdir()


def test_the_baselines_unlimited_sql_drops_only_the_top_level_limit() -> None:
    spec = EngineSpec(name="base", adapter="duckdb", dialect="duckdb")
    sql = "SELECT k FROM (SELECT k FROM t LIMIT 9) s ORDER BY k LIMIT 3 OFFSET 1"
    query = dataclasses.replace(_query("q", "t01", 1), sql=sql, limit=3)
    assert (
        unlimited_sql(query, spec, "t01")
        == "SELECT k FROM (SELECT k FROM t LIMIT 9) AS s ORDER BY k"
    )
    assert unlimited_sql(dataclasses.replace(query, limit=None), spec, "t01") is None
    assert unlimited_sql(dataclasses.replace(query, kind="ctas"), spec, "t01") is None
