"""Synthetic multi-tenant query logs (Trino dialect) for the demo world of the dataset
generations: tables ``events`` (partitioned by ``day``), ``customers``, ``products`` and
``orders`` in every tenant's own namespace, referenced unqualified.

Per tenant the mix is: dashboards (a refresh runs the same few panels with the same date
literals, every few minutes), ad-hoc exploration (joins, CTEs, window frames, UNNEST,
lambdas, JSON, regexp, string and date functions, decimal casts, integer division,
approx_distinct, TABLESAMPLE, now(), rand(), LIMIT with and without ORDER BY, ORDER BY
with ties) and ETL pipelines (DROP IF EXISTS + CTAS of a staging table, INSERT of a day
partition or UPDATE, DELETE, then a SELECT on the result), each pipeline's statements
tagged with one ``pipeline`` id and issued in order. Arrival times follow a daily cycle
with bursts; tenant volumes are skewed (tenant i gets weight i**-1.3).

The log is JSON Lines in the fields ``qsim workload ingest`` reads by default. The same
(world, rows, seed) gives byte-identical output.
"""

from __future__ import annotations

import json
import math
import random
import re
from collections import deque
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from simulator.datasets import synthetic as world_data
from simulator.errors import WorkloadError
from simulator.progress import progress
from simulator.workload.synth_templates import (
    ADHOC,
    DASHBOARDS,
    EVENTS_REWRITE,
    PIPELINES,
    dashboard_params,
)
from simulator.workload.timestamps import iso_utc

DEFAULT_FIRST_DAY = world_data.EVENT_START.date().isoformat()
DEFAULT_DAYS = world_data.MAX_EVENT_DAYS
TENANT_SKEW = world_data.TENANT_SKEW
_DAY_PARTITION = re.compile(r"^day=(\d{4}-\d{2}-\d{2})$")
WORLD_TABLES = world_data.TABLES


@dataclass(frozen=True)
class SynthResult:
    """What ``synthesize_log`` wrote."""

    path: Path
    rows: int
    tenants: list[str]
    days: list[str]
    pipelines: int


@dataclass(frozen=True)
class _World:
    tenants: list[str]
    tables: dict[str, set[str]]
    days: list[str]
    # Each tenant's own event days: a literal drawn from them finds rows (a small tenant's
    # events span fewer days than the world's), so its queries return something to compare.
    tenant_days: dict[str, list[str]]

    def days_of(self, tenant: str) -> list[str]:
        return self.tenant_days.get(tenant) or self.days


# Activity mix: share of log rows (pipelines and dashboards emit several statements).
_MIX = (("dashboard", 0.17), ("adhoc", 0.30), ("pipeline", 0.03))
_DURATION_MS = {"dashboard": (4.0, 0.8), "adhoc": (5.5, 1.2), "pipeline": (6.5, 1.0)}


def world_from_generation(generation: Any) -> tuple[list[str], dict[str, set[str]], list[str]]:
    """Tenants, tables per tenant and ``day`` partitions of a dataset generation (anything
    with ``tenants()``, ``tables(tenant)`` and a ``manifest`` dict in the datasets layout)."""
    tenants = list(generation.tenants())
    tables = {t: set(generation.tables(t)) for t in tenants}
    found = {day for days in days_by_tenant(generation).values() for day in days}
    return tenants, tables, sorted(found)


def days_by_tenant(generation: Any) -> dict[str, list[str]]:
    """Each tenant's ``day`` partitions of its events table, sorted."""
    days: dict[str, list[str]] = {}
    for tenant, tenant_tables in generation.manifest.get("tenants", {}).items():
        keys = tenant_tables.get("events", {}).get("partitions", {})
        matches = (_DAY_PARTITION.match(key) for key in keys)
        days[tenant] = sorted(match.group(1) for match in matches if match)
    return days


def default_days(first_day: str = DEFAULT_FIRST_DAY, count: int = DEFAULT_DAYS) -> list[str]:
    """``count`` consecutive ``YYYY-MM-DD`` days starting at ``first_day``."""
    start = date.fromisoformat(first_day)
    return [(start + timedelta(days=i)).isoformat() for i in range(count)]


def synthesize_log(
    generation: Any | None,
    rows: int,
    seed: int,
    out: str | Path,
    tenants: int | list[str] | None = None,
    days: list[str] | None = None,
    large_writes: bool = False,
) -> SynthResult:
    """Write a synthetic Trino-dialect JSONL query log of exactly ``rows`` rows to ``out``.

    The world (tenants, tables, days) comes from ``generation`` when given, else from
    ``tenants`` (a count or ids) and ``days`` (default: 31 days from 2024-03-01). With
    ``large_writes`` every tenant with events starts with one ``events_rewrite`` pipeline
    (written tables as large as its events) and half its later pipelines are one, so a
    sample keeps it like the other pipelines; without it the log is unchanged. Raises
    WorkloadError for a non-positive row count, no tenants or no days.
    """
    if rows < 1:
        raise WorkloadError(f"synth rows must be at least 1, got {rows}")
    world = _world(generation, tenants, days)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    minute_counts, start = _arrivals(world.days, rows, seed)
    weights = [(i + 1) ** -TENANT_SKEW for i in range(len(world.tenants))]
    cumulative = list(np.cumsum(weights) / sum(weights))
    queues: dict[str, deque[tuple[str, str, str]]] = {t: deque() for t in world.tenants}
    pipelines = 0
    if large_writes:
        for tenant in world.tenants:
            if EVENTS_REWRITE[1] <= world.tables[tenant]:
                pipelines += _queue_pipeline(rng, world, tenant, queues[tenant], pipelines)
    written = 0
    tmp = out.with_name(f".{out.name}.tmp")
    with tmp.open("w", encoding="utf-8") as handle, progress(rows, "synth") as bar:
        for minute, count in enumerate(minute_counts.tolist()):
            if not count:
                continue
            offsets = sorted(rng.random() * 60 for _ in range(count))
            for offset in offsets:
                tenant = world.tenants[_bisect(cumulative, rng.random())]
                queue = queues[tenant]
                if not queue:
                    pipelines += _plan(rng, world, tenant, queue, pipelines, large_writes)
                activity, sql, pipeline = queue.popleft()
                mu, sigma = _DURATION_MS[activity]
                record = {
                    "query_id": f"q{written + 1:09d}",
                    "tenant": tenant,
                    "submitted_at": iso_utc(start + minute * 60 + offset),
                    "sql": sql,
                    "dialect": "trino",
                    "duration_ms": round(rng.lognormvariate(mu, sigma), 3),
                    "user": f"{tenant}-{activity}",
                    "source": _SOURCES[activity],
                    "status": "FINISHED",
                    "pipeline": pipeline,
                }
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
                written += 1
            bar.update(count)
    tmp.replace(out)
    return SynthResult(out, written, world.tenants, world.days, pipelines)


_SOURCES = {"dashboard": "superset", "adhoc": "trino-cli", "pipeline": "airflow"}


def _world(
    generation: Any | None, tenants: int | list[str] | None, days: list[str] | None
) -> _World:
    tenant_days: dict[str, list[str]] = {}
    if generation is not None:
        ids, tables, found_days = world_from_generation(generation)
        if not days:
            tenant_days = days_by_tenant(generation)
        days = days or found_days or default_days()
    else:
        if tenants is None:
            tenants = 8
        ids = [f"t{i:02d}" for i in range(1, tenants + 1)] if isinstance(tenants, int) else tenants
        tables = {t: set(WORLD_TABLES) for t in ids}
        days = days or default_days()
    if not ids:
        raise WorkloadError("synth: the world has no tenants")
    if not days:
        raise WorkloadError("synth: the world has no days")
    for day in days:
        try:
            date.fromisoformat(day)
        except ValueError:
            raise WorkloadError(f"synth: day {day!r} is not YYYY-MM-DD") from None
    return _World(list(ids), tables, sorted(days), tenant_days)


def _arrivals(days: list[str], rows: int, seed: int) -> tuple[np.ndarray, float]:
    """Queries per minute over the log period: a daily cycle peaking at 14:00 UTC, with
    random burst minutes, drawn as one multinomial so the total is exactly ``rows``."""
    first = datetime.fromisoformat(days[0]).replace(tzinfo=UTC).timestamp()
    last = datetime.fromisoformat(days[-1]).replace(tzinfo=UTC).timestamp() + 86400
    minutes = int((last - first) // 60)
    np_rng = np.random.default_rng(seed)
    hour = (np.arange(minutes) % 1440) / 60.0
    cycle = 0.15 + np.exp(-(((hour - 14.0) / 4.0) ** 2))
    bursts = np.where(np_rng.random(minutes) < 0.01, 8.0, 1.0)
    weights = cycle * bursts
    return np_rng.multinomial(rows, weights / weights.sum()), first


def _bisect(cumulative: list[float], value: float) -> int:
    lo, hi = 0, len(cumulative) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if cumulative[mid] < value:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _queue_pipeline(
    rng: random.Random,
    world: _World,
    tenant: str,
    queue: deque[tuple[str, str, str]],
    pipelines: int,
    template: tuple[str, set[str], list[str], Any] = EVENTS_REWRITE,
) -> int:
    """Queue one instance of the pipeline ``template`` for ``tenant``; returns 1."""
    name, _, statements, draw = template
    params = draw(rng, world.days_of(tenant))
    pipeline = f"{name}-{pipelines + 1:06d}"
    for statement in statements:
        queue.append(("pipeline", statement.format(**params), pipeline))
    return 1


def _plan(
    rng: random.Random,
    world: _World,
    tenant: str,
    queue: deque[tuple[str, str, str]],
    pipelines: int,
    large_writes: bool = False,
) -> int:
    """Queue the tenant's next activity; returns 1 if it is a pipeline, else 0. With
    ``large_writes`` half the pipelines are ``events_rewrite``."""
    tables = world.tables[tenant]
    pick = rng.random() * sum(share for _, share in _MIX)
    activity = "adhoc"
    for name, share in _MIX:
        if pick < share:
            activity = name
            break
        pick -= share
    if activity == "pipeline":
        options = [p for p in PIPELINES if p[1] <= tables]
        if large_writes and EVENTS_REWRITE[1] <= tables:
            options += [EVENTS_REWRITE] * len(options)
        if options:
            return _queue_pipeline(rng, world, tenant, queue, pipelines, rng.choice(options))
        activity = "adhoc"
    if activity == "dashboard":
        options_d = [d for d in DASHBOARDS if d[1] <= tables]
        if options_d:
            _, _, panels = rng.choice(options_d)
            params = dashboard_params(rng, world.days_of(tenant))
            for panel in panels:
                queue.append(("dashboard", panel.format(**params), ""))
            return 0
    options_a = [a for a in ADHOC if a[1] <= tables]
    if not options_a:
        raise WorkloadError(f"synth: tenant {tenant} has none of the tables {WORLD_TABLES}")
    template, _, draw = options_a[math.floor(rng.random() * len(options_a))]
    queue.append(("adhoc", template.format(**draw(rng, world.days_of(tenant))), ""))
    return 0
