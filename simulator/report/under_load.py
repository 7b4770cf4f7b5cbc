"""The report's "Under load" section: the comparison under load per candidate, apart from
the isolated performance verdicts (:mod:`simulator.compare.load`)."""

from __future__ import annotations

from typing import Any

from simulator.config import LoadSection
from simulator.results.load_verdicts import LOAD_VERDICTS, LoadVerdict
from simulator.results.reader import RunData

# Changes first, then what could not be decided, then the quiet rest.
_ORDER = {v: i for i, v in enumerate(LOAD_VERDICTS)}


def load_settings(data: RunData) -> LoadSection:
    """The run config's ``[load]`` comparison settings (defaults where absent or ill-typed)."""
    raw = data.config.get("load")
    raw = raw if isinstance(raw, dict) else {}
    values: dict[str, Any] = {}
    for name in (
        "compare_threshold",
        "compare_alpha",
        "compare_min_samples",
        "compare_tail_min_samples",
    ):
        default = getattr(LoadSection, name)
        value = raw.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            values[name] = type(default)(value)
    return LoadSection(**values)


def under_load_view(data: RunData) -> list[dict[str, Any]]:
    """Per candidate with load verdicts: ``workload`` (the whole-workload verdict),
    ``counts`` (patterns per verdict) and ``patterns`` (changed first, heaviest first)."""
    view = []
    for c in data.candidates:
        mine = [v for v in data.load if v.candidate == c]
        if not mine:
            continue
        patterns: list[LoadVerdict] = sorted(
            (v for v in mine if not v.whole_workload),
            key=lambda v: (_ORDER[v.verdict], -v.weight, v.pattern_id),
        )
        counts = {v: 0 for v in LOAD_VERDICTS}
        for v in patterns:
            counts[v.verdict] += 1
        view.append(
            {
                "candidate": c,
                "workload": next((v for v in mine if v.whole_workload), None),
                "counts": [(v, n) for v, n in counts.items() if n],
                "patterns": patterns,
            }
        )
    return view
