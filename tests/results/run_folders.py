"""Write real run folders (run.json, queries.parquet, executions/verdicts/perf JSONL) with
the real record types and the real writer (:class:`~simulator.results.store.RunStore`), for
the report and jobs tests. The ``results`` and ``make_run`` fixtures are imported by those
test folders' conftest files.

The world: tenants ``t01``.. each with the same patterns; every pattern has two queries.
Pattern ``p_ins`` is an INSERT into the day-partitioned ``events`` table, the others are
SELECTs. A test chooses which (tenant, pattern) pairs regress and how.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import pyarrow.parquet as pq

from simulator.results.execution import Execution, PartitionState, TableState
from simulator.results.layout import (
    EXECUTIONS_FILE,
    PERF_FILE,
    QUERIES_FILE,
    VERDICTS_FILE,
    RecordKind,
)
from simulator.results.meta import EngineMeta, HostMeta, RunMeta, RunStatus
from simulator.results.store import RunStore
from simulator.results.verdicts import MemoryVerdict, PerfVerdict, Verdict

PATTERNS = {
    "p_sel_day": (
        "select",
        "SELECT day, count(*) AS n FROM events WHERE day = '{day}' GROUP BY day",
    ),
    "p_top_cust": (
        "select",
        "SELECT c.name, sum(o.amount) AS total FROM orders o JOIN customers c USING (customer_id) "
        "WHERE o.amount > {n} GROUP BY c.name ORDER BY total DESC LIMIT 10",
    ),
    "p_ins": ("insert", "INSERT INTO events SELECT * FROM events_staging WHERE day = '{day}'"),
}


@dataclass
class RunSpec:
    """What a test run folder contains. ``taint`` is appended to every text field."""

    run_id: str
    pipeline: str = "nightly"
    status: str = "complete"
    started_at: str = "2026-11-24T01:00:00+00:00"
    tenants: tuple[str, ...] = ("t01", "t02")
    candidates: tuple[str, ...] = ("candidate",)
    regressions: dict[tuple[str, str], str] = field(default_factory=dict)
    perf_regressed: dict[tuple[str, str], float] = field(default_factory=dict)
    # (tenant, pattern) -> peak-memory ratio of a memory_regressed pattern; every other
    # timed pattern is memory_unchanged.
    memory_grown: dict[tuple[str, str], float] = field(default_factory=dict)
    under_load_only: set[tuple[str, str]] = field(default_factory=set)
    from_bank: bool = False
    faults: bool = False
    diff_sample_rows: int = 0
    mask_literals: bool = False
    perf: bool = True
    taint: str = ""
    files: tuple[str, ...] = (
        QUERIES_FILE,
        EXECUTIONS_FILE,
        VERDICTS_FILE,
        PERF_FILE,
    )
    report: dict[str, Any] = field(default_factory=dict)


def _checksum(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def query_rows(spec: RunSpec) -> list[dict[str, Any]]:
    """The workload rows of the run (what queries.parquet holds)."""
    t = spec.taint
    rows = []
    for tenant in spec.tenants:
        for p_index, (pattern, (kind, template)) in enumerate(PATTERNS.items()):
            for q in range(2):
                sql = template.format(day=f"2024-01-0{q + 1}", n=100 * (q + 1)) + (
                    f" /* {t} */" if t else ""
                )
                rows.append(
                    {
                        "query_id": f"{tenant}-{pattern}-q{q}{t}",
                        "tenant": f"{tenant}{t}",
                        "seq": p_index * 2 + q,
                        "submitted_at": 1_700_000_000.0 + p_index * 10 + q,
                        "sql": sql,
                        "dialect": "duckdb",
                        "kind": kind,
                        "pattern_id": f"{pattern}{t}",
                        "weight": 40.0 if q == 0 else 10.0,
                        "pipeline": "",
                    }
                )
    return rows


def _result(row_count: int, columns: list[str], salt: str) -> dict[str, Any]:
    return {
        "row_count": row_count,
        "multiset": _checksum("m", row_count, salt),
        "ordered": _checksum("o", row_count, salt),
        "columns": [_checksum("c", name, salt) for name in columns],
        "column_names": columns,
        "column_types": ["string"] * len(columns),
    }


def _writes(t: str, lose: bool) -> dict[str, TableState]:
    partitions = {
        f"day=2024-01-0{d}{t}": PartitionState(row_count=100 + d, checksum=_checksum("p", d))
        for d in (1, 2, 3)
    }
    if lose:
        partitions.pop(f"day=2024-01-02{t}")
        partitions[f"day=2024-01-03{t}"] = PartitionState(row_count=90, checksum="bad")
    table = f"events{t}"
    return {
        table: TableState(
            table=table,
            row_count=sum(p.row_count for p in partitions.values()),
            checksum=_checksum("t", len(partitions)),
            partition_columns=[f"day{t}"],
            partitions=partitions,
            rows_before=200,
        )
    }


def _side(execution: Execution) -> dict[str, Any]:
    """The per-side evidence the comparison stage records."""
    side: dict[str, Any] = {
        "engine": execution.engine,
        "engine_version": execution.engine_version,
        "status": execution.status,
        "wall_ms": execution.wall_ms,
        "rows_returned": execution.rows_returned,
    }
    if execution.status != "ok":
        side["error_class"] = execution.error_class
        side["error_message"] = execution.error_message
    return side


def _memory(grown: float | None) -> MemoryVerdict:
    ratio = grown or 1.01
    return MemoryVerdict(
        verdict="memory_regressed" if grown else "memory_unchanged",
        ratio=ratio,
        ci_low=ratio * 0.98,
        ci_high=ratio * 1.02,
        p_value=0.001 if grown else 0.5,
        q_value=0.003 if grown else 0.7,
        pairs=15,
        baseline_mb=140.0,
        candidate_mb=140.0 * ratio,
        escalated=bool(grown),
    )


def write_run(results: Path, spec: RunSpec) -> Path:
    """Write the run folder ``results/<run_id>`` described by ``spec``; return it."""
    t = spec.taint
    run_dir = results / spec.run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    store = RunStore(run_dir)
    baseline = f"baseline{t}"
    candidates = [f"{c}{t}" for c in spec.candidates]
    versions = {baseline: f"1.1.3{t}", **{c: f"2.0.1{t}" for c in candidates}}
    rows = query_rows(spec)
    regressions = {(f"{tn}{t}", f"{p}{t}"): v for (tn, p), v in spec.regressions.items()}
    under_load = {(f"{tn}{t}", f"{p}{t}") for tn, p in spec.under_load_only}
    perf_regressed = {(f"{tn}{t}", f"{p}{t}"): r for (tn, p), r in spec.perf_regressed.items()}
    memory_grown = {(f"{tn}{t}", f"{p}{t}"): r for (tn, p), r in spec.memory_grown.items()}
    meta = RunMeta(
        run_id=f"{spec.run_id}{t}",
        pipeline=f"{spec.pipeline}{t}",
        config_path=f"configs/nightly{t}.toml",
        config={
            "run": {"name": spec.pipeline},
            "report": {
                "diff_sample_rows": spec.diff_sample_rows,
                "mask_literals": spec.mask_literals,
                **spec.report,
            },
            "perf": {"enabled": spec.perf},
        },
        generation_id=f"gen-3f9a1c{t}",
        workload_id=f"wl-77ab{t}",
        workload_name=f"demo{t}",
        baseline=baseline,
        candidates=candidates,
        engines={
            name: EngineMeta(
                role="baseline" if name == baseline else "candidate",
                adapter="duckdb",
                requirements=[f"duckdb=={versions[name]}"],
                dialect="duckdb",
                settings={},
                version=versions[name],
                runtime_spec_hash="abc123",
                faults_enabled=spec.faults and name != baseline,
                faults={},
            )
            for name in [baseline, *candidates]
        },
        qsim_version="0.1.0",
        host=HostMeta(hostname="ci", platform="linux", cpus=2, python="3.11"),
        started_at=spec.started_at,
        finished_at=spec.started_at if spec.status == "complete" else None,
        status=RunStatus(spec.status),
        exit_code=1 if spec.regressions else 0,
        load={"mode": "closed", "concurrency": 4},
    )
    store.write_meta(meta)
    if QUERIES_FILE in spec.files:
        pq.write_table(pa.Table.from_pylist(rows), run_dir / QUERIES_FILE)
    executions, verdicts, perf = [], [], []
    clock = 1_700_000_100.0
    for i, row in enumerate(rows):
        tenant, qid, pattern = row["tenant"], row["query_id"], row["pattern_id"]
        regression = (
            regressions.get((tenant, pattern)) if row["query_id"].endswith(f"q0{t}") else None
        )
        columns = [f"day{t}", f"n{t}"] if row["kind"] == "select" else []
        for e_index, engine in enumerate([baseline, *candidates]):
            is_cand = engine != baseline
            bad = is_cand and regression is not None
            status = "error" if bad and regression == "candidate_error" else "ok"
            start = clock + i * 0.05 + e_index * 0.01
            wall = (
                20.0
                + 5 * (i % 4)
                + (15.0 if is_cand and (tenant, pattern) in perf_regressed else 0)
            )
            result = None
            if row["kind"] == "select" and status == "ok":
                result = _result(12, columns, "x")
                if bad and regression == "result_mismatch":
                    result["columns"][1] = "different"
                    result["multiset"] = _checksum("m", "bad")
            executions.append(
                Execution(
                    execution_id=Execution.make_id("load", engine, tenant, qid),
                    run_id=meta.run_id,
                    engine=engine,
                    tenant=tenant,
                    query_id=qid,
                    phase="load",
                    status=status,
                    error_class=f"BinderException{t}" if status == "error" else "",
                    error_message=(
                        f'Binder Error: Referenced column "amount{t}" not found'
                        if status == "error"
                        else ""
                    ),
                    wall_ms=wall,
                    started_at=start,
                    finished_at=start + wall / 1000.0 * 4,
                    rows_returned=12 if result else None,
                    rows_affected=(3 if row["kind"] == "insert" else None),
                    result_schema=[[c, "string"] for c in columns],
                    result=result,
                    writes=_writes(t, bad and regression == "write_mismatch")
                    if row["kind"] == "insert"
                    else {},
                    engine_version=versions[engine],
                    in_flight_at_start=e_index + 1,
                    from_bank=spec.from_bank and not is_cand,
                )
            )
        for cand in candidates:
            verdict = regression or "match"
            pair = [e for e in executions if e.query_id == qid and e.engine in (baseline, cand)]
            evidence: dict[str, Any] = {
                "baseline": _side(pair[0]),
                "candidate": _side(pair[-1]),
                "baseline_runs": 1,
            }
            if verdict == "result_mismatch":
                evidence["differing_columns"] = [f"n{t}"]
            if verdict == "write_mismatch":
                evidence["tables"] = {
                    f"events{t}": {
                        "missing_partitions": [
                            {
                                "partition": f"day=2024-01-02{t}",
                                "baseline_rows": 102,
                                "candidate_rows": None,
                            }
                        ],
                        "missing_partitions_total": 1,
                        "problem": f"lost write{t}",
                    }
                }
            if spec.diff_sample_rows:
                evidence["diff_sample"] = [{"n": f"secret-value{t}"}]
            verdicts.append(
                Verdict(
                    run_id=meta.run_id,
                    candidate=cand,
                    tenant=tenant,
                    query_id=qid,
                    pattern_id=pattern,
                    kind=row["kind"],
                    verdict=verdict,
                    reason=f"candidate differs{t}" if regression else "",
                    evidence=evidence,
                    weight=row["weight"],
                    under_load_only=(tenant, pattern) in under_load and regression is not None,
                    baseline_from_bank=spec.from_bank,
                )
            )
    for cand in candidates:
        seen = set()
        for row in rows:
            key = (row["tenant"], row["pattern_id"])
            if key in seen:
                continue
            seen.add(key)
            ratio = perf_regressed.get(key, 1.0 + 0.02 * (len(seen) % 3))
            base_ms = 20.0 + 7 * len(seen)
            perf.append(
                PerfVerdict(
                    run_id=meta.run_id,
                    candidate=cand,
                    tenant=key[0],
                    pattern_id=key[1],
                    kind=row["kind"],
                    verdict="regressed" if key in perf_regressed else "unchanged",
                    ratio=ratio,
                    ci_low=ratio * 0.93,
                    ci_high=ratio * 1.07,
                    p_value=0.001 if key in perf_regressed else 0.4,
                    q_value=0.004 if key in perf_regressed else 0.6,
                    pairs=10,
                    baseline_ms=base_ms,
                    candidate_ms=base_ms * ratio,
                    weight=50.0,
                    memory=_memory(memory_grown.get(key)),
                )
            )
    if EXECUTIONS_FILE in spec.files:
        store.rewrite(RecordKind.EXECUTIONS, [e.to_dict() for e in executions])
    if VERDICTS_FILE in spec.files:
        store.rewrite(RecordKind.VERDICTS, [v.to_dict() for v in verdicts])
    if PERF_FILE in spec.files and spec.perf:
        store.rewrite(RecordKind.PERF, [v.to_dict() for v in perf])
    store.close()
    return run_dir


def realistic_spec(run_id: str = "nightly-2026-11-24", **overrides: Any) -> RunSpec:
    """A night with one finding of each kind: lost write under load, wrong result,
    candidate error and a performance regression; two candidates, three tenants."""
    values: dict[str, Any] = {
        "run_id": run_id,
        "tenants": ("t01", "t02", "t03"),
        "candidates": ("duckdb-2.0.1", "duckdb-2.1.0"),
        "regressions": {
            ("t01", "p_ins"): "write_mismatch",
            ("t02", "p_top_cust"): "result_mismatch",
            ("t03", "p_sel_day"): "candidate_error",
        },
        "perf_regressed": {("t02", "p_sel_day"): 1.62},
        "under_load_only": {("t01", "p_ins")},
    }
    values.update(overrides)
    return RunSpec(**values)


@pytest.fixture
def results(tmp_path: Path) -> Path:
    """An empty results folder."""
    path = tmp_path / "results"
    path.mkdir()
    return path


@pytest.fixture
def make_run(results: Path) -> Callable[..., Path]:
    """Write a run folder under ``results``: make_run("r1", regressions={...})."""

    def make(run_id: str, **fields: Any) -> Path:
        return write_run(results, RunSpec(run_id=run_id, **fields))

    return make
