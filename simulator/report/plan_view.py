"""Plan changes for the report: per candidate and pattern, whether the candidate planned
the pattern as the baseline did (:mod:`simulator.compare.plans`), shown next to the
pattern's performance verdicts. Shapes hold sanitized operator names only, so their diff
carries no customer value and is shown."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from simulator.compare.plans import PlanChange, plan_changes
from simulator.results.reader import RunData


@dataclass
class PlanView:
    """``status`` per (candidate, pattern_id): ``same`` / ``changed`` / ``unknown`` /
    ``other engine`` (baseline and candidate use different adapters, so their plans are
    not comparable); ``changed`` lists the changed patterns with their diffs."""

    status: dict[tuple[str, str], str] = field(default_factory=dict)
    changed: list[dict[str, Any]] = field(default_factory=list)
    captured: bool = False

    def of(self, candidate: str, pattern_id: str) -> str:
        """The plan status of a pattern for a candidate ('' when no plan was captured)."""
        return self.status.get((candidate, pattern_id), "")


def plan_view(data: RunData) -> PlanView:
    """Plan statuses and changed plans of every candidate of ``data``."""
    view = PlanView(captured=bool(data.plans))
    if not data.plans:
        return view
    base_adapter = str(data.engines.get(data.baseline, {}).get("adapter") or "")
    perf = {(p.candidate, p.pattern_id): p.verdict for p in data.perf}
    load = {(v.candidate, v.pattern_id): v.verdict for v in data.load}
    for c in data.candidates:
        comparable = str(data.engines.get(c, {}).get("adapter") or "") == base_adapter
        changes: dict[str, PlanChange] = plan_changes(data.plans, data.baseline, c)
        for pattern, change in changes.items():
            view.status[(c, pattern)] = change.status if comparable else "other engine"
            if comparable and change.status == "changed":
                view.changed.append(
                    {
                        "candidate": c,
                        "pattern_id": pattern,
                        "diff": change.diff,
                        "perf": perf.get((c, pattern), ""),
                        "load": load.get((c, pattern), ""),
                    }
                )
    return view
