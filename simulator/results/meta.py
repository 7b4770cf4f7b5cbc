"""The run metadata (``run.json``): what ran, on what, how it ended.

The runner creates one :class:`RunMeta` when a run starts and replaces ``run.json``
atomically each time it learns more (engine versions once sessions start, Ray's address,
load statistics, the end status). Fields that only some runs have (``resumed_at``,
``confirm``, ``perf_done`` ...) stay ``None`` and are left out of the file, so a run folder
keeps the same JSON fields it always had; keys this version does not know are kept as they
were (``extra``) so an older or newer folder round-trips unchanged.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from simulator.results.masking import mask_secrets

FORMAT_VERSION = 1


class RunStatus(StrEnum):
    """The state a run folder is in."""

    RUNNING = "running"
    COMPLETE = "complete"
    INTERRUPTED = "interrupted"
    FAILED = "failed"


@dataclass
class EngineMeta:
    """One engine of the run as configured, with the version its worker reported."""

    role: str
    adapter: str
    requirements: list[str] = field(default_factory=list)
    dialect: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    version: str = ""
    runtime_spec_hash: str = ""
    faults_enabled: bool = False
    faults: dict[str, Any] = field(default_factory=dict)


@dataclass
class HostMeta:
    """The machine the driver ran on."""

    hostname: str = ""
    platform: str = ""
    cpus: int | None = None
    python: str = ""


# Optional fields: written only once the runner has set them.
_OPTIONAL = (
    "resumed_at",
    "ray",
    "sessions",
    "confirm",
    "perf_done",
    "local_servers",
    "bank",
    "harness",
    "timings",
    "perf",
)


@dataclass
class RunMeta:
    """The content of ``run.json``.

    ``load`` is the load model as configured, merged at the end with what the load phase
    measured (wall time, peak in flight, efficiency); ``filters`` are the tenant / query id /
    pattern filters of a replay (all None for a full run).
    """

    format_version: int = FORMAT_VERSION
    run_id: str = ""
    pipeline: str = ""
    config_path: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    generation_id: str = ""
    generation_name: str = ""
    workload_id: str = ""
    workload_name: str = ""
    baseline: str = ""
    candidates: list[str] = field(default_factory=list)
    engines: dict[str, EngineMeta] = field(default_factory=dict)
    qsim_version: str = ""
    host: HostMeta = field(default_factory=HostMeta)
    started_at: str = ""
    finished_at: str | None = None
    status: RunStatus = RunStatus.RUNNING
    exit_code: int | None = None
    queries: int = 0
    tenants: list[str] = field(default_factory=list)
    load: dict[str, Any] = field(default_factory=dict)
    filters: dict[str, list[str] | None] = field(default_factory=dict)
    fresh_baseline: bool = False
    resumed_at: list[str] | None = None
    ray: dict[str, Any] | None = None
    sessions: dict[str, dict[str, Any]] | None = None
    confirm: dict[str, Any] | None = None
    perf_done: bool | None = None
    local_servers: list[dict[str, Any]] | dict[str, Any] | None = None
    bank: dict[str, Any] | None = None
    harness: dict[str, int] | None = None
    timings: dict[str, float] | None = None
    perf: dict[str, int] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.status = RunStatus(self.status)  # refuses (ValueError) an unknown status

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of ``run.json`` (unset optional fields left out), with every
        secret masked (:func:`~simulator.results.masking.mask_secrets`): a DSN's password
        is never written, so ``config`` is the configuration as given minus its secrets."""
        data = dataclasses.asdict(self)
        extra = data.pop("extra")
        for name in _OPTIONAL:
            if data[name] is None:
                del data[name]
        return mask_secrets({**data, **extra})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunMeta:
        """Rebuild from ``run.json``; unknown keys go to ``extra``. Refuses (ValueError,
        TypeError) a field of the wrong shape."""
        names = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        known = {k: v for k, v in data.items() if k in names}
        extra = {k: v for k, v in data.items() if k not in names}
        engines = {
            str(name): EngineMeta(**spec) for name, spec in (known.pop("engines", {}) or {}).items()
        }
        host = HostMeta(**(known.pop("host", {}) or {}))
        return cls(engines=engines, host=host, extra=extra, **known)
