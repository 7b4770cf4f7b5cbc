"""Verdict values: what the comparison says about one query (correctness) or one pattern
(performance) for one candidate. Written one JSON object per line in a run folder."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

QUERY_VERDICTS = (
    "match",
    "result_mismatch",
    "write_mismatch",
    "nondeterministic",
    "estimate_changed",
    "cosmetic_difference",
    "candidate_error",
    "baseline_error",
    "both_error",
    "harness_error",
    "timeout",
    "skipped",
)
# Known causes with their own name, reported but not failing a gate by default: an
# approximate aggregate whose repeatable estimate changed, and equal values under a column
# name the engine derives from the expression text.
ESTIMATE_CHANGED = "estimate_changed"
COSMETIC_DIFFERENCE = "cosmetic_difference"
# Reason of a ``candidate_error`` whose engine failed to parse or bind SQL that was rendered
# for its dialect only: qsim's translation may be the cause (still a candidate_error).
TRANSLATION_SUSPECT = "translation_suspect"
# qsim itself could not carry or checksum a result (protocol, decoding, checksum input):
# neither engine's error, and qsim could not judge, so it fails a gate by default.
HARNESS_ERROR = "harness_error"
# Verdicts that are correctness regressions of the candidate (they fail a gate).
REGRESSION_VERDICTS = ("result_mismatch", "write_mismatch", "candidate_error", "timeout")
# Worst first: the order findings are listed in, and the verdict a pattern row shows when
# its queries disagree.
SEVERITY = (
    "write_mismatch",
    "result_mismatch",
    "candidate_error",
    "timeout",
    "harness_error",
    "both_error",
    "baseline_error",
    "nondeterministic",
    "estimate_changed",
    "cosmetic_difference",
    "skipped",
    "match",
)
PERF_VERDICTS = ("regressed", "improved", "unchanged", "unstable")
# The same four outcomes for a pattern's peak memory (MemoryVerdict), named apart so that a
# memory finding never reads as a latency one.
MEMORY_PREFIX = "memory_"
MEMORY_VERDICTS = tuple(MEMORY_PREFIX + v for v in PERF_VERDICTS)
MEMORY_REGRESSED = "memory_regressed"


@dataclass
class Verdict:
    """Correctness verdict for one sampled query against one candidate.

    ``evidence`` holds what a reader needs to believe the verdict without seeing customer
    values: checksums and row counts on both sides, differing columns, missing / extra /
    different partitions with row counts, both error classes and messages, engine versions.
    ``under_load_only``: the finding did not come back in any quiet replay;
    ``intermittent``: it came and went in the quiet replays too.
    """

    run_id: str
    candidate: str
    tenant: str
    query_id: str
    pattern_id: str
    kind: str
    verdict: str
    reason: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)
    weight: float = 1.0
    under_load_only: bool = False
    # Set by quiet confirmation (runner-trust) when the failure comes and goes in quiet
    # replays too, so it is not "only under load".
    intermittent: bool = False
    baseline_from_bank: bool = False

    def __post_init__(self) -> None:
        if self.verdict not in QUERY_VERDICTS:
            raise ValueError(f"unknown verdict {self.verdict!r}")

    @property
    def is_regression(self) -> bool:
        return self.verdict in REGRESSION_VERDICTS

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Verdict:
        return cls(**data)


@dataclass
class MemoryVerdict:
    """Peak-memory verdict of one pattern, decided like latency over the same ABBA pairs.

    The samples are the engine worker's RSS high-water mark over each execution (MiB, reset
    before each statement); ``ratio`` is candidate/baseline (geometric mean of the paired
    ratios) with its confidence interval, ``q_value`` after Benjamini-Hochberg across the
    memory verdicts of all patterns of the candidate; ``baseline_mb``/``candidate_mb`` are
    medians. ``verdict`` is one of :data:`MEMORY_VERDICTS`.
    """

    verdict: str
    ratio: float
    ci_low: float
    ci_high: float
    p_value: float
    q_value: float
    pairs: int
    baseline_mb: float
    candidate_mb: float
    escalated: bool = False

    def __post_init__(self) -> None:
        if self.verdict not in MEMORY_VERDICTS:
            raise ValueError(f"unknown memory verdict {self.verdict!r}")


@dataclass
class PerfVerdict:
    """Performance verdict for one pattern of one tenant against one candidate.

    ``ratio`` is candidate/baseline (geometric mean of paired ratios) with a bootstrap
    confidence interval; ``p_value`` from a paired permutation test on log-ratios and
    ``q_value`` after Benjamini-Hochberg across all patterns of the run. ``metric`` is what
    was judged (``cpu``: the engine process's CPU time, ``wall``: its wall time; records
    from before CPU time was measured are ``wall``), and ``baseline_ms``/``candidate_ms``
    are medians of it; ``other_ratio`` is the other metric's ratio over the same pairs,
    reported beside the verdict (None when that metric was not measured). ``memory`` is
    the pattern's peak-memory verdict over the same pairs (None when peak RSS was not
    measured per statement on every pair).
    """

    run_id: str
    candidate: str
    tenant: str
    pattern_id: str
    kind: str
    verdict: str
    ratio: float
    ci_low: float
    ci_high: float
    p_value: float
    q_value: float
    pairs: int
    baseline_ms: float
    candidate_ms: float
    baseline_spread: float = 0.0
    escalated: bool = False
    weight: float = 1.0
    metric: str = "wall"
    other_ratio: float | None = None
    memory: MemoryVerdict | None = None

    def __post_init__(self) -> None:
        if self.verdict not in PERF_VERDICTS:
            raise ValueError(f"unknown performance verdict {self.verdict!r}")

    @property
    def memory_verdict(self) -> str:
        """The memory verdict, "" when memory was not judged."""
        return self.memory.verdict if self.memory is not None else ""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PerfVerdict:
        memory = data.get("memory")
        if isinstance(memory, dict):
            data = {**data, "memory": MemoryVerdict(**memory)}
        return cls(**data)
