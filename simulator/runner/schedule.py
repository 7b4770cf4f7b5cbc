"""Load models: which (tenant, engine) lane runs its next statement, and when.

A *lane* is one tenant's statements on one engine, run strictly in log order against that
engine's workspace for the tenant. Baseline and candidates are lanes over the same
statements with the same release times and the same limits, so every engine replays the
same schedule.

- Closed loop: ``concurrency`` sessions; whenever one finishes a statement the next ready
  lane starts at once.
- Open loop: a statement becomes ready at its log arrival time divided by
  ``time_compression`` (measured from the first arrival in the workload).

Both models cap executions in flight at ``concurrency`` globally and at
``per_tenant_concurrency`` per tenant (across that tenant's engines; 1 means a tenant's
engines take turns statement by statement). Among ready lanes, the one furthest behind
(by share of its statements done) goes first, so baseline and candidates advance together;
lanes equally far along go in an order drawn from ``seed`` per (tenant, statement), so no
engine always runs first at a step (an order bias a load comparison would read as a
change). The schedule has no other random part: :func:`schedule_digest` names it, and the
run records seed and digest in ``run.json`` (``load.schedule``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Lane:
    """One tenant's statements on one engine."""

    tenant: str
    engine: str


def release_offsets(
    submitted_at: dict[str, list[float]], time_compression: float
) -> dict[str, list[float]]:
    """Open-loop release times in seconds from the start, per tenant in log order."""
    firsts = [times[0] for times in submitted_at.values() if times]
    if not firsts:
        return {tenant: [] for tenant in submitted_at}
    origin = min(min(times) for times in submitted_at.values() if times)
    return {
        tenant: [max(0.0, (t - origin) / time_compression) for t in times]
        for tenant, times in submitted_at.items()
    }


def schedule_digest(
    lengths: dict[Lane, int], mode: str, release: dict[str, list[float]], seed: int
) -> str:
    """A hash of everything that decides the schedule (lanes, model, release times, seed):
    two runs with the same digest replayed the same schedule on every engine."""
    document = {
        "lanes": sorted([lane.tenant, lane.engine, n] for lane, n in lengths.items()),
        "mode": mode,
        "release": {t: [round(x, 6) for x in times] for t, times in sorted(release.items())}
        if mode == "open"
        else {},
        "seed": seed,
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:16]


def _tie_rank(seed: int, lane: Lane, position: int) -> int:
    """The seeded rank that orders lanes equally far along at one step."""
    key = f"{seed}|{lane.tenant}|{position}|{lane.engine}".encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big")


class LoadSchedule:
    """Decides which lane starts next under a load model; pure bookkeeping, no I/O."""

    def __init__(
        self,
        lengths: dict[Lane, int],
        *,
        mode: str = "closed",
        concurrency: int = 1,
        per_tenant_concurrency: int = 1,
        release: dict[str, list[float]] | None = None,
        start: dict[Lane, int] | None = None,
        seed: int = 0,
    ) -> None:
        if mode not in ("closed", "open"):
            raise ValueError(f"unknown load mode {mode!r}")
        if mode == "open" and release is None:
            raise ValueError("open loop needs release times")
        self.mode = mode
        self.seed = seed
        self.concurrency = concurrency
        self.per_tenant = per_tenant_concurrency
        self.lengths = dict(lengths)
        self.release = release or {}
        self.position = {lane: (start or {}).get(lane, 0) for lane in self.lengths}
        self.running: set[Lane] = set()
        self._tenant_running: dict[str, int] = {}
        self._order = sorted(self.lengths)
        self.digest = schedule_digest(self.lengths, mode, self.release, seed)

    def describe(self) -> dict[str, object]:
        """What ``run.json`` records of the schedule: model, seed and digest."""
        return {"mode": self.mode, "seed": self.seed, "digest": self.digest}

    def remaining(self) -> int:
        """Statements not yet finished over all lanes."""
        return sum(self.lengths[lane] - pos for lane, pos in self.position.items())

    def done(self) -> bool:
        """True when every lane has finished all its statements."""
        return all(pos >= self.lengths[lane] for lane, pos in self.position.items())

    def _release_at(self, lane: Lane) -> float:
        if self.mode == "closed":
            return 0.0
        return self.release[lane.tenant][self.position[lane]]

    def _eligible(self, lane: Lane) -> bool:
        return (
            lane not in self.running
            and self.position[lane] < self.lengths[lane]
            and self._tenant_running.get(lane.tenant, 0) < self.per_tenant
        )

    def pick(self, now: float) -> tuple[Lane, int] | None:
        """Start the next ready lane at time ``now`` (seconds since start): (lane, index)."""
        if len(self.running) >= self.concurrency:
            return None
        best: Lane | None = None
        best_key = (2.0, 0)
        for lane in self._order:
            if not self._eligible(lane) or self._release_at(lane) > now:
                continue
            position = self.position[lane]
            key = (position / self.lengths[lane], _tie_rank(self.seed, lane, position))
            if key < best_key:
                best, best_key = lane, key
        if best is None:
            return None
        self.running.add(best)
        self._tenant_running[best.tenant] = self._tenant_running.get(best.tenant, 0) + 1
        return best, self.position[best]

    def finish(self, lane: Lane, count: int = 1) -> None:
        """The lane's current ``count`` statements are done: advance it, free its slot."""
        self.running.discard(lane)
        self._tenant_running[lane.tenant] -= 1
        self.position[lane] += count

    def released(self, lane: Lane, index: int, now: float) -> bool:
        """Whether statement ``index`` of ``lane`` may start at ``now``."""
        return self.mode == "closed" or self.release[lane.tenant][index] <= now

    def next_release(self, now: float) -> float | None:
        """The earliest future time a waiting lane becomes ready (open loop), else None."""
        if self.mode == "closed":
            return None
        times = [
            self._release_at(lane)
            for lane in self._order
            if self._eligible(lane) and self._release_at(lane) > now
        ]
        return min(times) if times else None
