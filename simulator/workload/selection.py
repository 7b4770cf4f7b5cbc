"""Selection of sampling units within a budget: the three steps of
:mod:`simulator.workload.sample`'s docstring, over groups of units that one tenant ran."""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np
import xxhash

from simulator.config import SampleSection

# The sampler's parameters are the [workload.sample] table itself: one owner of the defaults.
SampleParams = SampleSection


@dataclass
class Group:
    """A tenant's units of one shape (a pattern, or a pipeline's pattern sequence), the
    units that can still be drawn (``pool``) and how many were taken."""

    tenant: int
    kinds: frozenset[str]
    key: str
    units: int
    unit_rows: int
    cost_total: float
    pool: list[tuple[int, ...]] = field(default_factory=list)
    taken: int = 0

    def unit_cost(self, unit: tuple[int, ...], costs: np.ndarray, by_time: bool) -> float:
        """Engine time of ``unit`` when sampling by time, else its statement count."""
        return float(costs[list(unit)].sum()) if by_time else float(len(unit))


def select_units(
    groups: list[Group], costs: np.ndarray, params: SampleParams, by_time: bool
) -> dict[int, list[tuple[int, ...]]]:
    """Chosen units per group index, following the three steps of the module docstring."""
    budget = params.budget_ms if by_time else float(params.budget)
    chosen: dict[int, list[tuple[int, ...]]] = defaultdict(list)
    spent = 0.0

    def take(index: int) -> bool:
        nonlocal spent
        group = groups[index]
        if group.taken >= len(group.pool):
            return False
        unit = group.pool[group.taken]
        cost = group.unit_cost(unit, costs, by_time)
        if spent + cost > budget:
            return False
        spent += cost
        group.taken += 1
        chosen[index].append(unit)
        return True

    def size(index: int) -> float:
        return groups[index].cost_total if by_time else float(groups[index].units)

    tiebreak = {
        i: xxhash.xxh3_64_intdigest(f"{params.seed}:{g.tenant}:{g.key}".encode())
        for i, g in enumerate(groups)
    }
    # Tenants take turns: each tenant's biggest group, then each one's second biggest...,
    # so a small budget still reaches every tenant instead of the busiest few.
    by_size = sorted(range(len(groups)), key=lambda i: (-size(i), tiebreak[i]))
    turn: dict[int, int] = {}
    seen_per_tenant: Counter[int] = Counter()
    for index in by_size:
        turn[index] = seen_per_tenant[groups[index].tenant]
        seen_per_tenant[groups[index].tenant] += 1
    ranked = sorted(by_size, key=lambda i: (turn[i], -size(i), tiebreak[i]))
    best_of_kind: dict[tuple[int, str], int] = {}
    for index in ranked:
        for kind in sorted(groups[index].kinds):
            best_of_kind.setdefault((groups[index].tenant, kind), index)
    position = {index: rank for rank, index in enumerate(ranked)}
    for index in sorted(set(best_of_kind.values()), key=position.__getitem__):
        take(index)
    for index in ranked:
        if not chosen.get(index):
            take(index)
    heap = [
        (
            int(groups[i].taken >= params.diversity),
            -groups[i].units / groups[i].taken,
            tiebreak[i],
            i,
        )
        for i in chosen
        if groups[i].taken < len(groups[i].pool)
    ]
    heapq.heapify(heap)
    while heap and spent < budget:
        _, _, tie, index = heapq.heappop(heap)
        if not take(index):
            continue
        group = groups[index]
        if group.taken < len(group.pool):
            tier = int(group.taken >= params.diversity)
            heapq.heappush(heap, (tier, -group.units / group.taken, tie, index))
    return chosen
