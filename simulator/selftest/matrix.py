"""The detection matrix: one row per injected fault (or none), the verdict qsim is expected
to give, what it gave, over how many runs, and whether that is a pass."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Detection:
    """One row: ``fault`` injected, ``expected`` verdict, ``seen`` in ``runs`` runs."""

    fault: str
    expected: str
    seen: str
    runs: int
    ok: bool


HEADER = ("fault", "expected", "seen", "runs", "result")


def render(rows: list[Detection]) -> str:
    """The matrix as aligned text, one line per row, PASS / FAIL in the last column."""
    table = [HEADER, *((r.fault, r.expected, r.seen, str(r.runs), _result(r)) for r in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADER))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in table
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _result(row: Detection) -> str:
    return "PASS" if row.ok else "FAIL"


def passed(rows: list[Detection]) -> bool:
    """True when every row passed (and there is at least one)."""
    return bool(rows) and all(r.ok for r in rows)
