"""Run every benchmark in turn, each in its own process with its default arguments:
``python -m benchmarks`` (``make bench``), or name some: ``python -m benchmarks checksum runner``.

Each script prints its figures next to the reference it measured in the same run; record
them in benchmarks/RESULTS.md with the command that made them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

AREAS = (
    "checksum",
    "datasets",
    "workload",
    "engines",
    "resources",
    "compare",
    "runner",
    "report",
    "selftest",
    "write_cost",
    "cluster",
    "load_aa",
    "session_start",
)


def main(argv: list[str]) -> int:
    """Run the named benchmark areas (all by default); returns the first failing exit code."""
    here = Path(__file__).parent
    areas = argv or [a for a in AREAS if (here / f"bench_{a}.py").exists()]
    unknown = [a for a in areas if a not in AREAS]
    if unknown:
        print(f"benchmarks: unknown area {unknown[0]!r} (known: {', '.join(AREAS)})")
        return 2
    for area in areas:
        print(f"== {area} ==", flush=True)
        code = subprocess.call([sys.executable, "-m", f"benchmarks.bench_{area}"])
        if code:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
