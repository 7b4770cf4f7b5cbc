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
class PerfVerdict:
    """Performance verdict for one pattern of one tenant against one candidate.

    ``ratio`` is candidate/baseline (geometric mean of paired ratios) with a bootstrap
    confidence interval; ``p_value`` from a paired permutation test on log-ratios and
    ``q_value`` after Benjamini-Hochberg across all patterns of the run. ``metric`` is what
    was judged (``cpu``: the engine process's CPU time, ``wall``: its wall time; records
    from before CPU time was measured are ``wall``), and ``baseline_ms``/``candidate_ms``
    are medians of it; ``other_ratio`` is the other metric's ratio over the same pairs,
    reported beside the verdict (None when that metric was not measured).
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

    def __post_init__(self) -> None:
        if self.verdict not in PERF_VERDICTS:
            raise ValueError(f"unknown performance verdict {self.verdict!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PerfVerdict:
        return cls(**data)
