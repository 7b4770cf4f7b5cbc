"""The performance phase's schedule: screening, then confirmation rounds in process-pair
blocks on fresh workers, each pattern spread over every block. The rounds here come from a
timing model (a plain function), so the schedule and the decision can be checked exactly;
the phase on real engines is exercised by the runner and scenario tests."""

from __future__ import annotations

from typing import Any

import pytest

from simulator.config import PerfSection
from simulator.runner.perf import CONFIRMATION_OFFSET, PerfPhase, PerfTarget
from simulator.workload.store import WorkloadQuery


def query(qid: str, pattern: str) -> WorkloadQuery:
    return WorkloadQuery(
        query_id=qid,
        tenant="",
        seq=0,
        submitted_at=0.0,
        sql="SELECT 1",
        dialect="trino",
        kind="select",
        pattern_id=pattern,
        tables_read=[],
        tables_written=[],
        order_by=False,
        order_keys=[],
        limit=None,
        nondeterministic=[],
        parse_error="",
        weight=1.0,
        pipeline="",
        duration_ms=None,
    )


class ProcessSpeedModel:
    """Times a round from per-process speed factors: every fresh start of a tenant's workers
    draws new factors, as real processes do; the candidate may be truly slower."""

    def __init__(
        self,
        process_factors: list[float],
        slowdown: float,
        *,
        cpu_slowdown: float | None = None,
        cpu_measured: bool = True,
        memory_growth: float = 1.0,
        rss_source: str = "",
    ) -> None:
        self.process_factors = process_factors
        self.slowdown = slowdown
        # The candidate's CPU time moves by cpu_slowdown (default: as its wall time); 0.9 of
        # the wall time is CPU, the rest waiting.
        self.cpu_slowdown = slowdown if cpu_slowdown is None else cpu_slowdown
        self.cpu_measured = cpu_measured
        # With an rss_source, records carry a peak RSS of ~140 MiB, the candidate's grown
        # by memory_growth.
        self.memory_growth = memory_growth
        self.rss_source = rss_source
        self.calls: list[tuple[str, int, int, bool]] = []
        self.starts: dict[str, int] = {}

    def __call__(
        self, tenant: str, index: int, order: list[str], repetition: int, fresh: bool
    ) -> list[dict[str, Any]]:
        self.calls.append((tenant, index, repetition, fresh))
        if fresh:
            self.starts[tenant] = self.starts.get(tenant, 0) + 1
        factor = self.process_factors[self.starts.get(tenant, 0) % len(self.process_factors)]
        jitter = 1 + 0.01 * ((repetition * 7 + index) % 3 - 1)
        records = []
        for engine in order:
            cand = engine == "cand"
            record = {
                "execution_id": f"perf:{engine}:{tenant}:{index}:{repetition}",
                "engine": engine,
                "status": "ok",
                "wall_ms": 2.0 * jitter * (factor * self.slowdown if cand else 1.0),
            }
            if self.cpu_measured:
                record["cpu_ms"] = 1.8 * jitter * (factor * self.cpu_slowdown if cand else 1.0)
            if self.rss_source:
                record["rss_source"] = self.rss_source
                growth = self.memory_growth if cand else 1.0
                record["peak_rss_mb"] = 140.0 * (1 + (jitter - 1) / 5) * growth
            records.append(record)
        return records


def phase(model: ProcessSpeedModel, cfg: PerfSection) -> PerfPhase:
    return PerfPhase(
        cfg,
        run_id="r",
        baseline="base",
        candidates=["cand"],
        run_round=model,
        existing={},
        drop=lambda ids: None,
    )


TARGETS = [
    PerfTarget("t01", 0, query("q0", "p0")),
    PerfTarget("t01", 1, query("q1", "p1")),
    PerfTarget("t02", 0, query("q2", "p2")),
]


@pytest.mark.parametrize("metric", ["cpu", "wall"])
def test_confirmation_restarts_each_tenant_once_per_block_and_spans_every_block(
    metric: str,
) -> None:
    cfg = PerfSection(repetitions=4, max_repetitions=15, process_pairs=5, metric=metric)
    # The screen's process pair happens to run the candidate 1.3x slower, so every pattern
    # escalates; the fresh process pairs of the blocks differ both ways.
    model = ProcessSpeedModel([1.3, 0.8, 1.25, 0.85, 1.2, 0.9], slowdown=1.0)
    verdicts = phase(model, cfg).run(TARGETS)
    confirm = [c for c in model.calls if c[2] >= CONFIRMATION_OFFSET]
    assert len(confirm) == 15 * len(TARGETS)
    # One fresh start per tenant per block, before that tenant's first round in the block.
    assert model.starts == {"t01": 5, "t02": 5}
    for tenant, index in (("t01", 0), ("t01", 1), ("t02", 0)):
        reps = [c[2] - CONFIRMATION_OFFSET for c in confirm if c[:2] == (tenant, index)]
        assert reps == list(range(15))
    # Speeds that differ between processes by up to 1.3x read as unstable, not a change.
    assert {v.verdict for v in verdicts} == {"unstable"}
    assert all(v.escalated and v.pairs == 15 and v.metric == metric for v in verdicts)


@pytest.mark.parametrize(("pairs", "blocks"), [(15, 7), (15, 6), (10, 4), (4, 7)])
def test_confirmation_pairs_are_split_over_every_block_as_evenly_as_they_go(
    pairs: int, blocks: int
) -> None:
    cfg = PerfSection(repetitions=2, max_repetitions=pairs, process_pairs=blocks)
    model = ProcessSpeedModel([1.3, 0.8, 1.25, 0.85, 1.2, 0.9, 1.1, 0.95], slowdown=1.0)
    verdicts = phase(model, cfg).run(TARGETS)
    # Every block gets pairs (at least two each, so a block has a spread of its own): 15
    # pairs over 7 blocks are 3+2+2+2+2+2+2, not 3+3+3+3+3 and two blocks left empty.
    used = min(blocks, pairs // 2)
    assert model.starts == {"t01": used, "t02": used}
    assert len([c for c in model.calls if c[2] >= CONFIRMATION_OFFSET]) == pairs * len(TARGETS)
    assert all(v.pairs == pairs for v in verdicts)


@pytest.mark.parametrize("metric", ["cpu", "wall"])
def test_a_slowdown_that_every_process_pair_shows_is_regressed(metric: str) -> None:
    cfg = PerfSection(repetitions=4, max_repetitions=15, process_pairs=5, metric=metric)
    model = ProcessSpeedModel([1.0, 1.02, 0.98], slowdown=1.4)
    verdicts = phase(model, cfg).run(TARGETS)
    assert {v.verdict for v in verdicts} == {"regressed"}
    assert all(1.3 < v.ratio < 1.5 and v.metric == metric for v in verdicts)
    # The other metric moved alike and is reported beside the verdict.
    assert all(v.other_ratio is not None and 1.3 < v.other_ratio < 1.5 for v in verdicts)


def test_wall_time_stretched_by_waiting_is_not_a_cpu_regression_but_is_reported() -> None:
    # The candidate waits 1.4x longer (other processes hold the cores) but works as much.
    model = ProcessSpeedModel([1.0, 1.02, 0.98], slowdown=1.4, cpu_slowdown=1.0)
    by_cpu = phase(model, PerfSection(metric="cpu")).run(TARGETS)
    assert {v.verdict for v in by_cpu} == {"unchanged"}
    assert all(v.metric == "cpu" and 1.3 < (v.other_ratio or 0) < 1.5 for v in by_cpu)
    by_wall = phase(model, PerfSection(metric="wall")).run(TARGETS)
    assert {v.verdict for v in by_wall} == {"regressed"}


def test_records_without_cpu_time_are_judged_on_wall_time_and_say_so() -> None:
    model = ProcessSpeedModel([1.0, 1.02, 0.98], slowdown=1.4, cpu_measured=False)
    verdicts = phase(model, PerfSection(metric="cpu")).run(TARGETS)
    assert {v.verdict for v in verdicts} == {"regressed"}
    assert all(v.metric == "wall" and v.other_ratio is None for v in verdicts)


def test_memory_growth_alone_escalates_and_is_memory_regressed_with_latency_unchanged() -> None:
    cfg = PerfSection(repetitions=4, max_repetitions=15, process_pairs=5)
    model = ProcessSpeedModel(
        [1.0, 1.01, 0.99], slowdown=1.0, memory_growth=1.3, rss_source="vmhwm"
    )
    verdicts = phase(model, cfg).run(TARGETS)
    assert len(verdicts) == len(TARGETS)
    for v in verdicts:
        # Latency was decided on the screen; memory on the 15 confirmation pairs alone.
        assert (v.verdict, v.escalated, v.pairs) == ("unchanged", False, 4)
        assert v.memory is not None
        assert v.memory.verdict == "memory_regressed" and v.memory.escalated
        assert v.memory.pairs == 15 and v.memory.q_value <= cfg.alpha
        assert v.memory.ratio == pytest.approx(1.3, rel=0.01)
        assert 1.1 < v.memory.ci_low <= v.memory.ci_high < 1.35
        assert v.memory.baseline_mb == pytest.approx(140.0, rel=0.01)
    assert len([c for c in model.calls if c[2] >= CONFIRMATION_OFFSET]) == 15 * len(TARGETS)


def test_equal_memory_is_memory_unchanged_and_a_lifetime_peak_is_not_judged() -> None:
    cfg = PerfSection(repetitions=4, max_repetitions=15, process_pairs=5)
    same = phase(ProcessSpeedModel([1.0], slowdown=1.0, rss_source="vmhwm"), cfg).run(TARGETS)
    assert {(v.verdict, v.memory_verdict) for v in same} == {("unchanged", "memory_unchanged")}
    # ru_maxrss never falls: it is not the statement's peak, so no memory verdict.
    lifetime = ProcessSpeedModel([1.0], slowdown=1.0, memory_growth=2.0, rss_source="ru_maxrss")
    verdicts = phase(lifetime, cfg).run(TARGETS)
    assert {(v.verdict, v.memory) for v in verdicts} == {("unchanged", None)}
