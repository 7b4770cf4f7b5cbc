"""Plan shapes, as recorded: one :class:`PlanRecord` per engine and pattern in
``plans.jsonl`` of a run folder (:mod:`simulator.compare.plans` makes them)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

# ok: a shape was captured; unavailable: the adapter has no plans or the statement was not
# planned (skipped, DDL); error: the engine refused to plan it (error_class says why).
PLAN_STATUSES = ("ok", "unavailable", "error")


@dataclass
class PlanRecord:
    """The plan shape of one pattern on one engine, from one sample query of it.

    ``shape`` is the normalized operator tree, one operator a line indented by depth, with
    nothing but sanitized operator names (no literals, costs, estimates or addresses), and
    ``shape_hash`` its hash; ``operators`` the distinct operator names in plan order.
    """

    run_id: str
    engine: str
    pattern_id: str
    tenant: str
    query_id: str
    status: str
    shape: str = ""
    shape_hash: str = ""
    operators: list[str] = field(default_factory=list)
    error_class: str = ""

    def __post_init__(self) -> None:
        if self.status not in PLAN_STATUSES:
            raise ValueError(f"unknown plan status {self.status!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PlanRecord:
        return cls(**data)
