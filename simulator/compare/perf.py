"""Performance statistics per pattern from paired, interleaved (ABBA) executions.

A pattern is timed in pairs: each pair is one baseline and one candidate execution run back
to back (the order alternating A B, B A, ... so drift hits both sides alike). From the pairs:

- ``ratio``: candidate/baseline as the geometric mean of the paired ratios;
- a percentile bootstrap confidence interval of that ratio (seeded, so reruns agree). When
  the pairs come from several worker-process pairs (``blocks``), the interval is the hull of
  that bootstrap and a Student-t interval over the per-block median log-ratios. Two identical
  engine processes can differ in speed for their whole life (CPU placement, allocator
  state, a noisy neighbour); every pair of one process pair shares that effect, so only a
  spread over several process pairs lets the interval include it, and a process effect then
  reads as ``unstable`` instead of a change. A bootstrap over three blocks would understate
  that spread (measured: 10% false alarms at a 40% process effect, against 0-1% with t);
- ``p_value``: a paired sign-flip permutation test on the log-ratios (exact up to 16 pairs);
- ``spread``: the baseline's own spread, IQR / median of the baseline samples.

The samples are one ``metric`` (``config.PERF_METRICS``): ``cpu``, the engine process's CPU time,
or ``wall``, its wall time (see docs/comparison.md for which is judged and why); the other
metric's ratio is reported beside the verdict (``other_ratio``) without deciding it.

Decision rule (``threshold`` t, default 0.10; ``alpha`` default 0.05; q = BH-adjusted p):

- ``regressed``: ci_low > 1 + t and q <= alpha;
- ``improved``:  ci_high < 1 / (1 + t) and q <= alpha;
- ``unchanged``: the whole interval lies inside [1 / (1 + t), 1 + t] and spread <= t;
- ``unstable``:  anything else: the baseline is too noisy, or the interval reaches past the
  threshold without a significant, practically relevant change.

Peak memory (``MEMORY_METRIC``: the worker's RSS high-water mark over each execution, reset
before each statement) is judged the same way over the same pairs, blocks and threshold,
with its own Benjamini-Hochberg family, into ``memory_regressed`` / ``memory_improved`` /
``memory_unchanged`` / ``memory_unstable`` (:func:`decide_patterns`, ``memory``).

Screening runs only decide ``unchanged``; every other pattern ``needs_more`` and is decided
on a fresh set of confirmation runs alone (never pooled with the screen, which would bias
the test by optional stopping). Benjamini-Hochberg is applied across all decided patterns.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from simulator.config import PERF_METRICS, PerfSection
from simulator.results.verdicts import MEMORY_PREFIX, MemoryVerdict, PerfVerdict

BOOTSTRAP_RESAMPLES = 2000
# Exact sign-flip enumeration is 2**n rows of n values: 16 pairs is 1M floats, cheap.
EXACT_PERMUTATION_MAX_PAIRS = 16
MONTE_CARLO_FLIPS = 20000
# Timers report 0 ms for very fast statements; a floor keeps log-ratios finite.
MIN_MS = 0.001
# The samples of a memory assessment: peak RSS in MiB (assess_pattern's ``metric``).
MEMORY_METRIC = "peak_rss"


@dataclass(frozen=True)
class PatternAssessment:
    """Statistics of one pattern's paired samples and the verdict they support on their own.

    ``verdict`` is one of regressed|improved|unchanged|unstable|inconclusive before the
    cross-pattern correction; ``decide_patterns`` makes the final call with BH q-values.
    """

    verdict: str
    ratio: float
    ci_low: float
    ci_high: float
    p_value: float
    spread: float
    pairs: int
    baseline_ms: float
    candidate_ms: float
    needs_more: bool
    confirmation: bool
    metric: str = "wall"
    other_ratio: float | None = None


@dataclass(frozen=True)
class PatternKey:
    """Which pattern an assessment belongs to, for the PerfVerdict record."""

    tenant: str
    pattern_id: str
    kind: str = "select"
    weight: float = 1.0


def _log_ratios(baseline_ms: Sequence[float], candidate_ms: Sequence[float]) -> np.ndarray:
    base = np.asarray(baseline_ms, dtype=np.float64)
    cand = np.asarray(candidate_ms, dtype=np.float64)
    if base.shape != cand.shape or base.ndim != 1:
        raise ValueError(
            f"paired samples need equal lengths, got {base.shape} baseline and "
            f"{cand.shape} candidate"
        )
    if base.size < 2:
        raise ValueError(f"at least 2 pairs are needed, got {base.size}")
    if not (np.all(np.isfinite(base)) and np.all(np.isfinite(cand))):
        raise ValueError("timings must be finite")
    if np.any(base < 0) or np.any(cand < 0):
        raise ValueError("timings must not be negative")
    return np.log(np.maximum(cand, MIN_MS)) - np.log(np.maximum(base, MIN_MS))


def bootstrap_ratio_ci(
    log_ratios: np.ndarray, level: float, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the geometric-mean ratio at confidence ``level``."""
    rng = np.random.default_rng(seed)
    n = log_ratios.size
    idx = rng.integers(0, n, size=(resamples, n))
    means = log_ratios[idx].mean(axis=1)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return float(math.exp(low)), float(math.exp(high))


def t_quantile(p: float, df: int) -> float:
    """Quantile ``p`` (> 0.5) of Student's t with ``df`` degrees of freedom: exact for 1 and
    2, the Cornish-Fisher expansion (Abramowitz & Stegun 26.7.5) beyond, within 1e-3 there."""
    if df == 1:
        return math.tan(math.pi * (p - 0.5))
    if df == 2:
        return (2 * p - 1) / math.sqrt(2 * p * (1 - p))
    z = NormalDist().inv_cdf(p)
    terms = (
        (z**3 + z) / 4,
        (5 * z**5 + 16 * z**3 + 3 * z) / 96,
        (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384,
        (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160,
    )
    return z + sum(term / df ** (i + 1) for i, term in enumerate(terms))


def block_ratio_ci(
    log_ratios: np.ndarray, blocks: Sequence[int], level: float
) -> tuple[float, float] | None:
    """Student-t interval of the ratio over per-block median log-ratios, treating each
    worker-process pair as one observation (the median, so one GC-like outlier among a
    block's few pairs does not move it); None with fewer than two blocks."""
    groups = _block_groups(blocks, log_ratios.size)
    if groups is None:
        return None
    means = np.array([np.median(log_ratios[g]) for g in groups])
    half = t_quantile(1.0 - (1.0 - level) / 2.0, means.size - 1) * means.std(ddof=1)
    half /= math.sqrt(means.size)
    centre = float(means.mean())
    return float(math.exp(centre - half)), float(math.exp(centre + half))


def _block_groups(blocks: Sequence[int] | None, n: int) -> list[np.ndarray] | None:
    """Pair indices per block, or None when there are fewer than two blocks."""
    if blocks is None:
        return None
    ids = np.asarray(blocks)
    if ids.shape != (n,):
        raise ValueError(f"one block id per pair is needed, got {ids.size} for {n} pairs")
    groups = [np.flatnonzero(ids == b) for b in np.unique(ids)]
    return groups if len(groups) >= 2 else None


@functools.lru_cache(maxsize=EXACT_PERMUTATION_MAX_PAIRS + 1)
def _all_signs(n: int) -> np.ndarray:
    return np.array(list(itertools.product((1.0, -1.0), repeat=n)))


def sign_flip_p_value(log_ratios: np.ndarray, seed: int = 0) -> float:
    """Two-sided p-value of a paired sign-flip permutation test on the mean log-ratio.

    Exact for up to 16 pairs (all 2**n sign patterns), Monte Carlo with the +1 correction
    beyond. Under H0 (no change) each paired log-ratio is symmetric about zero.
    """
    n = log_ratios.size
    observed = abs(float(log_ratios.mean()))
    # Tolerance so that ties with the observed statistic count as "as extreme".
    slack = 1e-12 * max(1.0, observed)
    if n <= EXACT_PERMUTATION_MAX_PAIRS:
        stats = np.abs(_all_signs(n) @ log_ratios) / n
        return float(np.mean(stats >= observed - slack))
    rng = np.random.default_rng(seed)
    signs = rng.choice((1.0, -1.0), size=(MONTE_CARLO_FLIPS, n))
    stats = np.abs(signs @ log_ratios) / n
    return float((np.sum(stats >= observed - slack) + 1) / (MONTE_CARLO_FLIPS + 1))


def baseline_spread(baseline_ms: Sequence[float]) -> float:
    """The baseline's own spread: interquartile range over median (0 when median is 0)."""
    base = np.asarray(baseline_ms, dtype=np.float64)
    q25, q50, q75 = np.quantile(base, [0.25, 0.5, 0.75])
    return float((q75 - q25) / q50) if q50 > 0 else 0.0


def _verdict(
    ci_low: float, ci_high: float, significant: bool, spread: float, threshold: float
) -> str:
    upper = 1.0 + threshold
    lower = 1.0 / upper
    if ci_low > upper and significant:
        return "regressed"
    if ci_high < lower and significant:
        return "improved"
    if lower <= ci_low and ci_high <= upper and spread <= threshold:
        return "unchanged"
    return "unstable"


def assess_pattern(
    baseline_ms: Sequence[float],
    candidate_ms: Sequence[float],
    cfg: PerfSection,
    *,
    confirmation: bool = False,
    seed: int = 0,
    blocks: Sequence[int] | None = None,
    metric: str = "wall",
    other_ms: tuple[Sequence[float], Sequence[float]] | None = None,
) -> PatternAssessment:
    """Assess one pattern from paired samples (``baseline_ms[i]`` pairs ``candidate_ms[i]``).

    ``blocks`` gives, per pair, the worker-process pair it ran on; the confidence interval
    then accounts for speed differences between processes (see the module doc). The
    samples are of ``metric``; ``other_ms`` (baseline, candidate) are the same pairs in the
    other metric, whose geometric-mean ratio is reported as ``other_ratio``.

    Returns the statistics and an uncorrected verdict: on screening runs only ``unchanged``
    is final and anything else is ``inconclusive`` with ``needs_more`` set (unless the config
    allows no more repetitions); on confirmation runs the verdict is final up to the BH step.
    Refuses (ValueError) an unknown metric, unequal lengths, fewer than 2 pairs, negative or
    non-finite times.
    """
    if metric not in (*PERF_METRICS, MEMORY_METRIC):
        known = ", ".join((*PERF_METRICS, MEMORY_METRIC))
        raise ValueError(f"unknown performance metric {metric!r} (known: {known})")
    log_ratios = _log_ratios(baseline_ms, candidate_ms)
    other_ratio = None
    if other_ms is not None:
        other_ratio = float(math.exp(_log_ratios(*other_ms).mean()))
    ratio = float(math.exp(log_ratios.mean()))
    ci_low, ci_high = bootstrap_ratio_ci(log_ratios, 1.0 - cfg.alpha, seed=seed)
    by_block = block_ratio_ci(log_ratios, blocks, 1.0 - cfg.alpha) if blocks else None
    if by_block is not None:
        ci_low, ci_high = min(ci_low, by_block[0]), max(ci_high, by_block[1])
    p_value = sign_flip_p_value(log_ratios, seed=seed)
    spread = baseline_spread(baseline_ms)
    verdict = _verdict(ci_low, ci_high, p_value <= cfg.alpha, spread, cfg.threshold)
    can_escalate = cfg.max_repetitions > cfg.repetitions
    needs_more = not confirmation and can_escalate and verdict != "unchanged"
    if needs_more:
        verdict = "inconclusive"
    return PatternAssessment(
        verdict=verdict,
        ratio=ratio,
        ci_low=ci_low,
        ci_high=ci_high,
        p_value=p_value,
        spread=spread,
        pairs=int(log_ratios.size),
        baseline_ms=float(np.median(baseline_ms)),
        candidate_ms=float(np.median(candidate_ms)),
        needs_more=needs_more,
        confirmation=confirmation,
        metric=metric,
        other_ratio=other_ratio,
    )


def confirmation_pairs(cfg: PerfSection) -> int:
    """How many fresh pairs a pattern that ``needs_more`` gets: ``max_repetitions``.

    The confirmation must stand alone, and an exact sign-flip test on n pairs cannot go
    below p = 2 / 2**n: 15 pairs reach 6e-5, enough to survive BH across a few hundred
    patterns at alpha 0.05 when every pair moves the same way.
    """
    return cfg.max_repetitions


def confirmation_blocks(cfg: PerfSection) -> list[int]:
    """How many of a pattern's confirmation pairs each process-pair block runs:
    ``perf.process_pairs`` blocks (fewer when there are not two pairs for each), sizes
    differing by at most one, none empty."""
    total = confirmation_pairs(cfg)
    blocks = max(1, min(cfg.process_pairs, total // 2))
    return [(b + 1) * total // blocks - b * total // blocks for b in range(blocks)]


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """BH-adjusted q-values in the input order (monotone, capped at 1)."""
    p = np.asarray(p_values, dtype=np.float64)
    m = p.size
    if m == 0:
        return []
    order = np.argsort(p)
    ranked = p[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1]
    q = np.empty(m)
    q[order] = np.minimum(adjusted, 1.0)
    return [float(v) for v in q]


def _final(
    assessments: Sequence[tuple[PatternKey, PatternAssessment]], cfg: PerfSection
) -> list[tuple[str, float]]:
    """(verdict, BH q-value) of each assessment: one family, the decision rule on q."""
    for key, assessment in assessments:
        if assessment.needs_more:
            raise ValueError(
                f"pattern {key.pattern_id} of {key.tenant} still needs confirmation runs"
            )
    q_values = benjamini_hochberg([a.p_value for _, a in assessments])
    return [
        (_verdict(a.ci_low, a.ci_high, q <= cfg.alpha, a.spread, cfg.threshold), q)
        for (_, a), q in zip(assessments, q_values, strict=True)
    ]


def decide_memory(
    assessments: Sequence[tuple[PatternKey, PatternAssessment]], cfg: PerfSection
) -> dict[PatternKey, MemoryVerdict]:
    """Final MemoryVerdicts of one candidate's patterns from their peak-RSS assessments:
    BH across them (a family of its own), then the latency decision rule. Refuses
    (ValueError) an assessment that still ``needs_more``."""
    return {
        key: MemoryVerdict(
            verdict=MEMORY_PREFIX + verdict,
            ratio=a.ratio,
            ci_low=a.ci_low,
            ci_high=a.ci_high,
            p_value=a.p_value,
            q_value=q,
            pairs=a.pairs,
            baseline_mb=a.baseline_ms,
            candidate_mb=a.candidate_ms,
            escalated=a.confirmation,
        )
        for (key, a), (verdict, q) in zip(assessments, _final(assessments, cfg), strict=True)
    }


def decide_patterns(
    assessments: Sequence[tuple[PatternKey, PatternAssessment]],
    cfg: PerfSection,
    *,
    run_id: str,
    candidate: str,
    memory: Sequence[tuple[PatternKey, PatternAssessment]] = (),
) -> list[PerfVerdict]:
    """Final PerfVerdicts for one candidate: BH across all patterns, then the decision rule.

    Pass each pattern's final assessment (the confirmation one when it was escalated), and
    in ``memory`` the peak-RSS assessments of the patterns that have one: each verdict then
    carries its :class:`MemoryVerdict` (:func:`decide_memory`). Refuses (ValueError) an
    assessment that still ``needs_more``.
    """
    memory_verdicts = decide_memory(memory, cfg)
    verdicts = []
    for (key, a), (verdict, q) in zip(assessments, _final(assessments, cfg), strict=True):
        verdicts.append(
            PerfVerdict(
                run_id=run_id,
                candidate=candidate,
                tenant=key.tenant,
                pattern_id=key.pattern_id,
                kind=key.kind,
                verdict=verdict,
                ratio=a.ratio,
                ci_low=a.ci_low,
                ci_high=a.ci_high,
                p_value=a.p_value,
                q_value=q,
                pairs=a.pairs,
                baseline_ms=a.baseline_ms,
                candidate_ms=a.candidate_ms,
                baseline_spread=a.spread,
                escalated=a.confirmation,
                weight=key.weight,
                metric=a.metric,
                other_ratio=a.other_ratio,
                memory=memory_verdicts.get(key),
            )
        )
    return verdicts


def latency_percentiles(ms: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99 (linear interpolation), mean and count of under-load latencies.

    Reported beside, never mixed into, the isolated paired verdicts. Empty input gives
    count 0 and NaN percentiles.
    """
    values = np.asarray(ms, dtype=np.float64)
    if values.size == 0:
        nan = float("nan")
        return {"count": 0, "p50": nan, "p95": nan, "p99": nan, "mean": nan}
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {
        "count": int(values.size),
        "p50": float(p50),
        "p95": float(p95),
        "p99": float(p99),
        "mean": float(values.mean()),
    }
