"""Performance under load: the candidate against the baseline in the concurrent load phase.

Both engines replay the same seeded schedule in the same load phase (lanes interleaved
statement by statement, :mod:`simulator.runner.schedule`), so each query has one wall time
under load on each side. Per pattern (pooled over tenants) and for the whole workload:

- samples: the queries that ran ``ok`` on both sides, the baseline's not served from the
  bank (a banked time was measured in another run, under another load);
- fewer than ``load.compare_min_samples``: ``insufficient``, no test, never a finding;
- ``ratio``: geometric mean of the paired candidate/baseline wall-time ratios, with a
  seeded paired bootstrap interval; ``p_value``: paired sign-flip test on the log-ratios;
- p50, p95, p99 on both sides with the ratio of each and a paired bootstrap interval; from
  ``load.compare_tail_min_samples`` samples the p95 ratio is tested too (bootstrap p-value);
- every p-value of a candidate (typical and tail, patterns and workload) goes through one
  Benjamini-Hochberg step at ``load.compare_alpha``;
- ``regressed``: q <= alpha and the interval's low end above 1 + ``load.compare_threshold``
  (typical), or the same for the p95 ratio (tail); ``improved``: q <= alpha and the high
  end below 1 / (1 + threshold); ``unchanged``: the interval inside both bounds;
  ``unstable`` otherwise.

The workload row adds errors and timeouts under load (an exact binomial test on the
queries where only one side failed) and throughput: statements finished per second of the
span from an engine's first start to its last finish in the phase.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from simulator.compare.perf import MIN_MS, benjamini_hochberg, sign_flip_p_value
from simulator.config import LoadSection
from simulator.results.execution import Execution, Phase, Status
from simulator.results.load_verdicts import ALL_PATTERNS, LoadQuantile, LoadVerdict

BOOTSTRAP_RESAMPLES = 2000
FAILED = (Status.ERROR, Status.TIMEOUT, Status.CRASH)
_PERCENT = {"p50": 50.0, "p95": 95.0, "p99": 99.0}


@dataclass(frozen=True)
class QueryPattern:
    """What the comparison needs to know of a query: its pattern, kind and weight."""

    pattern_id: str
    kind: str
    weight: float = 1.0


@dataclass
class SampleStats:
    """What paired samples say before the cross-pattern correction: the quantiles (with
    bootstrap intervals once there are enough samples), the geometric-mean ratio and its
    interval, and the typical and tail p-values (None when not tested)."""

    quantiles: dict[str, LoadQuantile]
    ratio: float | None = None
    ci: tuple[float, float] | None = None
    p_value: float | None = None
    tail_p_value: float | None = None


@dataclass
class _Assessment:
    pattern_id: str
    kind: str
    weight: float
    samples: int
    stats: SampleStats


def assess_samples(
    baseline_ms: Sequence[float],
    candidate_ms: Sequence[float],
    settings: LoadSection,
    *,
    seed: int = 0,
) -> SampleStats:
    """The statistics of paired samples (``baseline_ms[i]`` pairs ``candidate_ms[i]``); see
    the module doc. Refuses (ValueError) unequal lengths."""
    base = np.maximum(np.asarray(baseline_ms, dtype=np.float64), MIN_MS)
    cand = np.maximum(np.asarray(candidate_ms, dtype=np.float64), MIN_MS)
    if base.shape != cand.shape:
        raise ValueError(f"paired samples need equal lengths, got {base.size} and {cand.size}")
    n = base.size
    if n == 0:
        return SampleStats({})
    quantiles = {
        name: LoadQuantile(
            baseline_ms=float(np.percentile(base, pct)),
            candidate_ms=float(np.percentile(cand, pct)),
            ratio=float(np.percentile(cand, pct) / np.percentile(base, pct)),
        )
        for name, pct in _PERCENT.items()
    }
    if n < settings.compare_min_samples:
        return SampleStats(quantiles)
    logs = np.log(cand) - np.log(base)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(BOOTSTRAP_RESAMPLES, n))
    tail = settings.compare_alpha / 2.0
    means = logs[idx].mean(axis=1)
    low, high = np.quantile(means, [tail, 1.0 - tail])
    ci = (float(math.exp(low)), float(math.exp(high)))
    boot_base, boot_cand = base[idx], cand[idx]
    tail_logs = None
    for name, pct in _PERCENT.items():
        ratios = np.log(np.percentile(boot_cand, pct, axis=1)) - np.log(
            np.percentile(boot_base, pct, axis=1)
        )
        q_low, q_high = np.quantile(ratios, [tail, 1.0 - tail])
        quantiles[name].ci_low = float(math.exp(q_low))
        quantiles[name].ci_high = float(math.exp(q_high))
        if name == "p95":
            tail_logs = ratios
    tail_p = None
    if n >= settings.compare_tail_min_samples and tail_logs is not None:
        below = int(np.sum(tail_logs <= 0.0))
        above = int(np.sum(tail_logs >= 0.0))
        tail_p = min(1.0, 2.0 * (min(below, above) + 1) / (BOOTSTRAP_RESAMPLES + 1))
    return SampleStats(
        quantiles, float(math.exp(logs.mean())), ci, sign_flip_p_value(logs, seed=seed), tail_p
    )


def _decide(
    a: _Assessment, q: float | None, tail_q: float | None, settings: LoadSection
) -> tuple[str, str]:
    """(verdict, reason) from an assessment and its BH-adjusted q-values."""
    stats = a.stats
    if stats.ci is None or q is None:
        return "insufficient", ""
    upper, lower = 1.0 + settings.compare_threshold, 1.0 / (1.0 + settings.compare_threshold)
    alpha = settings.compare_alpha
    if stats.ci[0] > upper and q <= alpha:
        return "regressed", "typical"
    tail_low = stats.quantiles["p95"].ci_low
    if tail_q is not None and tail_q <= alpha and tail_low is not None and tail_low > upper:
        return "regressed", "tail"
    if stats.ci[1] < lower and q <= alpha:
        return "improved", "typical"
    if lower <= stats.ci[0] and stats.ci[1] <= upper:
        return "unchanged", ""
    return "unstable", ""


def _paired(
    executions: Iterable[Execution], baseline: str, candidate: str
) -> dict[tuple[str, str], tuple[Execution, Execution]]:
    """Load-phase executions of one query on both sides, by (tenant, query_id)."""
    sides: dict[str, dict[tuple[str, str], Execution]] = {baseline: {}, candidate: {}}
    for e in executions:
        if e.phase == Phase.LOAD and e.repetition == 0 and e.engine in sides:
            sides[e.engine][(e.tenant, e.query_id)] = e
    return {
        key: (b, sides[candidate][key])
        for key, b in sides[baseline].items()
        if key in sides[candidate]
    }


def _throughput(records: list[Execution]) -> float | None:
    """Statements finished ``ok`` per second of the span the engine was busy in the phase."""
    timed = [e for e in records if e.started_at and e.finished_at and not e.from_bank]
    if not timed:
        return None
    span = max(e.finished_at for e in timed) - min(e.started_at for e in timed)
    done = sum(1 for e in timed if e.status == Status.OK)
    return done / span if span > 0 else None


def binomial_two_sided(successes: int, trials: int) -> float:
    """Exact two-sided binomial test p-value of ``successes`` in ``trials`` at p = 1/2 (1.0
    with no trials)."""
    if trials == 0:
        return 1.0
    k = min(successes, trials - successes)
    tail = sum(math.comb(trials, i) for i in range(k + 1)) / 2.0**trials
    return min(1.0, 2.0 * tail)


def compare_under_load(
    executions: Sequence[Execution],
    patterns: dict[tuple[str, str], QueryPattern],
    settings: LoadSection,
    *,
    run_id: str,
    baseline: str,
    candidate: str,
) -> list[LoadVerdict]:
    """The load verdicts of ``candidate``: one per pattern of ``patterns`` (keyed by
    (tenant, query_id)) that has a paired query, then the whole workload's."""
    pairs = _paired(executions, baseline, candidate)
    groups: dict[str, list[tuple[Execution, Execution]]] = {}
    for key, pair in sorted(pairs.items()):
        if key in patterns:
            groups.setdefault(patterns[key].pattern_id, []).append(pair)
    info = {p.pattern_id: p for p in patterns.values()}
    assessments = []
    for pattern_id, members in [*sorted(groups.items()), (ALL_PATTERNS, list(pairs.values()))]:
        usable = [
            (b, c)
            for b, c in members
            if b.status == Status.OK and c.status == Status.OK and not b.from_bank
        ]
        stats = assess_samples(
            [b.wall_ms for b, _ in usable],
            [c.wall_ms for _, c in usable],
            settings,
            seed=zlib.crc32(f"{candidate}|{pattern_id}".encode()),
        )
        meta = info.get(pattern_id)
        assessments.append(
            _Assessment(
                pattern_id=pattern_id,
                kind=meta.kind if meta else "",
                weight=sum(patterns[(b.tenant, b.query_id)].weight for b, _ in members)
                if meta
                else 1.0,
                samples=len(usable),
                stats=stats,
            )
        )
    tested = [
        p for a in assessments for p in (a.stats.p_value, a.stats.tail_p_value) if p is not None
    ]
    q_values = iter(benjamini_hochberg(tested))
    verdicts = []
    for a in assessments:
        stats = a.stats
        q = next(q_values) if stats.p_value is not None else None
        tail_q = next(q_values) if stats.tail_p_value is not None else None
        verdict, reason = _decide(a, q, tail_q, settings)
        record = LoadVerdict(
            run_id=run_id,
            candidate=candidate,
            pattern_id=a.pattern_id,
            kind=a.kind,
            verdict=verdict,
            samples=a.samples,
            ratio=stats.ratio,
            ci_low=stats.ci[0] if stats.ci else None,
            ci_high=stats.ci[1] if stats.ci else None,
            p_value=stats.p_value,
            q_value=q,
            tail_q_value=tail_q,
            reason=reason,
            quantiles=stats.quantiles,
            weight=a.weight,
        )
        if a.pattern_id == ALL_PATTERNS:
            _add_workload_figures(record, executions, pairs, baseline, candidate)
        verdicts.append(record)
    return verdicts


def _add_workload_figures(
    record: LoadVerdict,
    executions: Sequence[Execution],
    pairs: dict[tuple[str, str], tuple[Execution, Execution]],
    baseline: str,
    candidate: str,
) -> None:
    """Errors and timeouts under load on both sides, and each side's throughput."""
    only_candidate = sum(
        1 for b, c in pairs.values() if c.status in FAILED and b.status == Status.OK
    )
    only_baseline = sum(
        1 for b, c in pairs.values() if b.status in FAILED and c.status == Status.OK
    )
    record.baseline_errors = sum(1 for b, _ in pairs.values() if b.status in FAILED)
    record.candidate_errors = sum(1 for _, c in pairs.values() if c.status in FAILED)
    record.errors_p_value = binomial_two_sided(only_candidate, only_candidate + only_baseline)
    load = [e for e in executions if e.phase == Phase.LOAD and e.repetition == 0]
    record.baseline_throughput = _throughput([e for e in load if e.engine == baseline])
    record.candidate_throughput = _throughput([e for e in load if e.engine == candidate])
