"""The execution record's resource fields: they survive JSON, and old records still read."""

from __future__ import annotations

import json

from simulator.results.execution import Execution


def _record(**fields: object) -> Execution:
    return Execution(
        execution_id=Execution.make_id("perf", "e", "t01", "q1", 3),
        run_id="r",
        engine="e",
        tenant="t01",
        query_id="q1",
        phase="perf",
        **fields,
    )


def test_cpu_time_and_peak_rss_survive_the_json_round_trip() -> None:
    record = _record(wall_ms=3.5, cpu_ms=3.25, peak_rss_mb=812.5, rss_source="vmhwm")
    back = Execution.from_dict(json.loads(json.dumps(record.to_dict())))
    assert back == record
    assert (back.cpu_ms, back.peak_rss_mb, back.rss_source) == (3.25, 812.5, "vmhwm")


def test_a_record_written_before_resources_were_measured_reads_as_unmeasured() -> None:
    old = _record(wall_ms=3.5).to_dict()
    for key in ("cpu_ms", "peak_rss_mb", "rss_source"):
        del old[key]
    back = Execution.from_dict(old)
    assert (back.cpu_ms, back.peak_rss_mb, back.rss_source) == (None, None, "")
