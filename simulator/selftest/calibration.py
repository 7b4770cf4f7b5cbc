"""A/A calibration and sensitivity: false alarms when nothing changed, detection when a
known slowdown or known errors were injected.

One run over ``configs/aa.toml`` shares its baseline between:

- ``replicas`` identical candidates (``duckdb_same_r<i>``): every correctness finding other
  than ``nondeterministic`` is a false alarm, and so is every ``regressed`` / ``improved``
  pattern; the false-alarm rate is (regressed + improved) / patterns over the replicas;
- optionally ``duckdb_slow``: SELECTs naming ``customers`` are slowed by ``latency_factor``
  (``[faults.latency] tables``); it must be ``regressed`` on exactly the measured patterns
  that read ``customers`` and on no other;
- optionally ``duckdb_hungry``: SELECTs naming ``customers`` need ``memory_factor`` x the
  peak memory (``[faults.memory]``: real memory held in the worker); it must be
  ``memory_regressed`` on exactly the measured patterns that read ``customers``, and the
  replicas' ``memory_regressed`` / ``memory_improved`` are memory false alarms;
- optionally ``duckdb_errors``: SELECTs fail with an injected error at ``error_rate``; every
  load-phase execution whose ``fault`` says so must be a ``candidate_error`` verdict, and
  no other ``candidate_error`` may exist in the run;
- optionally ``duckdb_load_slow``: SELECTs are slowed by ``load_factor`` only while other
  executions are in flight (``[faults.latency] only_under_load``); the comparison under load
  must find the whole workload ``regressed`` while no replica gets a load verdict
  ``regressed`` or ``improved`` (patterns or workload).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from simulator.jobs.run_report import run_and_report
from simulator.results.layout import QUERIES_FILE, RecordKind
from simulator.results.reader import read_records
from simulator.results.verdicts import MEMORY_REGRESSED, REGRESSION_VERDICTS
from simulator.selftest.world import (
    build_world,
    scenario_data,
    to_config,
    with_candidates,
)

REPLICA = "duckdb_same"
SLOW = "duckdb_slow"
HUNGRY = "duckdb_hungry"
ERRORS = "duckdb_errors"
LOAD_SLOW = "duckdb_load_slow"
SLOW_TABLES = ("customers",)
# Faults are drawn per tenant session from Random(f"{seed}:{engine}"), so the seed decides
# which SELECTs fail. Seed 20 makes the 3rd SELECT of each tenant lane fail at a 1% rate: the
# compact workload (~60 SELECTs, 0.6 errors expected) is then sure to exercise the path.
ERROR_SEED = 20
# Verdicts that are false alarms when the candidate did not change results.
CORRECTNESS_ALARMS = (*REGRESSION_VERDICTS, "baseline_error")


@dataclass
class CalibrationRun:
    """What one calibration run found, per candidate role."""

    run_id: str
    run_dir: Path
    wall_s: float
    replicas: list[str]
    allowed_rate: float = 0.05
    perf: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    verdicts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    reads: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    injected_errors: set[str] = field(default_factory=set)
    load: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def load_alarms(self) -> tuple[int, int]:
        """(load verdicts ``regressed`` or ``improved``, load verdicts decided (not
        ``insufficient``)) over the A/A replicas, patterns and whole workload alike."""
        mine = [v for c in self.replicas for v in self.load.get(c, [])]
        decided = [v for v in mine if v["verdict"] != "insufficient"]
        return sum(v["verdict"] in ("regressed", "improved") for v in decided), len(decided)

    def load_workload_verdict(self, candidate: str = LOAD_SLOW) -> dict[str, Any] | None:
        """``candidate``'s load verdict for the whole workload (None when it has none)."""
        return next((v for v in self.load.get(candidate, []) if v["pattern_id"] == ""), None)

    def correctness_alarms(self, candidate: str) -> list[dict[str, Any]]:
        """``candidate``'s verdicts that would be findings (none are expected)."""
        return [v for v in self.verdicts.get(candidate, []) if v["verdict"] in CORRECTNESS_ALARMS]

    def perf_counts(self, candidate: str) -> Counter[str]:
        """Performance verdict counts of ``candidate``."""
        return Counter(p["verdict"] for p in self.perf.get(candidate, []))

    def false_alarm_rate(self) -> tuple[int, int]:
        """(regressed + improved, patterns) over the A/A replicas."""
        alarms = sum(
            self.perf_counts(c)["regressed"] + self.perf_counts(c)["improved"]
            for c in self.replicas
        )
        return alarms, sum(len(self.perf.get(c, [])) for c in self.replicas)

    def memory_false_alarm_rate(self) -> tuple[int, int]:
        """(memory_regressed + memory_improved, patterns with a memory verdict) over the
        A/A replicas."""
        verdicts = [
            p["memory"]["verdict"]
            for c in self.replicas
            for p in self.perf.get(c, [])
            if p.get("memory")
        ]
        alarms = sum(v in (MEMORY_REGRESSED, "memory_improved") for v in verdicts)
        return alarms, len(verdicts)

    def slow_patterns(
        self, candidate: str = SLOW
    ) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
        """(measured patterns that read a slowed table, patterns judged ``regressed``) of
        ``candidate`` (the slowed one, or one of a sweep: :func:`sweep_name`)."""
        return self._flagged(candidate, lambda p: p["verdict"] == "regressed")

    def hungry_patterns(
        self, candidate: str = HUNGRY
    ) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
        """(measured patterns that read a table given more memory, patterns judged
        ``memory_regressed``) of ``candidate`` (the hungry one, or one of a sweep:
        :func:`sweep_name` with ``HUNGRY``)."""
        return self._flagged(
            candidate, lambda p: (p.get("memory") or {}).get("verdict") == MEMORY_REGRESSED
        )

    def _flagged(
        self, candidate: str, flagged: Callable[[dict[str, Any]], bool]
    ) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
        expected, found = set(), set()
        for p in self.perf.get(candidate, []):
            key = (p["tenant"], p["pattern_id"])
            if self.reads.get(key, set()) & set(SLOW_TABLES):
                expected.add(key)
            if flagged(p):
                found.add(key)
        return expected, found

    def error_verdicts(self) -> tuple[set[str], set[str], list[dict[str, Any]]]:
        """(query ids with an injected error, query ids judged ``candidate_error`` for the
        error candidate, every other ``candidate_error`` in the run)."""
        judged = {
            v["query_id"]
            for v in self.verdicts.get(ERRORS, [])
            if v["verdict"] == "candidate_error"
        }
        others = [
            v
            for c, vs in self.verdicts.items()
            if c != ERRORS
            for v in vs
            if v["verdict"] == "candidate_error"
        ]
        return self.injected_errors, judged, others


def sweep_name(factor: float, role: str = SLOW) -> str:
    """The candidate of a sweep changed by ``factor``: slowed (``duckdb_slow_x1.3``) or, with
    ``role = HUNGRY``, given more memory (``duckdb_hungry_x1.3``)."""
    return f"{role}_x{factor:g}"


def _slowed(template: dict[str, Any], factor: float) -> dict[str, Any]:
    return {
        **template,
        "faults": {
            "enabled": True,
            "latency": {"kinds": ["select"], "tables": list(SLOW_TABLES), "factor": factor},
        },
    }


def _hungry(template: dict[str, Any], factor: float) -> dict[str, Any]:
    return {
        **template,
        "faults": {
            "enabled": True,
            "memory": {"kinds": ["select"], "tables": list(SLOW_TABLES), "factor": factor},
        },
    }


def calibration_candidates(
    data: dict[str, Any],
    replicas: int,
    latency_factor: float | None,
    error_rate: float | None,
    latency_sweep: tuple[float, ...] = (),
    memory_factor: float | None = None,
    memory_sweep: tuple[float, ...] = (),
    load_factor: float | None = None,
) -> dict[str, dict[str, Any]]:
    """The run's candidates: identical replicas, then the slowed (one, or one per factor
    of ``latency_sweep``), memory-hungry (likewise), erroring and slowed-under-load ones."""
    template = data["engines"][REPLICA]
    candidates: dict[str, dict[str, Any]] = {
        f"{REPLICA}_r{i}": dict(template) for i in range(1, replicas + 1)
    }
    if latency_factor is not None:
        candidates[SLOW] = _slowed(template, latency_factor)
    for factor in latency_sweep:
        candidates[sweep_name(factor)] = _slowed(template, factor)
    if memory_factor is not None:
        candidates[HUNGRY] = _hungry(template, memory_factor)
    for factor in memory_sweep:
        candidates[sweep_name(factor, HUNGRY)] = _hungry(template, factor)
    if error_rate is not None:
        candidates[ERRORS] = {
            **template,
            "faults": {
                "enabled": True,
                "seed": ERROR_SEED,
                "error_rate": error_rate,
                "error_kinds": ["select"],
            },
        }
    if load_factor is not None:
        candidates[LOAD_SLOW] = {
            **template,
            "faults": {
                "enabled": True,
                "latency": {"kinds": ["select"], "factor": load_factor, "only_under_load": True},
            },
        }
    return candidates


def run_calibration(
    work: Path,
    *,
    replicas: int = 1,
    latency_factor: float | None = None,
    error_rate: float | None = None,
    latency_sweep: tuple[float, ...] = (),
    memory_factor: float | None = None,
    memory_sweep: tuple[float, ...] = (),
    perf: dict[str, Any] | None = None,
    run_name: str = "aa",
    load_factor: float | None = None,
    seed: int | None = None,
    scale: float | None = None,
) -> CalibrationRun:
    """Run ``configs/aa.toml`` in ``work`` with the candidates above (``perf`` overrides
    keys of its ``[perf]`` table, ``seed`` its ``run.seed``, ``scale`` the world's scale,
    see :func:`~simulator.selftest.world.scenario_data`) and analyse the run folder.
    Raises QsimError on bad input or setup."""
    base = scenario_data("aa", work, scale)
    data = with_candidates(
        base,
        calibration_candidates(
            base,
            replicas,
            latency_factor,
            error_rate,
            latency_sweep,
            memory_factor,
            memory_sweep,
            load_factor,
        ),
    )
    data["run"]["name"] = run_name
    if seed is not None:
        data["run"]["seed"] = seed
    data["perf"] = {**data.get("perf", {}), **(perf or {})}
    cfg = to_config(data, "aa")
    build_world(cfg)
    began = time.monotonic()
    outcome = run_and_report(cfg)
    result = CalibrationRun(
        run_id=outcome.run_id,
        run_dir=outcome.run_dir,
        wall_s=time.monotonic() - began,
        replicas=[c for c in cfg.run.candidates if c.startswith(f"{REPLICA}_r")],
        allowed_rate=cfg.perf.false_alarm_rate,
    )
    analyse(result)
    return result


def analyse(result: CalibrationRun) -> None:
    """Fill ``result`` from its run folder."""
    for verdict in read_records(result.run_dir, RecordKind.VERDICTS):
        result.verdicts.setdefault(verdict["candidate"], []).append(verdict)
    for verdict in read_records(result.run_dir, RecordKind.PERF):
        result.perf.setdefault(verdict["candidate"], []).append(verdict)
    for verdict in read_records(result.run_dir, RecordKind.LOAD):
        result.load.setdefault(verdict["candidate"], []).append(verdict)
    for record in read_records(result.run_dir, RecordKind.EXECUTIONS):
        if record["engine"] == ERRORS and record["phase"] == "load" and record["fault"] == "error":
            result.injected_errors.add(record["query_id"])
    rows = pq.read_table(
        result.run_dir / QUERIES_FILE, columns=["tenant", "pattern_id", "tables_read"]
    ).to_pylist()
    for row in rows:
        key = (row["tenant"], row["pattern_id"])
        result.reads.setdefault(key, set()).update(t.lower() for t in row["tables_read"] or [])
