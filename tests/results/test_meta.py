"""run.json as a typed RunMeta: the same JSON fields on disk, old folders still read."""

from __future__ import annotations

import pytest

from simulator.results.execution import Execution, Phase, Status
from simulator.results.meta import EngineMeta, RunMeta, RunStatus


def test_a_written_run_json_round_trips_with_unknown_keys_and_no_unset_optional_fields() -> None:
    old = {
        "format_version": 1,
        "run_id": "r1",
        "status": "complete",
        "engines": {"base": {"role": "baseline", "adapter": "duckdb", "version": "v1"}},
        "from_a_newer_qsim": {"kept": True},
    }
    meta = RunMeta.from_dict(old)
    assert meta.status is RunStatus.COMPLETE and meta.engines["base"].version == "v1"
    data = meta.to_dict()
    assert data["from_a_newer_qsim"] == {"kept": True}
    assert "confirm" not in data and "resumed_at" not in data
    assert RunMeta.from_dict(data) == meta


def test_unknown_run_status_is_refused() -> None:
    with pytest.raises(ValueError):
        RunMeta(status="exploded")


def test_execution_status_and_phase_are_enforced_and_serialise_as_plain_strings() -> None:
    record = Execution(
        execution_id=Execution.make_id("load", "e", "t01", "q1"),
        run_id="r",
        engine="e",
        tenant="t01",
        query_id="q1",
        phase="load",
        status="error",
    )
    assert record.phase is Phase.LOAD and record.status is Status.ERROR
    assert record.execution_id == "load:e:t01:q1:0"
    assert Execution.from_dict(record.to_dict()) == record
    with pytest.raises(ValueError):
        Execution(
            execution_id="x", run_id="r", engine="e", tenant="t", query_id="q", phase="warmup"
        )
    with pytest.raises(ValueError):
        Execution(
            execution_id="x",
            run_id="r",
            engine="e",
            tenant="t",
            query_id="q",
            phase="load",
            status="weird",
        )


def test_run_json_never_holds_a_dsn_password() -> None:
    dsn = "postgresql://qsim:Zq-s3cret@db.internal:5432/app"
    meta = RunMeta(
        config={"engines": {"pg": {"adapter": "postgres", "dsn": dsn}}},
        engines={"pg": EngineMeta(role="candidate", adapter="postgres", settings={"dsn": dsn})},
        local_servers=[{"dsn": "host=/tmp/s user=u password=Zq-s3cret dbname=x"}],
    )
    text = repr(meta.to_dict())
    assert "Zq-s3cret" not in text
    assert "postgresql://qsim:***@db.internal:5432/app" in text
