"""A busy machine on demand: processes that keep CPU cores busy while a block runs.

Used to prove that the performance verdicts hold when other work competes for the cores
(tests/scenarios/test_busy_machine.py, benchmarks/bench_perf_sensitivity.py). Each burner
is a plain Python busy loop in its own process, at normal priority, stopped (by its own
process handle) when the block ends, even on an error.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator

BURN = "while True:\n    pass\n"


@contextlib.contextmanager
def busy_cores(count: int | None = None) -> Iterator[list[int]]:
    """Keep ``count`` cores (default: every core) busy for the block; yields the burners'
    process ids. Refuses (ValueError) a negative count."""
    count = (os.cpu_count() or 1) if count is None else count
    if count < 0:
        raise ValueError(f"count must not be negative, got {count}")
    burners = [
        subprocess.Popen([sys.executable, "-c", BURN], stdin=subprocess.DEVNULL)
        for _ in range(count)
    ]
    try:
        yield [b.pid for b in burners]
    finally:
        for burner in burners:
            burner.kill()
        for burner in burners:
            burner.wait()
