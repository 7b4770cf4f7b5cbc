"""The exit codes of a run and of the gate, and the one rule that picks between them.

The runner's exit code (``qsim run``) and the nightly gate's (``qsim nightly``,
``qsim report --gate``) differ only in what counts as failing: the runner counts every
correctness regression (and, with ``report.gate_perf``, every regressed pattern), the gate
only unaccepted new ones (see :mod:`simulator.report.gate`). Both then apply
:func:`exit_code`.
"""

from __future__ import annotations

EXIT_PASS = 0
EXIT_REGRESSION = 1
EXIT_INCOMPLETE = 2  # nothing can be concluded from a partial run (also: bad input)
EXIT_INTERRUPTED = 130  # Ctrl-C or SIGTERM: the run stopped cleanly and can be resumed


def exit_code(*, failing: bool, complete: bool = True) -> int:
    """2 when the run did not complete, else 1 when something fails, else 0."""
    if not complete:
        return EXIT_INCOMPLETE
    return EXIT_REGRESSION if failing else EXIT_PASS
