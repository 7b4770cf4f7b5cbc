"""The exit codes of a run and of the gate, and the one rule that picks between them.

Which query verdicts fail is one rule, :func:`failing_verdicts`. The runner's exit code
(``qsim run``) and the nightly gate's (``qsim nightly``, ``qsim report --gate``) differ
only in which findings count: the runner counts every failing verdict (and, with
``report.gate_perf``, every regressed pattern), the gate only unaccepted new ones (see
:mod:`simulator.report.gate`). Both then apply :func:`exit_code`.
"""

from __future__ import annotations

from simulator.config import ReportSection
from simulator.results.verdicts import (
    COSMETIC_DIFFERENCE,
    ESTIMATE_CHANGED,
    HARNESS_ERROR,
    REGRESSION_VERDICTS,
)

EXIT_PASS = 0
EXIT_REGRESSION = 1
EXIT_INCOMPLETE = 2  # nothing can be concluded from a partial run (also: bad input)
EXIT_INTERRUPTED = 130  # Ctrl-C or SIGTERM: the run stopped cleanly and can be resumed


def failing_verdicts(settings: ReportSection) -> frozenset[str]:
    """The query verdicts that fail a run and the gate: every correctness regression; a
    ``harness_error`` unless ``report.gate_harness_errors = false`` (qsim could not judge,
    so it must not pass silently); ``cosmetic_difference`` with ``report.gate_cosmetic``
    and ``estimate_changed`` with ``report.gate_estimates`` (both off by default)."""
    failing = set(REGRESSION_VERDICTS)
    for verdict, on in (
        (HARNESS_ERROR, settings.gate_harness_errors),
        (COSMETIC_DIFFERENCE, settings.gate_cosmetic),
        (ESTIMATE_CHANGED, settings.gate_estimates),
    ):
        if on:
            failing.add(verdict)
    return frozenset(failing)


def exit_code(*, failing: bool, complete: bool = True) -> int:
    """2 when the run did not complete, else 1 when something fails, else 0."""
    if not complete:
        return EXIT_INCOMPLETE
    return EXIT_REGRESSION if failing else EXIT_PASS
