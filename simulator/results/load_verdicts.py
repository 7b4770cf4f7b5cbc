"""The comparison under load, as recorded: one :class:`LoadVerdict` per candidate and
pattern, plus one per candidate for the whole workload (``pattern_id`` ""), written to
``load.jsonl`` of a run folder. Kept apart from the isolated performance verdicts
(``perf.jsonl``): the two answer different questions and are never mixed."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

# ``insufficient``: fewer paired samples than ``load.compare_min_samples``; not a finding.
LOAD_VERDICTS = ("regressed", "improved", "unchanged", "unstable", "insufficient")
# The whole workload of a candidate, next to its patterns.
ALL_PATTERNS = ""
QUANTILES = ("p50", "p95", "p99")


@dataclass
class LoadQuantile:
    """One latency quantile under load on both sides, the candidate/baseline ratio and its
    paired bootstrap interval (None when there were too few samples for it)."""

    baseline_ms: float
    candidate_ms: float
    ratio: float
    ci_low: float | None = None
    ci_high: float | None = None


@dataclass
class LoadVerdict:
    """How one pattern (or, with ``pattern_id`` "", the whole workload) of one candidate
    behaved under the concurrent load phase, against the baseline on the same schedule.

    ``samples`` are queries that ran ``ok`` on both sides (baseline not from the bank);
    ``ratio`` is the geometric mean of their paired wall-time ratios with a bootstrap
    interval, ``p_value`` a paired sign-flip test and ``q_value`` it after Benjamini-Hochberg
    over every test of the candidate (tails included); ``tail_q_value`` the same for the p95
    ratio, None when the tail was not tested. ``reason`` says what decided a
    ``regressed``: ``typical`` latency or the ``tail``. The workload row also carries errors
    and timeouts under load on both sides (``errors_p_value``: exact test on the queries
    where only one side failed) and throughput (statements per second of the phase).
    """

    run_id: str
    candidate: str
    pattern_id: str
    kind: str
    verdict: str
    samples: int
    ratio: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    q_value: float | None = None
    tail_q_value: float | None = None
    reason: str = ""
    quantiles: dict[str, LoadQuantile] = field(default_factory=dict)
    weight: float = 1.0
    baseline_errors: int | None = None
    candidate_errors: int | None = None
    errors_p_value: float | None = None
    baseline_throughput: float | None = None
    candidate_throughput: float | None = None

    def __post_init__(self) -> None:
        if self.verdict not in LOAD_VERDICTS:
            raise ValueError(f"unknown load verdict {self.verdict!r}")

    @property
    def whole_workload(self) -> bool:
        return self.pattern_id == ALL_PATTERNS

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LoadVerdict:
        data = dict(data)
        quantiles = {k: LoadQuantile(**v) for k, v in (data.pop("quantiles", {}) or {}).items()}
        return cls(quantiles=quantiles, **data)
