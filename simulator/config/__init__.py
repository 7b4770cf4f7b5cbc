"""Typed run configuration loaded from TOML, validated with one-line errors.

Every error names the file, the dotted key and the problem, for example::

    configs/demo.toml: engines.candidate.adapter: expected a string, got 3

A run config has these sections (all but ``engines`` optional)::

    [run]       name, results_dir, baseline, candidates, seed, ray_address
    [dataset]   generation, store, cache, read_only_cache, read_only_cache_max_gb,
                [dataset.generate] name/scale/seed/tenants
    [workload]  name, dir, log, [workload.synth] rows/seed, [workload.sample] budget/...
    [engines.NAME]  adapter, requirements, dialect, version, settings, partition_columns,
                    [engines.NAME.faults]
    [load]      mode, concurrency, time_compression, per_tenant_concurrency, timeout_s
    [perf]      enabled, repetitions, max_repetitions, threshold, alpha, ...
    [compare]   float_rel_tol, float_abs_tol, determinism_runs, column_names, ...
    [report]    mask_literals, diff_sample_rows, gate
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulator.config.tables import build_table

# The one adapter list: the registry (import-free), re-exported for config readers.
from simulator.engines.registry import BUILTIN_ADAPTERS
from simulator.errors import ConfigError, WorkloadError

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def check_name(value: str, what: str) -> str:
    """Return ``value`` if it is a safe name (no path separators, no ``..``); else raise."""
    if not isinstance(value, str) or not NAME_RE.match(value) or ".." in value:
        raise ConfigError(
            f"{what}: {value!r} is not a valid name "
            "(letters, digits, '_', '-', '.'; no '/' or '..')"
        )
    return value


@dataclass(frozen=True)
class RunSection:
    name: str = "demo"
    results_dir: str = "results"
    baseline: str = "baseline"
    candidates: tuple[str, ...] = ("candidate",)
    seed: int = 7
    ray_address: str = ""
    # Baseline bank: reuse baseline executions across runs (see simulator/runner/bank.py).
    bank: bool = True
    bank_refresh: float = 0.1
    bank_dir: str = ""


@dataclass(frozen=True)
class GenerateSection:
    name: str = "demo"
    scale: float = 0.01
    seed: int = 42
    tenants: int = 8


@dataclass(frozen=True)
class DatasetSection:
    generation: str = "demo"
    store: str = "datasets/store"
    cache: str = ""
    generate: GenerateSection = field(default_factory=GenerateSection)
    # The read-only table cache (simulator/engines/read_only_cache.py): its folder ("" =
    # .read-only-cache under the engine runtimes root, on each node) and its size bound
    # (least recently used entries no session uses go beyond it; 0 = no bound).
    read_only_cache: str = ""
    read_only_cache_max_gb: float = 100.0


@dataclass(frozen=True)
class SynthSection:
    rows: int = 20000
    seed: int = 7
    # Adds the events_rewrite pipeline (a CTAS, INSERT, UPDATE and DELETE over the whole
    # events table) once per tenant: written tables as large as the world's events.
    large_writes: bool = False


@dataclass(frozen=True)
class SampleSection:
    """Sampling parameters (``[workload.sample]``, and the sampler's own parameters): a
    query budget, or an engine-time budget when ``budget_ms`` > 0."""

    budget: int = 400
    budget_ms: float = 0.0
    seed: int = 7
    diversity: int = 3

    def check(self) -> None:
        """Raise WorkloadError for a budget or diversity that cannot be met."""
        if self.budget < 1 and self.budget_ms <= 0:
            raise WorkloadError(f"sample budget must be at least 1 query, got {self.budget}")
        if self.budget_ms < 0:
            raise WorkloadError(f"sample budget_ms must not be negative, got {self.budget_ms}")
        if self.diversity < 1:
            raise WorkloadError(f"sample diversity must be at least 1, got {self.diversity}")


@dataclass(frozen=True)
class IngestSection:
    """``[workload.ingest]``: which source field holds each normalized column ("" = none).

    Nested JSON keys are dotted paths (``context.user``). ``format = "trino"`` uses the
    event listener's keys unless a field is set here.
    """

    query_id: str = "query_id"
    tenant: str = "tenant"
    submitted_at: str = "submitted_at"
    sql: str = "sql"
    dialect: str = "dialect"
    duration_ms: str = "duration_ms"
    user: str = "user"
    source: str = "source"
    status: str = "status"
    pipeline: str = "pipeline"
    default_dialect: str = "trino"
    max_sql_bytes: int = 1048576


@dataclass(frozen=True)
class WorkloadSection:
    name: str = "demo"
    dir: str = "workloads"
    log: str = ""
    synth: SynthSection = field(default_factory=SynthSection)
    sample: SampleSection = field(default_factory=SampleSection)
    ingest: IngestSection = field(default_factory=IngestSection)


@dataclass(frozen=True)
class LatencyFault:
    kinds: tuple[str, ...] = ()
    # Only statements reading (or writing) one of these tables ([] = any): lets a
    # sensitivity test slow down some SELECT patterns and no others.
    tables: tuple[str, ...] = ()
    factor: float = 1.0
    fixed_ms: float = 0.0
    jitter_ms: float = 0.0
    # Only while other executions are in flight: a slowdown that only concurrency shows.
    only_under_load: bool = False


@dataclass(frozen=True)
class MemoryFault:
    """The worker's peak RSS over a matching statement grows by ``factor``: the worker holds
    real, touched memory until the peak reaches ``factor`` x the peak the statement reached
    by itself (outside the statement's measured CPU and wall time)."""

    kinds: tuple[str, ...] = ()
    tables: tuple[str, ...] = ()
    factor: float = 1.0


@dataclass(frozen=True)
class LostWriteFault:
    rate: float = 0.0
    kinds: tuple[str, ...] = ("insert", "ctas", "delete")
    partitions: int = 1
    only_under_load: bool = False


@dataclass(frozen=True)
class FaultsSection:
    """Fault injection for one engine. Only active when ``enabled = true`` is written."""

    enabled: bool = False
    seed: int = 1
    error_rate: float = 0.0
    error_kinds: tuple[str, ...] = ()
    latency: LatencyFault = field(default_factory=LatencyFault)
    lost_writes: LostWriteFault = field(default_factory=LostWriteFault)
    memory: MemoryFault = field(default_factory=MemoryFault)


@dataclass(frozen=True)
class EngineSpec:
    """One engine declaration: ``[engines.NAME]``."""

    name: str = ""
    adapter: str = ""
    requirements: tuple[str, ...] = ()
    dialect: str = ""
    version: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    dsn: str = ""
    wheel_dir: str = ""
    faults: FaultsSection = field(default_factory=FaultsSection)


@dataclass(frozen=True)
class LoadSection:
    mode: str = "closed"
    concurrency: int = 4
    time_compression: float = 600.0
    per_tenant_concurrency: int = 1
    timeout_s: float = 60.0
    confirm_quietly: bool = True
    # Quiet confirmation: replays per finding, and its bounds (statements a replay, seconds).
    confirm_replays: int = 3
    confirm_max_statements: int = 500
    confirm_budget_s: float = 900.0
    # The comparison under load (simulator.compare.load, docs/comparison.md): the smallest
    # change it reports, its false-discovery level, and the paired samples a pattern needs
    # (fewer: insufficient); tails (p95, p99) are judged from tail_min_samples on.
    compare_threshold: float = 0.25
    compare_alpha: float = 0.05
    compare_min_samples: int = 8
    compare_tail_min_samples: int = 40


# What performance verdicts can judge: the engine process's CPU time or its wall time.
PERF_METRICS = ("cpu", "wall")


@dataclass(frozen=True)
class PerfSection:
    enabled: bool = True
    repetitions: int = 5
    max_repetitions: int = 15
    threshold: float = 0.10
    alpha: float = 0.05
    false_alarm_rate: float = 0.05
    min_ms: float = 0.0
    max_patterns: int = 0
    process_pairs: int = 7
    # What the verdicts judge: "cpu" (the engine process's CPU time) or "wall".
    metric: str = "cpu"


@dataclass(frozen=True)
class CompareSection:
    float_rel_tol: float = 1e-9
    float_abs_tol: float = 1e-12
    determinism_runs: int = 2
    column_names: str = "case_insensitive"
    type_equivalence: tuple[tuple[str, ...], ...] = ()
    partition_columns: dict[str, list[str]] = field(default_factory=dict)
    keep_result_rows: int = 200000
    # The baseline's unlimited run of a LIMIT query keeps at most this many row hashes.
    unlimited_hash_rows: int = 1000000


@dataclass(frozen=True)
class ReportSection:
    mask_literals: bool = False
    diff_sample_rows: int = 0
    gate_perf: bool = True
    # A confirmed perf regression fails the nightly gate only at or above this ratio.
    gate_perf_ratio: float = 1.0
    # Strict gate: known (seen before) but unaccepted correctness findings fail it too.
    gate_known: bool = False
    # Known causes (one rule, simulator.results.exit_codes.failing_verdicts): a cosmetic
    # column-name difference and a changed estimate are reported but pass by default; a
    # harness error fails by default, since qsim could not judge that query.
    gate_cosmetic: bool = False
    gate_estimates: bool = False
    gate_harness_errors: bool = True
    # Latency regressions under load fail the gate too (off: reported apart, see gate.py).
    gate_load: bool = False


@dataclass(frozen=True)
class RunConfig:
    """A whole run configuration. ``path`` is the file it came from (for messages)."""

    path: str
    run: RunSection
    dataset: DatasetSection
    workload: WorkloadSection
    engines: dict[str, EngineSpec]
    load: LoadSection
    perf: PerfSection
    compare: CompareSection
    report: ReportSection
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def baseline(self) -> EngineSpec:
        return self.engines[self.run.baseline]

    @property
    def candidates(self) -> list[EngineSpec]:
        return [self.engines[name] for name in self.run.candidates]

    @property
    def faults_enabled(self) -> bool:
        return any(spec.faults.enabled for spec in self.engines.values())

    def resolve(self, relative: str) -> Path:
        """Resolve a path from the config relative to the current directory."""
        return Path(relative).expanduser()


SECTIONS: dict[str, type] = {
    "run": RunSection,
    "dataset": DatasetSection,
    "workload": WorkloadSection,
    "load": LoadSection,
    "perf": PerfSection,
    "compare": CompareSection,
    "report": ReportSection,
}


def _check_ranges(cfg: RunConfig, file: str) -> None:
    def fail(key: str, problem: str) -> None:
        raise ConfigError(f"{file}: {key}: {problem}")

    if cfg.load.mode not in ("closed", "open"):
        fail("load.mode", f"expected 'closed' or 'open', got {cfg.load.mode!r}")
    if cfg.load.concurrency < 1:
        fail("load.concurrency", f"must be at least 1, got {cfg.load.concurrency}")
    if cfg.load.per_tenant_concurrency < 1:
        fail("load.per_tenant_concurrency", "must be at least 1")
    if cfg.load.timeout_s <= 0:
        fail("load.timeout_s", f"must be positive, got {cfg.load.timeout_s}")
    if cfg.load.time_compression <= 0:
        fail("load.time_compression", "must be positive")
    if not 0 < cfg.perf.threshold < 10:
        fail("perf.threshold", f"must be a fraction like 0.10, got {cfg.perf.threshold}")
    if not 0 < cfg.perf.alpha < 1:
        fail("perf.alpha", "must be between 0 and 1")
    if cfg.perf.repetitions < 2:
        fail("perf.repetitions", "must be at least 2 (paired runs need pairs)")
    if cfg.perf.metric not in PERF_METRICS:
        fail("perf.metric", f"must be one of {', '.join(PERF_METRICS)}, got {cfg.perf.metric!r}")
    if cfg.perf.process_pairs < 1:
        fail("perf.process_pairs", f"must be at least 1, got {cfg.perf.process_pairs}")
    if cfg.perf.max_repetitions < cfg.perf.repetitions:
        fail("perf.max_repetitions", "must be at least perf.repetitions")
    if cfg.compare.float_rel_tol < 0 or cfg.compare.float_abs_tol < 0:
        fail("compare.float_rel_tol", "tolerances must not be negative")
    if cfg.compare.determinism_runs < 1:
        fail("compare.determinism_runs", "must be at least 1")
    if cfg.compare.column_names not in ("case_sensitive", "case_insensitive", "ignore"):
        fail(
            "compare.column_names",
            "expected 'case_sensitive', 'case_insensitive' or 'ignore'",
        )
    if cfg.load.confirm_replays < 1 or cfg.load.confirm_max_statements < 1:
        fail("load.confirm_replays", "confirm_replays and confirm_max_statements must be >= 1")
    if cfg.load.confirm_budget_s <= 0:
        fail("load.confirm_budget_s", "must be positive")
    if not 0 < cfg.load.compare_threshold < 10:
        fail(
            "load.compare_threshold",
            f"must be a fraction like 0.25, got {cfg.load.compare_threshold}",
        )
    if not 0 < cfg.load.compare_alpha < 1:
        fail("load.compare_alpha", "must be between 0 and 1")
    if cfg.load.compare_min_samples < 2 or cfg.load.compare_tail_min_samples < 2:
        fail(
            "load.compare_min_samples",
            "compare_min_samples and compare_tail_min_samples must be >= 2",
        )
    if cfg.compare.unlimited_hash_rows < 0:
        fail("compare.unlimited_hash_rows", "must not be negative (0 turns the phase off)")
    if cfg.dataset.read_only_cache_max_gb < 0:
        fail("dataset.read_only_cache_max_gb", "must not be negative (0 means no bound)")
    if cfg.dataset.generate.scale <= 0:
        fail("dataset.generate.scale", "must be positive")
    if cfg.dataset.generate.tenants < 1:
        fail("dataset.generate.tenants", "must be at least 1")
    if cfg.workload.sample.budget < 1:
        fail("workload.sample.budget", "must be at least 1")
    for key, value in (("run.name", cfg.run.name), ("workload.name", cfg.workload.name)):
        try:
            check_name(value, key)
        except ConfigError as err:
            raise ConfigError(f"{file}: {err}") from None
    if cfg.run.baseline not in cfg.engines:
        fail("run.baseline", f"names engine {cfg.run.baseline!r}, which no [engines.*] declares")
    if not cfg.run.candidates:
        fail("run.candidates", "must name at least one engine")
    for i, cand in enumerate(cfg.run.candidates):
        if cand not in cfg.engines:
            declared = ", ".join(sorted(cfg.engines)) or "none"
            fail(
                f"run.candidates[{i}]",
                f"names engine {cand!r}, which no [engines.*] declares (declared: {declared})",
            )
        if cand == cfg.run.baseline:
            fail(f"run.candidates[{i}]", "the baseline cannot also be a candidate")
    for name, spec in cfg.engines.items():
        where = f"engines.{name}"
        if not spec.adapter:
            fail(f"{where}.adapter", "missing (a built-in adapter or 'package.module:Factory')")
        if spec.adapter not in BUILTIN_ADAPTERS and ":" not in spec.adapter:
            fail(
                f"{where}.adapter",
                f"unknown adapter {spec.adapter!r} "
                f"(built-in: {', '.join(BUILTIN_ADAPTERS)}; plugins use 'package.module:Factory')",
            )
        faults = spec.faults
        for key, rate in (
            ("faults.error_rate", faults.error_rate),
            ("faults.lost_writes.rate", faults.lost_writes.rate),
        ):
            if not 0 <= rate <= 1:
                fail(f"{where}.{key}", f"must be between 0 and 1, got {rate}")
        if faults.latency.factor <= 0:
            fail(f"{where}.faults.latency.factor", "must be positive")
        if faults.memory.factor < 1:
            fail(
                f"{where}.faults.memory.factor",
                f"must be at least 1 (memory is added, never taken), got {faults.memory.factor}",
            )
        if not faults.enabled and dataclasses.replace(faults, enabled=False) != FaultsSection():
            fail(
                f"{where}.faults",
                "fault settings given without enabled = true (faults are never on by "
                "accident: write enabled = true, or remove the section)",
            )
        if spec.wheel_dir and not Path(spec.wheel_dir).is_dir():
            fail(f"{where}.wheel_dir", f"{spec.wheel_dir!r} is not a folder")


def parse_config(data: dict[str, Any], file: str = "<config>") -> RunConfig:
    """Build a validated RunConfig from an already-parsed TOML document."""
    known = {*SECTIONS, "engines"}
    for key in data:
        if key not in known:
            raise ConfigError(f"{file}: {key}: unknown section (known: {', '.join(sorted(known))})")
    sections: dict[str, Any] = {}
    for key, cls in SECTIONS.items():
        table = data.get(key, {})
        if not isinstance(table, dict):
            raise ConfigError(f"{file}: {key}: expected a table, got {table!r}")
        try:
            sections[key] = build_table(cls, table, key)
        except ConfigError as err:
            raise ConfigError(f"{file}: {err}") from None
    engines_raw = data.get("engines", {})
    if not isinstance(engines_raw, dict) or not engines_raw:
        raise ConfigError(f"{file}: engines: at least one [engines.NAME] section is required")
    engines: dict[str, EngineSpec] = {}
    for name, table in engines_raw.items():
        try:
            check_name(name, f"engines.{name}")
            if not isinstance(table, dict):
                raise ConfigError(f"engines.{name}: expected a table, got {table!r}")
            spec = build_table(EngineSpec, table, f"engines.{name}", not_keys={"name"})
        except ConfigError as err:
            raise ConfigError(f"{file}: {err}") from None
        engines[name] = dataclasses.replace(spec, name=name, dialect=spec.dialect or spec.adapter)
    cfg = RunConfig(path=file, engines=engines, raw=data, **sections)
    _check_ranges(cfg, file)
    return cfg


def load_config(path: str | Path) -> RunConfig:
    """Read and validate a TOML run config. Raises ConfigError naming file, key and problem."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a config file") from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot read ({err.strerror})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: invalid TOML: {err}") from None
    return parse_config(data, str(path))
