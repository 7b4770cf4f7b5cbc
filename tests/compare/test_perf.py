"""Performance statistics: the test and interval themselves, escalation, Benjamini-Hochberg,
and an A/A simulation (no false alarms beyond the configured rate) with one injected 1.3x
slowdown that must be found."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from simulator.compare.perf import (
    MEMORY_METRIC,
    PatternKey,
    assess_pattern,
    baseline_spread,
    benjamini_hochberg,
    confirmation_blocks,
    confirmation_pairs,
    decide_patterns,
    latency_percentiles,
    sign_flip_p_value,
    t_quantile,
)
from simulator.config import PerfSection
from simulator.results.verdicts import PerfVerdict

CFG = PerfSection()


def test_sign_flip_is_exact_for_small_samples():
    # All 5 log-ratios positive: only the all-plus and all-minus patterns are as extreme.
    assert sign_flip_p_value(np.log(np.full(5, 1.3))) == pytest.approx(2 / 32)
    assert sign_flip_p_value(np.log(np.full(15, 1.3))) == pytest.approx(2 / 2**15)
    assert sign_flip_p_value(np.zeros(6)) == 1.0


def test_monte_carlo_sign_flip_beyond_sixteen_pairs():
    p = sign_flip_p_value(np.log(np.full(20, 1.3)), seed=1)
    assert p == pytest.approx(1 / 20001)


def test_assessment_is_seeded_and_reports_the_geometric_mean_ratio():
    base = [100, 110, 90, 105, 95, 100, 102, 98]
    cand = [b * 1.5 for b in base]
    a = assess_pattern(base, cand, CFG, confirmation=True)
    assert a == assess_pattern(base, cand, CFG, confirmation=True)
    assert a.ratio == pytest.approx(1.5)
    assert a.ci_low == pytest.approx(1.5) and a.ci_high == pytest.approx(1.5)
    assert a.verdict == "regressed" and a.p_value == pytest.approx(2 / 256)


def test_screening_only_decides_unchanged_and_escalates_the_rest():
    rng = np.random.default_rng(0)
    base = 100 * np.exp(rng.normal(0, 0.01, CFG.repetitions))
    same = assess_pattern(base, base * np.exp(rng.normal(0, 0.01, base.size)), CFG)
    assert (same.verdict, same.needs_more) == ("unchanged", False)
    slower = assess_pattern(base, base * 1.5, CFG)
    assert (slower.verdict, slower.needs_more) == ("inconclusive", True)
    assert confirmation_pairs(CFG) == CFG.max_repetitions


def test_noisy_baseline_is_unstable():
    base = [100, 160, 70, 130, 90, 150, 60, 120]
    assert baseline_spread(base) > CFG.threshold
    assert assess_pattern(base, base, CFG, confirmation=True).verdict == "unstable"


def test_bad_samples_are_refused():
    with pytest.raises(ValueError, match="equal lengths"):
        assess_pattern([1, 2, 3], [1, 2], CFG)
    with pytest.raises(ValueError, match="at least 2 pairs"):
        assess_pattern([1], [1], CFG)
    with pytest.raises(ValueError, match="negative"):
        assess_pattern([1, -2], [1, 2], CFG)
    with pytest.raises(ValueError, match="finite"):
        assess_pattern([1, math.nan], [1, 2], CFG)


def test_benjamini_hochberg_matches_the_textbook_example():
    p = [0.01, 0.04, 0.03, 0.005]
    assert benjamini_hochberg(p) == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert benjamini_hochberg([]) == []


def test_decide_refuses_unconfirmed_patterns():
    pending = assess_pattern([100] * 5, [150] * 5, CFG)
    with pytest.raises(ValueError, match="still needs confirmation"):
        decide_patterns([(PatternKey("t01", "p1"), pending)], CFG, run_id="r", candidate="c")


def test_memory_is_its_own_family_and_reaches_the_verdict_and_back():
    rng = np.random.default_rng(3)
    keys = [PatternKey("t01", f"p{i}") for i in range(12)]
    latency, memory = [], []
    for i, key in enumerate(keys):
        base = 140 * (1 + rng.normal(0, 0.01, 15))
        cand = 140 * (1 + rng.normal(0, 0.01, 15)) * (1.3 if i == 4 else 1.0)
        opts = {"confirmation": True, "seed": i}
        latency.append((key, assess_pattern([3.0] * 15, [3.0] * 15, CFG, **opts)))
        memory.append((key, assess_pattern(base, cand, CFG, metric=MEMORY_METRIC, **opts)))
    # One pattern has no memory verdict (its peak was not measured per statement).
    verdicts = decide_patterns(latency, CFG, run_id="r", candidate="c", memory=memory[:-1])
    assert [v.verdict for v in verdicts] == ["unchanged"] * 12
    memory_verdicts = [v.memory_verdict for v in verdicts]
    assert memory_verdicts[4] == "memory_regressed"
    assert memory_verdicts[:4] + memory_verdicts[5:11] == ["memory_unchanged"] * 10
    assert verdicts[11].memory is None and memory_verdicts[11] == ""
    grown = verdicts[4].memory
    assert grown.ratio == pytest.approx(1.3, rel=0.02) and grown.ci_low > 1 + CFG.threshold
    assert grown.q_value <= CFG.alpha and grown.baseline_mb == pytest.approx(140, rel=0.02)
    # The record survives perf.jsonl (to_dict / from_dict) with its nested memory verdict.
    assert PerfVerdict.from_dict(verdicts[4].to_dict()) == verdicts[4]
    with pytest.raises(ValueError, match="unknown memory verdict"):
        PerfVerdict.from_dict(
            {**verdicts[4].to_dict(), "memory": {**grown.__dict__, "verdict": "x"}}
        )


def test_latency_percentiles():
    stats = latency_percentiles(list(range(1, 101)))
    assert (stats["count"], stats["p50"], stats["p95"], stats["p99"]) == (100, 50.5, 95.05, 99.01)
    assert latency_percentiles([])["count"] == 0


GC_OUTLIERS = (0.02, 1.5, 3.0)


def _pairs(rng, n: int, median_ms: float, sigma: float, factor: float, outliers=GC_OUTLIERS):
    """ABBA pairs: a drift shared by both sides of a pair, own noise and outliers (a share
    of executions slower by a factor drawn from [low, high]; GC-like by default)."""
    share, low, high = outliers
    drift = rng.normal(0, 0.05, n)
    noise = rng.normal(0, sigma, (2, n))
    outliers = np.where(rng.random((2, n)) < share, rng.uniform(low, high, (2, n)), 1.0)
    base = median_ms * np.exp(drift + noise[0]) * outliers[0]
    cand = factor * median_ms * np.exp(drift + noise[1]) * outliers[1]
    return base, cand


def _simulate(seed: int, patterns: int, slow: dict[int, float]):
    rng = np.random.default_rng(seed)
    final = []
    for i in range(patterns):
        median_ms = float(rng.lognormal(math.log(40), 1.0))
        sigma = 0.25 if rng.random() < 0.1 else float(rng.uniform(0.01, 0.05))
        factor = slow.get(i, 1.0)
        base, cand = _pairs(rng, CFG.repetitions, median_ms, sigma, factor)
        assessment = assess_pattern(base, cand, CFG, seed=i)
        if assessment.needs_more:
            base, cand = _pairs(rng, confirmation_pairs(CFG), median_ms, sigma, factor)
            assessment = assess_pattern(base, cand, CFG, confirmation=True, seed=i)
        final.append((PatternKey("t01", f"p{i}"), assessment))
    return decide_patterns(final, CFG, run_id="aa", candidate="same")


@pytest.mark.slow
def test_a_a_runs_stay_under_the_false_alarm_rate_and_a_1_3x_slowdown_is_found():
    patterns, runs = 200, 4
    false_alarms = 0
    verdict_counts: dict[str, int] = {}
    for run in range(runs):
        verdicts = _simulate(seed=run, patterns=patterns, slow={})
        false_alarms += sum(v.verdict in ("regressed", "improved") for v in verdicts)
        for v in verdicts:
            verdict_counts[v.verdict] = verdict_counts.get(v.verdict, 0) + 1
    assert false_alarms / (patterns * runs) <= CFG.false_alarm_rate
    # Noisy patterns and GC-like outliers leave about a quarter "unstable", never "regressed".
    assert verdict_counts["unchanged"] > 0.65 * patterns * runs
    verdicts = _simulate(seed=99, patterns=patterns, slow={17: 1.3})
    flagged = {v.pattern_id: v for v in verdicts if v.verdict == "regressed"}
    assert "p17" in flagged
    assert set(flagged) == {"p17"}
    found = flagged["p17"]
    assert found.escalated and found.pairs == CFG.max_repetitions
    assert found.ci_low > 1 + CFG.threshold and found.q_value <= CFG.alpha
    assert found.ratio == pytest.approx(1.3, rel=0.05)


def _process_pairs(
    rng,
    sizes: list[int],
    effect_sigma: float,
    factor: float,
    *,
    sigma: float = 0.03,
    outliers: tuple[float, float, float] = GC_OUTLIERS,
    odd_share: float = 0.0,
    odd_effect: float = 0.0,
):
    """Pairs from ``len(sizes)`` worker-process pairs (``sizes[b]`` pairs on the b-th); each
    process pair carries one speed ratio for its whole life (lognormal with
    ``effect_sigma``), shared by all its pairs, and with probability ``odd_share`` one
    ``odd_effect`` (log) off either way on top."""
    base, cand, ids = [], [], []
    for block, size in enumerate(sizes):
        effect = rng.normal(0, effect_sigma)
        if rng.random() < odd_share:
            effect += odd_effect * rng.choice((-1.0, 1.0))
        b, c = _pairs(rng, size, 2.0, sigma, factor * float(np.exp(effect)), outliers)
        base.extend(b)
        cand.extend(c)
        ids.extend([block] * size)
    return np.array(base), np.array(cand), ids


def _flagged_share(effect_sigma: float, factor: float, *, use_blocks: bool) -> float:
    """Share of 300 confirmation runs (the default process-pair blocks) called a change."""
    rng = np.random.default_rng(5)
    flagged = 0
    trials = 300
    for i in range(trials):
        base, cand, ids = _process_pairs(rng, confirmation_blocks(CFG), effect_sigma, factor)
        blocks = ids if use_blocks else None
        a = assess_pattern(base, cand, CFG, confirmation=True, seed=i, blocks=blocks)
        flagged += a.verdict in ("regressed", "improved")
    return flagged / trials


@pytest.mark.slow
def test_process_effects_are_unstable_not_regressed_when_pairs_span_process_pairs():
    # Identical engines whose processes differ in speed for their whole life (lognormal
    # sigma 0.3): pooling the pairs as independent calls that a change more often than the
    # configured false-alarm rate (measured 12% over five process pairs, 7% over seven);
    # the default process pairs as blocks stay under it.
    pooled = _flagged_share(0.3, 1.0, use_blocks=False)
    blocked = _flagged_share(0.3, 1.0, use_blocks=True)
    assert pooled > CFG.false_alarm_rate
    assert blocked <= CFG.false_alarm_rate
    # A real 1.3x slowdown with small process effects is found about as often as when the
    # pairs are pooled (the misses come from GC-like outliers, in both).
    pooled_power = _flagged_share(0.03, 1.3, use_blocks=False)
    blocked_power = _flagged_share(0.03, 1.3, use_blocks=True)
    assert blocked_power >= 0.75
    assert blocked_power >= 0.9 * pooled_power


def _busy_slowdown_missed(process_pairs: int) -> float:
    """Share of 400 confirmation runs of a real 1.5x slowdown not called ``regressed``,
    with the noise measured on this 2-core machine with both cores busy (tests/scenarios/
    test_sensitivity.py's run, 14 slowed ~3 ms patterns): paired log-ratios spread 0.126
    with 2.5 % beyond 0.3 and 0.9 % beyond 0.4, none beyond 0.6 (matched by a 0.085 spread
    per execution and 1 % of executions 1.3-1.6x slower), and 2 of 70 process pairs'
    medians off by ~0.4 (log) for their whole life."""
    cfg = dataclasses.replace(CFG, process_pairs=process_pairs)
    rng = np.random.default_rng(11)
    trials, missed = 400, 0
    for i in range(trials):
        base, cand, ids = _process_pairs(
            rng,
            confirmation_blocks(cfg),
            0.015,
            1.5,
            sigma=0.085,
            outliers=(0.01, 1.3, 1.6),
            odd_share=0.03,
            odd_effect=0.4,
        )
        a = assess_pattern(base, cand, cfg, confirmation=True, seed=i, blocks=ids)
        missed += a.verdict != "regressed"
    return missed / trials


@pytest.mark.slow
def test_one_odd_process_pair_does_not_hide_a_1_5x_slowdown_with_the_default_blocks():
    # Five blocks of three pairs: one odd process pair widens the t-interval over five
    # block medians (df 4) past the 1.10 threshold about one time in twenty, so two of 14
    # slowed patterns missed (a failing self-test row) in about one busy run in six.
    # Seven blocks over the same 15 pairs (df 6, each block a seventh of the mean).
    assert _busy_slowdown_missed(5) >= 0.03
    assert confirmation_blocks(CFG) == [2, 2, 2, 2, 2, 2, 3]
    assert _busy_slowdown_missed(CFG.process_pairs) <= 0.01


def test_t_quantiles_match_the_tables():
    # Student t 0.975 quantiles for df 1, 2, 3, 4, 10, 30.
    expected = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 10: 2.228, 30: 2.042}
    for df, value in expected.items():
        assert t_quantile(0.975, df) == pytest.approx(value, abs=4e-3)


def test_block_ids_must_match_the_pairs():
    with pytest.raises(ValueError, match="one block id per pair"):
        assess_pattern([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], CFG, blocks=[0, 1])


def test_the_metric_judged_and_the_other_ratio_reach_the_verdict():
    base = np.full(15, 3.0)
    cpu_cand, wall_cand = base * 1.5, base * 1.1
    a = assess_pattern(
        base, cpu_cand, CFG, confirmation=True, metric="cpu", other_ms=(base, wall_cand)
    )
    assert a.metric == "cpu" and a.ratio == pytest.approx(1.5)
    assert a.other_ratio == pytest.approx(1.1)
    [verdict] = decide_patterns([(PatternKey("t01", "p1"), a)], CFG, run_id="r", candidate="c")
    assert (verdict.verdict, verdict.metric) == ("regressed", "cpu")
    assert verdict.other_ratio == pytest.approx(1.1)
    with pytest.raises(ValueError, match="unknown performance metric"):
        assess_pattern(base, base, CFG, metric="rss")
