"""The comparison under load: false alarms controlled, a typical and a tail-only slowdown
found, too few samples insufficient, banked baselines and errors handled."""

from __future__ import annotations

import numpy as np

from simulator.compare.load import QueryPattern, binomial_two_sided, compare_under_load
from simulator.config import LoadSection
from simulator.results.execution import Execution, Phase, Status

SETTINGS = LoadSection()


def _execution(engine: str, query_id: str, ms: float, **fields: object) -> Execution:
    return Execution(
        execution_id=Execution.make_id(Phase.LOAD, engine, "t01", query_id),
        run_id="r",
        engine=engine,
        tenant="t01",
        query_id=query_id,
        phase=Phase.LOAD,
        wall_ms=ms,
        started_at=1000.0,
        finished_at=1000.0 + ms / 1000,
        **fields,  # type: ignore[arg-type]
    )


def _workload(
    patterns: int, per_pattern: int, slow: dict[str, np.ndarray] | None = None, seed: int = 0
) -> tuple[list[Execution], dict[tuple[str, str], QueryPattern]]:
    """Both engines draw from the same lognormal latency (spread like a loaded machine);
    ``slow`` multiplies the candidate's samples of a pattern."""
    rng = np.random.default_rng(seed)
    executions, mapping = [], {}
    for p in range(patterns):
        pattern = f"p{p:02d}"
        base = rng.lognormal(np.log(5.0), 0.5, per_pattern)
        cand = rng.lognormal(np.log(5.0), 0.5, per_pattern)
        if slow and pattern in slow:
            cand = cand * slow[pattern]
        for i in range(per_pattern):
            query_id = f"{pattern}-q{i}"
            mapping[("t01", query_id)] = QueryPattern(pattern, "select")
            executions += [
                _execution("base", query_id, base[i]),
                _execution("cand", query_id, cand[i]),
            ]
    return executions, mapping


def _judge(executions: list[Execution], mapping: dict, settings: LoadSection = SETTINGS):
    verdicts = compare_under_load(
        executions, mapping, settings, run_id="r", baseline="base", candidate="cand"
    )
    return {v.pattern_id: v for v in verdicts}


def test_identical_engines_raise_no_alarm_over_many_patterns() -> None:
    alarms = 0
    for seed in range(3):
        verdicts = _judge(*_workload(40, 12, seed=seed))
        alarms += sum(v.verdict in ("regressed", "improved") for v in verdicts.values())
        assert len(verdicts) == 41 and verdicts[""].samples == 480
    assert alarms == 0


def test_a_typical_slowdown_is_regressed_on_that_pattern_only() -> None:
    executions, mapping = _workload(20, 12, slow={"p03": np.full(12, 3.0)}, seed=4)
    verdicts = _judge(executions, mapping)
    assert verdicts["p03"].verdict == "regressed" and verdicts["p03"].reason == "typical"
    assert 2.0 < verdicts["p03"].ratio < 4.5
    assert verdicts["p03"].quantiles["p50"].ratio > 1.4
    others = [v for k, v in verdicts.items() if k not in ("p03", "")]
    assert not [v for v in others if v.verdict in ("regressed", "improved")]


def test_a_tail_only_slowdown_is_found_by_the_p95_test() -> None:
    factor = np.ones(80)
    factor[::5] = 8.0  # one query in five is 8x slower: the median barely moves
    executions, mapping = _workload(3, 80, slow={"p01": factor}, seed=1)
    verdicts = _judge(executions, mapping)
    slow = verdicts["p01"]
    assert slow.verdict == "regressed" and slow.reason == "tail", slow
    assert slow.quantiles["p95"].ratio > 2.0 and slow.quantiles["p50"].ratio < 1.25
    assert slow.tail_q_value is not None and slow.tail_q_value <= SETTINGS.compare_alpha
    assert verdicts["p00"].verdict not in ("regressed", "improved")


def test_patterns_with_too_few_samples_are_insufficient_not_findings() -> None:
    executions, mapping = _workload(2, 5, slow={"p00": np.full(5, 5.0)})
    verdicts = _judge(executions, mapping)
    assert verdicts["p00"].verdict == "insufficient" and verdicts["p00"].q_value is None
    assert verdicts["p00"].quantiles["p50"].ratio > 3  # still shown, not judged
    assert verdicts[""].samples == 10 and verdicts[""].verdict != "insufficient"


def test_banked_baselines_and_failures_are_not_latency_samples_but_errors_count() -> None:
    executions, mapping = _workload(1, 12)
    by_query = {}
    for e in executions:
        by_query.setdefault(e.query_id, {})[e.engine] = e
    queries = sorted(by_query)
    by_query[queries[0]]["base"].from_bank = True
    for q in queries[1:7]:
        by_query[q]["cand"].status = Status.TIMEOUT
    verdicts = _judge(executions, mapping)
    whole = verdicts[""]
    assert whole.samples == 5  # 12 - 1 banked - 6 failed
    assert (whole.baseline_errors, whole.candidate_errors) == (0, 6)
    assert whole.errors_p_value == binomial_two_sided(6, 6) == 2 / 64
    assert whole.baseline_throughput is not None and whole.baseline_throughput > 0


def test_binomial_two_sided_is_exact() -> None:
    assert binomial_two_sided(0, 0) == 1.0
    assert binomial_two_sided(5, 10) == 1.0
    assert abs(binomial_two_sided(0, 10) - 2 / 1024) < 1e-12
