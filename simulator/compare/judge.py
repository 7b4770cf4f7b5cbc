"""The per-query verdict: ``judge_query`` puts every comparison together.

Precedence (the first rule that applies decides; the evidence keeps what the others saw):

1. no baseline execution, or either side ``skipped``: ``skipped`` with the reason (SQL the
   engine cannot run, found when the statements were prepared: ``unsupported_on_target``);
   either side ``harness_error`` (qsim itself could not carry or checksum the result):
   ``harness_error``, the reason naming the side and the message its Arrow type;
2. errors: both failed with the same error class: ``both_error``; both failed differently:
   ``both_error`` with reason ``different_error_classes``; the candidate timed out while the
   baseline succeeded: ``timeout``; the candidate failed or crashed: ``candidate_error``
   (reason ``translation_suspect`` for a parse/binder failure on SQL rendered for the
   candidate's dialect only, ``compare/translation.py``);
   only the baseline failed: ``baseline_error``;
3. the candidate's reported affected-row count disagrees with what landed:
   ``write_mismatch`` / ``reported_count_mismatch``, even when the baseline agrees with the
   candidate (the same check on the baseline is reported as
   ``baseline_reported_count_mismatch`` evidence);
4. the baseline disagrees with itself over its repeated runs: ``nondeterministic``;
5. a written table's post-state differs: ``write_mismatch``;
6. the result differs: ``result_mismatch``;
7. a mismatch in 5-6 on a query the workload marked nondeterministic (rand, now, approx_*,
   TABLESAMPLE...), as far as the columns and rows that nondeterminism reaches explain it:
   ``nondeterministic``, or ``estimate_changed`` for approximate aggregates that agree over
   the baseline's runs (``compare/nondeterminism.py``);
8. equal values under column names the engine derives (unaliased expressions) that differ:
   ``cosmetic_difference`` / ``derived_column_name``;
9. otherwise ``match``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from simulator.compare.determinism import baseline_consistency
from simulator.compare.diff_sample import diff_sample, is_sub_multiset
from simulator.compare.facts import QueryFacts
from simulator.compare.nondeterminism import excuse
from simulator.compare.results import Outcome, compare_results
from simulator.compare.translation import parse_or_bind_failure
from simulator.compare.writes import compare_writes, reported_count_problem
from simulator.config import CompareSection
from simulator.results.execution import Execution, Phase
from simulator.results.verdicts import COSMETIC_DIFFERENCE, TRANSLATION_SUSPECT, Verdict
from simulator.workload.unsupported import UNSUPPORTED_PREFIX


def _side(execution: Execution) -> dict[str, Any]:
    side: dict[str, Any] = {
        "engine": execution.engine,
        "engine_version": execution.engine_version,
        "status": execution.status,
        "wall_ms": execution.wall_ms,
        "rows_returned": execution.rows_returned,
        "rows_affected": execution.rows_affected,
    }
    if execution.status != "ok":
        side["error_class"] = _error_class(execution)
        side["error_message"] = execution.error_message
    if execution.result:
        side["row_count"] = execution.result.get("row_count")
        side["multiset"] = execution.result.get("multiset")
    if execution.writes:
        side["writes"] = {
            table: {"row_count": state.row_count, "checksum": state.checksum}
            for table, state in execution.writes.items()
        }
    if execution.fault:
        side["fault"] = execution.fault
    return side


def _error_class(execution: Execution) -> str:
    """The class of a failure: the engine's error class, else the status (timeout, crash)."""
    return execution.error_class or execution.status


def _errors(baseline: Execution, candidate: Execution, translated: bool) -> Outcome | None:
    for side, execution in (("candidate", candidate), ("baseline", baseline)):
        if execution.status == "harness_error":
            reason = f"{side}: {execution.error_class}: {execution.error_message}"
            return Outcome("harness_error", reason)
    base_ok, cand_ok = baseline.status == "ok", candidate.status == "ok"
    if base_ok and cand_ok:
        return None
    if not base_ok and not cand_ok:
        same = _error_class(baseline) == _error_class(candidate)
        return Outcome("both_error", "" if same else "different_error_classes")
    if base_ok and candidate.status == "timeout":
        return Outcome("timeout", "candidate timed out; the baseline succeeded")
    if base_ok:
        error_class = _error_class(candidate)
        if translated and parse_or_bind_failure(error_class, candidate.error_message):
            return Outcome(
                "candidate_error",
                TRANSLATION_SUSPECT,
                {"translation_suspect": {"error_class": error_class}},
            )
        return Outcome("candidate_error", error_class)
    return Outcome("baseline_error", _error_class(baseline))


def _subset_check(candidate: Execution, unlimited: Execution | None, outcome: Outcome) -> None:
    """Strengthen a LIMIT-without-total-order match into a check that the candidate's rows
    are a sub-multiset of the baseline's unlimited result (its row hashes); say why not
    when it cannot run."""
    why = ""
    if unlimited is None:
        why = "no unlimited baseline result"
    elif unlimited.status != "ok":
        why = f"unlimited baseline failed: {_error_class(unlimited)}"
    elif not unlimited.result_path:
        why = "unlimited result too large"
    elif not candidate.result_path:
        why = "candidate rows not kept (result too large)"
    if why:
        outcome.evidence["subset_check"] = f"not verified: {why}"
        return
    assert unlimited is not None
    if is_sub_multiset(candidate.result_path, unlimited.result_path):
        outcome.evidence["compared"] = "row_count_schema_and_subset_of_unlimited"
        return
    outcome.verdict = "result_mismatch"
    outcome.reason = "limited_rows_not_in_unlimited_result"


def _compare_ok(
    query: QueryFacts,
    baseline_runs: Sequence[Execution],
    candidate: Execution,
    cfg: CompareSection,
    evidence: dict[str, Any],
    unlimited: Execution | None,
) -> Outcome:
    baseline = baseline_runs[0]
    candidate_count = reported_count_problem(query, candidate)
    baseline_count = reported_count_problem(query, baseline)
    if baseline_count:
        evidence["baseline_reported_count_mismatch"] = baseline_count
    # Compared before the count verdict so its evidence names the lost partitions too.
    writes = compare_writes(query, baseline, candidate)
    evidence.update(writes.evidence)
    if candidate_count:
        evidence["reported_count_mismatch"] = candidate_count
        return Outcome("write_mismatch", "reported_count_mismatch")
    unstable = baseline_consistency(query, baseline_runs, cfg)
    if unstable is not None:
        return unstable
    results = compare_results(query, baseline, candidate, cfg)
    evidence.update(results.evidence)
    if results.reason in ("limit_without_order_by", "limit_without_total_order"):
        _subset_check(candidate, unlimited, results)
    outcome = writes if writes.verdict == "write_mismatch" else results
    if writes.verdict == "skipped" and results.verdict == "match":
        outcome = writes
    if outcome.verdict in ("write_mismatch", "result_mismatch"):
        return excuse(query, outcome, evidence, baseline_runs, candidate)
    if outcome is results and outcome.verdict == "match" and "derived_column_names" in evidence:
        return Outcome(COSMETIC_DIFFERENCE, "derived_column_name")
    return outcome


def judge_query(
    query: QueryFacts,
    baseline_runs: Sequence[Execution],
    candidate: Execution,
    cfg: CompareSection,
    candidate_name: str,
    run_id: str,
    *,
    unlimited_baseline: Execution | None = None,
    diff_sample_rows: int = 0,
    translated: bool = False,
) -> Verdict:
    """The correctness verdict of ``candidate`` against the baseline runs of one query.

    ``baseline_runs`` are the baseline's executions in order (the first is the reference,
    the others the determinism repeats; a run of phase ``unlimited`` among them is taken as
    ``unlimited_baseline``). ``unlimited_baseline`` optionally holds the baseline's run of
    the query without its LIMIT (rows or row hashes), for a subset check. With
    ``diff_sample_rows`` > 0 and both result files kept, a result mismatch carries a sample
    of differing rows (customer values) in ``evidence["diff_sample"]``. ``translated`` says
    the candidate was sent SQL text other than the baseline's (rendered for its dialect):
    a parse or binder failure on it is then a ``translation_suspect``.
    Refuses nothing: every engine outcome becomes a verdict.
    """
    unlimited_baseline = unlimited_baseline or next(
        (r for r in baseline_runs if r.phase == Phase.UNLIMITED), None
    )
    baseline_runs = [r for r in baseline_runs if r.phase != Phase.UNLIMITED]
    evidence: dict[str, Any] = {"candidate": _side(candidate)}
    if baseline_runs:
        evidence["baseline"] = _side(baseline_runs[0])
        evidence["baseline_runs"] = len(baseline_runs)
    if query.nondeterministic:
        evidence["static_nondeterminism"] = list(query.nondeterministic)

    def verdict(outcome: Outcome) -> Verdict:
        return Verdict(
            run_id=run_id,
            candidate=candidate_name,
            tenant=query.tenant,
            query_id=query.query_id,
            pattern_id=query.pattern_id,
            kind=query.kind,
            verdict=outcome.verdict,
            reason=outcome.reason,
            evidence={**evidence, **outcome.evidence},
            weight=query.weight,
            baseline_from_bank=bool(baseline_runs) and baseline_runs[0].from_bank,
        )

    if not baseline_runs:
        return verdict(Outcome("skipped", "no baseline execution"))
    baseline = baseline_runs[0]
    for side, execution in (("candidate", candidate), ("baseline", baseline)):
        if execution.status == "skipped":
            why = execution.error_message or "skipped"
            if why.startswith(UNSUPPORTED_PREFIX):
                gap = {"side": side, "detail": why.split(":", 1)[1].strip()}
                return verdict(Outcome("skipped", UNSUPPORTED_PREFIX, {UNSUPPORTED_PREFIX: gap}))
            return verdict(Outcome("skipped", f"{side}: {why}"))
    failed = _errors(baseline, candidate, translated)
    if failed is not None:
        return verdict(failed)
    outcome = _compare_ok(query, baseline_runs, candidate, cfg, evidence, unlimited_baseline)
    if (
        outcome.verdict == "result_mismatch"
        and diff_sample_rows > 0
        and baseline.result_path
        and candidate.result_path
    ):
        sample = diff_sample(baseline.result_path, candidate.result_path, diff_sample_rows)
        evidence["diff_sample"] = sample.to_dict()
    return verdict(outcome)
