"""Transpilation gaps named (issue 17, point 3): SQL the target cannot run is skipped as
``unsupported_on_target``; a parse/binder failure on SQL rendered for the candidate only is
a ``candidate_error`` with reason ``translation_suspect``."""

from __future__ import annotations

import pyarrow as pa
import pytest
from compare_records import Query, execution

from simulator.compare.judge import judge_query
from simulator.compare.translation import parse_or_bind_failure
from simulator.config import CompareSection
from simulator.results.execution import Execution

ONE = pa.table({"n": [1]})


def _judge(candidate: Execution, *, translated: bool):
    return judge_query(
        Query(), [execution(ONE)], candidate, CompareSection(), "cand", "run", translated=translated
    )


@pytest.mark.parametrize(
    ("error_class", "message"),
    [
        ("OperationalError", "near \"'90'\": syntax error"),
        ("OperationalError", "no such function: EXTRACT"),
        ("Exception", "DataFusion error: Error during planning: Invalid function 'date'"),
        ("SyntaxError", "subquery in FROM must have an alias"),
        ("BinderException", 'Referenced column "L_ORDERKEY" not found'),
    ],
)
def test_parse_or_bind_failure_on_translated_sql_is_translation_suspect(error_class, message):
    cand = execution(engine="candidate", status="error", error_class=error_class)
    cand.error_message = message
    verdict = _judge(cand, translated=True)
    assert (verdict.verdict, verdict.reason) == ("candidate_error", "translation_suspect")
    assert verdict.evidence["translation_suspect"] == {"error_class": error_class}
    assert verdict.evidence["candidate"]["error_class"] == error_class


def test_same_sql_or_a_run_time_error_keeps_the_error_class():
    parse = execution(engine="candidate", status="error", error_class="ParserException")
    assert _judge(parse, translated=False).reason == "ParserException"
    runtime = execution(
        engine="candidate", status="error", error_class="OperationalError", error_message="x"
    )
    runtime.error_message = "integer overflow"
    assert _judge(runtime, translated=True).reason == "OperationalError"
    assert not parse_or_bind_failure("InvalidInputException", "Could not convert string")


def test_unsupported_on_target_is_a_named_skip():
    cand = execution(
        engine="candidate",
        status="skipped",
        error_message="unsupported_on_target: sqlite lacks INTERVAL arithmetic",
    )
    verdict = _judge(cand, translated=True)
    assert (verdict.verdict, verdict.reason) == ("skipped", "unsupported_on_target")
    assert verdict.evidence["unsupported_on_target"] == {
        "side": "candidate",
        "detail": "sqlite lacks INTERVAL arithmetic",
    }
    assert not verdict.is_regression
