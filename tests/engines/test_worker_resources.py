"""Per-execution resources measured in the worker: CPU time and peak RSS, real processes."""

from __future__ import annotations

import os
from pathlib import Path

from engine_fixtures import DUCKDB_NEW, duckdb_spec, fake_spec

from simulator.engines.worker import EngineWorker
from simulator.engines.worker_main import PeakRss

# About a second of one core's work in DuckDB, returning one row.
CPU_HEAVY = "SELECT sum(hash(x)) FROM range(60000000) t(x)"
ALLOCATING = "SELECT length(list(range(10000000))) AS n"


def _process_cpu_ms(pid: int) -> float:
    """utime + stime of process ``pid`` (all its threads) as the kernel counts it, in ms."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def test_cpu_time_of_a_cpu_bound_statement_is_what_the_kernel_charged(runtime_for, world):
    spec = duckdb_spec(DUCKDB_NEW, threads=1)
    with EngineWorker(spec, runtime_for(spec), world["workspace"], world["tables"]) as worker:
        before = _process_cpu_ms(worker.pid)
        outcome = worker.execute(CPU_HEAVY, 60)
        charged = _process_cpu_ms(worker.pid) - before
    assert outcome.status == "ok", outcome
    assert outcome.cpu_ms is not None and outcome.cpu_ms > 100
    # One engine thread: its CPU time cannot exceed wall time, and equals it on an idle
    # core; on a busy one it falls behind, so the kernel's own account is the reference
    # (10 ms ticks, plus the protocol's few milliseconds around the statement).
    assert outcome.cpu_ms <= 1.05 * outcome.wall_ms + 5
    assert abs(outcome.cpu_ms - charged) < 0.1 * charged + 30


def test_a_sleeping_engine_spends_wall_time_but_almost_no_cpu(runtime_for, tmp_path):
    spec = fake_spec("FakeSleepAdapter")
    with EngineWorker(spec, runtime_for(spec), tmp_path, []) as worker:
        outcome = worker.execute("SELECT 1", 10)
    assert outcome.status == "ok", outcome
    assert outcome.wall_ms >= 290
    assert outcome.cpu_ms is not None and outcome.cpu_ms < 30


def test_an_allocating_statement_has_a_higher_peak_rss_than_select_1(runtime_for, world):
    spec = duckdb_spec(DUCKDB_NEW, threads=1)
    with EngineWorker(spec, runtime_for(spec), world["workspace"], world["tables"]) as worker:
        big = worker.execute(ALLOCATING, 60)
        small = worker.execute("SELECT 1", 10)
    assert big.status == small.status == "ok", (big, small)
    assert big.rss_source == small.rss_source
    assert big.peak_rss_mb is not None and small.peak_rss_mb is not None
    if small.rss_source == "vmhwm":
        # The high-water mark was reset before each statement: 10M BIGINTs are 80 MB.
        assert big.peak_rss_mb > small.peak_rss_mb + 50
    else:
        assert small.rss_source == "ru_maxrss"
        assert big.peak_rss_mb > 50


def test_without_the_reset_the_peak_is_the_lifetime_peak_and_says_so():
    peak = PeakRss()
    peak._clear = None  # as where /proc/self/clear_refs cannot be opened
    source = peak.reset()
    assert source == "ru_maxrss"
    mb = peak.peak_mb(source)
    assert mb is not None and mb > 10
