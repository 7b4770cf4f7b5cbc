"""The evidence shown for one finding, assembled from its example verdict, the executions
of that query on the baseline and the candidate, and the workload row.

Evidence is checksums, row counts, column names, partition keys and masked error text:
never result values. Unless the run asked for a diff sample (``report.diff_sample_rows >
0``), keys of ``Verdict.evidence`` that carry one (any key containing "sample") are dropped
and engine error text and reasons are masked
(:func:`~simulator.results.masking.mask_error`), also for run folders written before the
store masked them.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from typing import Any

from simulator.config import ReportSection
from simulator.report.findings import Finding
from simulator.results.execution import Execution, TableState
from simulator.results.masking import mask_error, mask_literals, mask_record
from simulator.results.reader import RunData
from simulator.results.verdicts import MEMORY_REGRESSED, PerfVerdict

DEFAULT_CONFIG = "configs/demo.toml"
# Verdict.evidence keys rendered in their own place rather than in "other evidence".
_CONSUMED = (
    "differing_columns",
    "tables",
    "baseline",
    "candidate",
    "first_differing_tie_group",
)


@dataclass
class Side:
    """What one engine did with the example query."""

    engine: str
    version: str = ""
    status: str = ""
    error_class: str = ""
    error_message: str = ""
    rows_returned: int | None = None
    rows_affected: int | None = None
    multiset: str = ""
    ordered: str = ""
    wall_ms: float | None = None
    from_bank: bool = False
    recorded: bool = False
    # The SQL as sent to this engine, when the comparison recorded it in the side's
    # evidence (``sql``); else the report shows the workload SQL for both sides.
    sql: str = ""


@dataclass
class PartitionDiff:
    """A written partition that is missing, extra or different on the candidate."""

    table: str
    partition: str
    change: str
    baseline_rows: int | None
    candidate_rows: int | None


@dataclass
class Evidence:
    """Everything the report shows for one finding."""

    tenant: str
    query_id: str
    sql: str
    sql_masked: bool
    baseline: Side
    candidate: Side
    differing_columns: list[str] = field(default_factory=list)
    partitions: list[PartitionDiff] = field(default_factory=list)
    other: list[tuple[str, str]] = field(default_factory=list)
    perf: list[tuple[str, str]] = field(default_factory=list)
    replay: str = ""
    reason: str = ""
    # Order mismatches: where the first tie group (rows equal on the ORDER BY keys) differs.
    first_differing_tie_group: str = ""


def _pick(executions: list[Execution]) -> Execution | None:
    """Prefer the load-phase first repetition: the execution the verdict judged."""
    ranked = sorted(executions, key=lambda e: (e.phase != "load", e.repetition))
    return ranked[0] if ranked else None


def _side(engine: str, execution: Execution | None, version: str, raw: Any) -> Side:
    side = Side(engine=engine, version=version)
    if execution is not None:
        result = execution.result or {}
        side.version = execution.engine_version or version
        side.status = execution.status
        side.error_class, side.error_message = execution.error_class, execution.error_message
        side.rows_returned, side.rows_affected = execution.rows_returned, execution.rows_affected
        side.multiset = str(result.get("multiset", ""))
        side.ordered = str(result.get("ordered", ""))
        side.wall_ms, side.from_bank, side.recorded = execution.wall_ms, execution.from_bank, True
    if isinstance(raw, dict):
        side.version = side.version or str(raw.get("engine_version") or "")
        side.status = side.status or str(raw.get("status") or "")
        side.error_class = side.error_class or str(raw.get("error_class") or "")
        side.error_message = side.error_message or str(raw.get("error_message") or "")
        side.multiset = side.multiset or str(raw.get("checksum") or raw.get("multiset") or "")
        if side.rows_returned is None and isinstance(raw.get("row_count"), int):
            side.rows_returned = raw["row_count"]
        side.sql = str(raw.get("sql") or "")
    return side


def _differing_columns(base: Execution | None, cand: Execution | None) -> list[str]:
    """Columns whose per-column checksums differ, by position (names from the baseline)."""
    b = (base.result or {}) if base else {}
    c = (cand.result or {}) if cand else {}
    b_cols, c_cols = list(b.get("columns") or []), list(c.get("columns") or [])
    names = list(b.get("column_names") or c.get("column_names") or [])
    if not b_cols or not c_cols:
        return []
    width = max(len(b_cols), len(c_cols))
    differing = []
    for i in range(width):
        left = b_cols[i] if i < len(b_cols) else None
        right = c_cols[i] if i < len(c_cols) else None
        if left != right:
            differing.append(names[i] if i < len(names) else f"#{i + 1}")
    return differing


def _partition_diffs(base: Execution | None, cand: Execution | None) -> list[PartitionDiff]:
    b_writes: dict[str, TableState] = base.writes if base else {}
    c_writes: dict[str, TableState] = cand.writes if cand else {}
    diffs: list[PartitionDiff] = []
    for table in sorted(set(b_writes) | set(c_writes)):
        b, c = b_writes.get(table), c_writes.get(table)
        if b is None or c is None or b.exists != c.exists:
            b_rows = b.row_count if b is not None and b.exists else None
            c_rows = c.row_count if c is not None and c.exists else None
            change = "missing table" if c_rows is None else "extra table"
            diffs.append(PartitionDiff(table, "", change, b_rows, c_rows))
            continue
        for key in sorted(set(b.partitions) | set(c.partitions)):
            bp, cp = b.partitions.get(key), c.partitions.get(key)
            if bp is None:
                diffs.append(PartitionDiff(table, key, "extra", None, cp.row_count if cp else None))
            elif cp is None:
                diffs.append(PartitionDiff(table, key, "missing", bp.row_count, None))
            elif bp.checksum != cp.checksum or bp.row_count != cp.row_count:
                diffs.append(PartitionDiff(table, key, "different", bp.row_count, cp.row_count))
        if not b.partitions and not c.partitions and b.checksum != c.checksum:
            diffs.append(PartitionDiff(table, "", "different", b.row_count, c.row_count))
    return diffs


def _evidence_partitions(tables: Any) -> list[PartitionDiff]:
    """Partition diffs as the comparison recorded them in ``evidence["tables"]`` (used when
    the executions' post-states are not in the run folder, e.g. a banked baseline)."""
    if not isinstance(tables, dict):
        return []
    diffs = []
    for table, diff in sorted(tables.items()):
        if not isinstance(diff, dict):
            continue
        if diff.get("problem") and not any(
            diff.get(f"{c}_partitions") for c in ("missing", "extra", "different")
        ):
            diffs.append(
                PartitionDiff(
                    str(table),
                    "",
                    str(diff["problem"]),
                    diff.get("baseline_rows"),
                    diff.get("candidate_rows"),
                )
            )
        for change in ("missing", "extra", "different"):
            entries = diff.get(f"{change}_partitions") or []
            for entry in entries:
                if isinstance(entry, dict):
                    diffs.append(
                        PartitionDiff(
                            str(table),
                            str(entry.get("partition", "")),
                            change,
                            entry.get("baseline_rows"),
                            entry.get("candidate_rows"),
                        )
                    )
            total = diff.get(f"{change}_partitions_total")
            if isinstance(total, int) and total > len(entries):
                more = f"{total - len(entries)} more {change} (not listed)"
                diffs.append(PartitionDiff(str(table), "…", more, None, None))
    return diffs


def replay_command(
    config_path: str, tenant: str, candidate: str, *, query_id: str = "", pattern_id: str = ""
) -> str:
    """The shell command that replays one query (or one pattern) of one tenant."""
    parts = ["qsim", "replay", "--config", config_path or DEFAULT_CONFIG, "--tenant", tenant]
    parts += ["--query-id", query_id] if query_id else ["--pattern", pattern_id]
    parts += ["--candidate", candidate]
    return shlex.join(parts)


def _evidence(
    finding: Finding,
    data: RunData,
    settings: ReportSection,
    executions: dict[tuple[str, str], list[Execution]],
    first_query: dict[tuple[str, str], str],
) -> Evidence:
    """Evidence for ``finding``: the example query's sides, diffs, errors and replay."""
    key = finding.key
    example = finding.example
    if example is not None:
        query_id = example.query_id
    else:
        query_id = first_query.get((key.tenant, key.pattern_id), "")
    row = data.queries.get((key.tenant, query_id), {})
    sql = str(row.get("sql") or "")
    if sql and settings.mask_literals:
        sql = mask_literals(sql, str(row.get("dialect") or ""))
    by_engine: dict[str, list[Execution]] = {}
    for e in executions.get((key.tenant, query_id), []):
        by_engine.setdefault(e.engine, []).append(e)
    base = _pick(by_engine.get(data.baseline, []))
    cand = _pick(by_engine.get(key.candidate, []))
    raw_values = settings.diff_sample_rows > 0
    raw = example.evidence if example is not None else {}
    if not raw_values:
        raw = mask_record(raw)
    evidence = Evidence(
        tenant=key.tenant,
        query_id=query_id,
        sql=sql,
        sql_masked=settings.mask_literals,
        baseline=_side(
            data.baseline, base, data.engine_version(data.baseline), raw.get("baseline")
        ),
        candidate=_side(
            key.candidate, cand, data.engine_version(key.candidate), raw.get("candidate")
        ),
    )
    for side in (evidence.baseline, evidence.candidate):
        if not raw_values:
            side.error_message = mask_error(side.error_message)
        if side.sql and settings.mask_literals:
            dialect = data.engines.get(side.engine, {}).get("dialect")
            side.sql = mask_literals(side.sql, str(dialect or ""))
    tie_group = raw.get("first_differing_tie_group")
    if tie_group is not None:
        evidence.first_differing_tie_group = (
            tie_group if isinstance(tie_group, str) else json.dumps(tie_group, default=str)
        )
    if example is not None:
        evidence.baseline.from_bank = evidence.baseline.from_bank or example.baseline_from_bank
    listed = raw.get("differing_columns")
    evidence.differing_columns = (
        [str(c) for c in listed] if isinstance(listed, list) else _differing_columns(base, cand)
    )
    evidence.partitions = _partition_diffs(base, cand) or _evidence_partitions(raw.get("tables"))
    for name, value in sorted(raw.items()):
        if name in _CONSUMED or ("sample" in name and settings.diff_sample_rows <= 0):
            continue
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
        evidence.other.append((name, text[:4000]))
    if example is not None and example.reason:
        evidence.reason = example.reason if raw_values else mask_error(example.reason)
    if finding.perf is not None:
        evidence.perf = _perf_evidence(finding.perf, memory_first=key.verdict == MEMORY_REGRESSED)
    config_path = str(data.run.get("config_path") or DEFAULT_CONFIG)
    evidence.replay = (
        replay_command(config_path, key.tenant, key.candidate, query_id=query_id)
        if query_id and finding.perf is None
        else replay_command(config_path, key.tenant, key.candidate, pattern_id=key.pattern_id)
    )
    return evidence


def build_evidence(
    findings: list[Finding], data: RunData, settings: ReportSection
) -> dict[str, Evidence]:
    """Evidence of every finding, by finding id (executions are indexed once)."""
    executions: dict[tuple[str, str], list[Execution]] = {}
    for e in data.executions:
        executions.setdefault((e.tenant, e.query_id), []).append(e)
    first_query: dict[tuple[str, str], str] = {}
    for (tenant, query_id), row in sorted(data.queries.items()):
        first_query.setdefault((tenant, str(row.get("pattern_id") or "")), query_id)
    return {f.id: _evidence(f, data, settings, executions, first_query) for f in findings}


def _perf_evidence(p: PerfVerdict, *, memory_first: bool) -> list[tuple[str, str]]:
    """A perf finding's statistics: the judged time, the other time's ratio, and the
    peak-memory verdict where there is one (first for a ``memory_regressed`` finding)."""
    latency = [
        (f"ratio of {p.metric} time (candidate/baseline)", f"{p.ratio:.3f}"),
        ("confidence interval", f"{p.ci_low:.3f} – {p.ci_high:.3f}"),
        (f"baseline / candidate {p.metric} ms", f"{p.baseline_ms:.2f} / {p.candidate_ms:.2f}"),
        ("p / q value", f"{p.p_value:.4g} / {p.q_value:.4g}"),
        ("pairs", f"{p.pairs}{' (escalated)' if p.escalated else ''}"),
    ]
    if p.other_ratio is not None:
        other = "wall" if p.metric == "cpu" else "cpu"
        latency.append((f"ratio of {other} time, not judged", f"{p.other_ratio:.3f}"))
    m = p.memory
    if m is None:
        return latency
    memory = [
        (f"peak RSS ({m.verdict}) ratio", f"{m.ratio:.3f}"),
        ("peak RSS confidence interval", f"{m.ci_low:.3f} – {m.ci_high:.3f}"),
        ("baseline / candidate peak RSS MiB", f"{m.baseline_mb:.1f} / {m.candidate_mb:.1f}"),
        ("peak RSS p / q value", f"{m.p_value:.4g} / {m.q_value:.4g}"),
        ("peak RSS pairs", f"{m.pairs}{' (escalated)' if m.escalated else ''}"),
    ]
    return memory + latency if memory_first else latency + memory
