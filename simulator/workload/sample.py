"""Coverage sampling: cut a normalized log to a budget while keeping every pattern of every
tenant, every statement kind of every tenant, whole write pipelines in order, and several
parameterizations of heavy patterns; each sampled query carries the number of log queries
it stands for (``weight``).

Units and groups. A *unit* is what is sampled whole: one standalone statement, or one
pipeline instance (the statements a tenant runs to build a table, in log order). A *group*
is a tenant's units of one shape: the pattern id of a statement, or the sequence of pattern
ids of a pipeline. Selection, within the budget:

1. one unit of the largest group of each (tenant, kind) pair, so every kind of every tenant
   is present even when the budget cannot cover every pattern;
2. one unit of every other group, tenants taking turns, each tenant's biggest first (by
   log queries, or engine time when the budget is in milliseconds), skipping groups whose
   unit no longer fits;
3. more units of distinct texts, first up to ``diversity`` per group, then always to the
   group whose sampled units stand for the most log units each.

Weight of every statement of a kept group = units in the log / units sampled. Everything
random is drawn from ``numpy.random.default_rng(seed)`` in a fixed order: same log, same
parameters, same workload.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import xxhash

from simulator.errors import WorkloadError
from simulator.progress import progress
from simulator.workload.classify import TABLE_WRITE_KINDS
from simulator.workload.fingerprint import Analysis, Analyzer
from simulator.workload.hashing import file_hash
from simulator.workload.ingest import log_dir
from simulator.workload.normalized import INGEST_FILE, LOG_FILE
from simulator.workload.selection import Group, SampleParams, select_units
from simulator.workload.store import Workload, WorkloadQuery, save_workload

_BATCH_ROWS = 50_000
_DEFAULT_MS = 1.0


@dataclass
class _Log:
    """The columns of a normalized log sampling needs, one entry per row (row order)."""

    tenants: list[str]
    tenant_code: np.ndarray
    submitted_at: np.ndarray
    duration_ms: np.ndarray
    text_hash: np.ndarray
    analysis_code: np.ndarray
    analyses: list[Analysis]
    pipelines: list[str]
    pipeline_code: np.ndarray
    analyzer: Analyzer


def sample_workload(
    workloads_dir: str | Path, log_name: str, name: str, params: SampleParams
) -> Workload:
    """Sample the normalized log ``log_name`` into workload ``name`` and return it.

    Raises WorkloadError if the log is missing or empty or the parameters are invalid.
    """
    params.check()
    source = log_dir(Path(workloads_dir), log_name)
    log_path = source / LOG_FILE
    if not log_path.is_file():
        raise WorkloadError(f"{source}: no normalized log named {log_name!r} (run ingest)")
    log = _read_log(log_path)
    rows = len(log.tenant_code)
    if rows == 0:
        raise WorkloadError(f"{log_path}: the log has no queries to sample")
    seq = _log_order(log)
    kinds = np.array([a.classification.kind for a in log.analyses], dtype=object)
    row_kind = kinds[log.analysis_code]
    pipeline_of = _pipelines(log, seq, row_kind)
    costs = _costs(log)
    groups = _groups(log, seq, pipeline_of, costs, params.seed)
    by_time = params.budget_ms > 0
    chosen = select_units(groups, costs, params, by_time)
    if not chosen:
        unit = "ms of engine time" if by_time else "queries"
        budget = params.budget_ms if by_time else params.budget
        raise WorkloadError(
            f"{log_path}: a budget of {budget:g} {unit} keeps no query; raise --budget"
            + ("-ms" if by_time else "")
        )
    queries = _materialize(log_path, log, groups, chosen, seq, pipeline_of)
    manifest = _manifest(source, log_name, log, groups, chosen, queries, row_kind, params)
    return save_workload(workloads_dir, name, queries, manifest)


def _read_log(path: Path) -> _Log:
    analyzer = Analyzer()
    analyses: list[Analysis] = []
    analysis_index: dict[int, int] = {}
    by_text: dict[tuple[int, str], int] = {}
    tenant_index: dict[str, int] = {}
    pipeline_index: dict[str, int] = {"": 0}
    parts: dict[str, list[np.ndarray]] = defaultdict(list)
    columns = ["tenant", "submitted_at", "duration_ms", "text_hash", "dialect", "pipeline", "sql"]
    try:
        parquet = pq.ParquetFile(path)
        missing = [c for c in columns if c not in parquet.schema_arrow.names]
    except (OSError, pa.ArrowException) as err:
        raise WorkloadError(f"{path}: unreadable normalized log ({err})") from None
    if missing:
        raise WorkloadError(f"{path}: not a normalized log (no column {missing[0]!r})")
    with progress(parquet.metadata.num_rows, "classify") as bar:
        for batch in parquet.iter_batches(batch_size=_BATCH_ROWS, columns=columns):
            hashes = batch.column("text_hash").to_numpy(zero_copy_only=False)
            dialects = batch.column("dialect").to_pylist()
            sql_column = batch.column("sql")
            codes = np.empty(len(hashes), dtype=np.int32)
            for i, (text, dialect) in enumerate(zip(hashes.tolist(), dialects, strict=True)):
                code = by_text.get((text, dialect))
                if code is None:
                    analysis = analyzer.analyze(sql_column[i].as_py(), dialect, text)
                    # Texts of one shape share one Analysis object: code it once.
                    code = analysis_index.setdefault(id(analysis), len(analyses))
                    if code == len(analyses):
                        analyses.append(analysis)
                    by_text[(text, dialect)] = code
                codes[i] = code
            parts["analysis"].append(codes)
            parts["text"].append(hashes.astype(np.uint64))
            parts["tenant"].append(_codes(batch.column("tenant").to_pylist(), tenant_index))
            parts["pipeline"].append(_codes(batch.column("pipeline").to_pylist(), pipeline_index))
            parts["at"].append(batch.column("submitted_at").to_numpy(zero_copy_only=False))
            durations = batch.column("duration_ms").to_numpy(zero_copy_only=False)
            parts["ms"].append(durations.astype(np.float64))
            bar.update(len(hashes))

    def joined(key: str, dtype: Any) -> np.ndarray:
        return np.concatenate(parts[key]) if parts[key] else np.empty(0, dtype=dtype)

    return _Log(
        tenants=list(tenant_index),
        tenant_code=joined("tenant", np.int32),
        submitted_at=joined("at", np.float64),
        duration_ms=joined("ms", np.float64),
        text_hash=joined("text", np.uint64),
        analysis_code=joined("analysis", np.int32),
        analyses=analyses,
        pipelines=list(pipeline_index),
        pipeline_code=joined("pipeline", np.int32),
        analyzer=analyzer,
    )


def _pattern_codes(log: _Log) -> np.ndarray:
    """Per analysis, a dense code of its pattern id (analyses of one pattern share it)."""
    ids = np.array([a.pattern_id for a in log.analyses], dtype=object)
    return np.unique(ids, return_inverse=True)[1].astype(np.int64).reshape(-1)


def _codes(values: list[Any], index: dict[str, int]) -> np.ndarray:
    out = np.empty(len(values), dtype=np.int32)
    for i, value in enumerate(values):
        key = value or ""
        code = index.get(key)
        if code is None:
            code = index[key] = len(index)
        out[i] = code
    return out


def _log_order(log: _Log) -> np.ndarray:
    """Rows in replay order: by tenant, then submission time, then position in the log."""
    rows = np.arange(len(log.tenant_code))
    return np.lexsort((rows, log.submitted_at, log.tenant_code))


def _pipelines(log: _Log, order: np.ndarray, row_kind: np.ndarray) -> dict[int, str]:
    """Pipeline id of every row that belongs to one (rows absent: standalone).

    The log's own pipeline ids win. Otherwise a pipeline is inferred per tenant: a DROP or
    CTAS of table T opens one, later writes to T and reads of T join it, in log order.
    """
    pipeline_of: dict[int, str] = {}
    explicit = log.pipeline_code != 0
    for row in np.flatnonzero(explicit).tolist():
        tenant = log.tenants[log.tenant_code[row]]
        pipeline_of[row] = f"{tenant}:{log.pipelines[log.pipeline_code[row]]}"
    candidates = order[(~explicit[order]) & _touches_tables(log, row_kind, order)]
    open_by_table: dict[tuple[int, str], str] = {}
    opened_by_drop: set[str] = set()
    counter: Counter[tuple[int, str]] = Counter()
    for row in candidates.tolist():
        tenant = int(log.tenant_code[row])
        info = log.analyses[log.analysis_code[row]].classification
        kind = info.kind
        target = info.tables_written[0] if info.tables_written else ""
        if kind in ("ctas", "ddl") and target:
            current = open_by_table.get((tenant, target))
            if kind == "ctas" and current in opened_by_drop:
                opened_by_drop.discard(current)
                pipeline_of[row] = current
                continue
            counter[(tenant, target)] += 1
            pipeline = f"{log.tenants[tenant]}:{target}:{counter[(tenant, target)]}"
            open_by_table[(tenant, target)] = pipeline
            if kind == "ddl":
                opened_by_drop.add(pipeline)
            pipeline_of[row] = pipeline
            continue
        joined = open_by_table.get((tenant, target)) if target else None
        if joined is None:
            for table in info.tables_read:
                joined = open_by_table.get((tenant, table))
                if joined:
                    break
        if joined:
            pipeline_of[row] = joined
    return pipeline_of


def _touches_tables(log: _Log, row_kind: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Rows (in ``order``) that could belong to an inferred pipeline: writes, and reads of a
    table some statement of the log writes. A cheap pre-filter on analyses, not rows."""
    written = {
        table
        for a in log.analyses
        if a.classification.kind in TABLE_WRITE_KINDS
        for table in a.classification.tables_written
    }
    reads_written = np.array(
        [bool(written.intersection(a.classification.tables_read)) for a in log.analyses] or [False]
    )
    is_write = np.isin(row_kind[order], list(TABLE_WRITE_KINDS))
    return is_write | reads_written[log.analysis_code[order]]


def _costs(log: _Log) -> np.ndarray:
    """Engine time per row: its duration, else the median of its pattern, else 1 ms."""
    durations = log.duration_ms.copy()
    missing = np.isnan(durations)
    if missing.any():
        known = ~missing
        medians = np.full(len(log.analyses), np.nan)
        if known.any():
            codes = log.analysis_code[known]
            order = np.argsort(codes, kind="stable")
            sorted_codes = codes[order]
            values = durations[known][order]
            starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
            for start, end in zip(starts, np.r_[starts[1:], len(values)], strict=True):
                medians[sorted_codes[start]] = np.median(values[start:end])
        fill = medians[log.analysis_code[missing]]
        fill[np.isnan(fill)] = _DEFAULT_MS
        durations[missing] = fill
    return durations


def _groups(
    log: _Log, order: np.ndarray, pipeline_of: dict[int, str], costs: np.ndarray, seed: int
) -> list[Group]:
    rng = np.random.default_rng(seed)
    pattern_ids = [a.pattern_id for a in log.analyses]
    kinds = [a.classification.kind for a in log.analyses]
    groups: list[Group] = []
    # Pipelines: collect instances in log order, group by (tenant, pattern sequence).
    instances: dict[str, list[int]] = defaultdict(list)
    for row in order.tolist():
        pipeline = pipeline_of.get(row)
        if pipeline is not None:
            instances[pipeline].append(row)
    by_shape: dict[tuple[int, str], list[tuple[int, ...]]] = defaultdict(list)
    for rows in instances.values():
        shape = "|".join(pattern_ids[log.analysis_code[r]] for r in rows)
        key = xxhash.xxh3_64_hexdigest(shape.encode())
        by_shape[(int(log.tenant_code[rows[0]]), key)].append(tuple(rows))
    for (tenant, key), units in sorted(by_shape.items()):
        first = units[0]
        group = Group(
            tenant=tenant,
            kinds=frozenset(kinds[log.analysis_code[r]] for r in first),
            key=f"pipeline:{key}",
            units=len(units),
            unit_rows=len(first),
            cost_total=float(sum(costs[list(u)].sum() for u in units)),
        )
        shuffled = [units[i] for i in rng.permutation(len(units))]
        seen: set[tuple[int, ...]] = set()
        for unit in shuffled:
            texts = tuple(int(log.text_hash[r]) for r in unit)
            if texts not in seen:
                seen.add(texts)
                group.pool.append(unit)
        groups.append(group)
    # Standalone statements: group rows by (tenant, pattern id) with numpy.
    standalone = np.ones(len(log.tenant_code), dtype=bool)
    if pipeline_of:
        standalone[np.fromiter(pipeline_of, dtype=np.int64)] = False
    rows = np.flatnonzero(standalone)
    if len(rows) == 0:
        return groups
    pattern_code = _pattern_codes(log)
    keys = (
        log.tenant_code[rows].astype(np.int64) * (len(pattern_ids) + 1)
        + pattern_code[log.analysis_code[rows]]
    )
    by_key = np.argsort(keys, kind="stable")
    rows, keys = rows[by_key], keys[by_key]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    for start, end in zip(starts.tolist(), np.r_[starts[1:], len(keys)].tolist(), strict=True):
        members = rows[start:end]
        first = int(members[0])
        code = log.analysis_code[first]
        shuffled = members[rng.permutation(len(members))]
        _, first_seen = np.unique(log.text_hash[shuffled], return_index=True)
        pool = shuffled[np.sort(first_seen)]
        groups.append(
            Group(
                tenant=int(log.tenant_code[first]),
                kinds=frozenset({kinds[code]}),
                key=pattern_ids[code],
                units=len(members),
                unit_rows=1,
                cost_total=float(costs[members].sum()),
                pool=[(int(r),) for r in pool.tolist()],
            )
        )
    return groups


def _materialize(
    log_path: Path,
    log: _Log,
    groups: list[Group],
    chosen: dict[int, list[tuple[int, ...]]],
    seq: np.ndarray,
    pipeline_of: dict[int, str],
) -> list[WorkloadQuery]:
    """Read the chosen rows back from the log and build WorkloadQuery records."""
    weight_of: dict[int, float] = {}
    for index, units in chosen.items():
        for unit in units:
            for row in unit:
                weight_of[row] = groups[index].units / len(units)
    rank = np.empty(len(seq), dtype=np.int64)
    tenant_sorted = log.tenant_code[seq]
    starts = np.r_[0, np.flatnonzero(tenant_sorted[1:] != tenant_sorted[:-1]) + 1]
    positions = np.arange(len(seq)) - np.repeat(starts, np.diff(np.r_[starts, len(seq)]))
    rank[seq] = positions
    wanted = np.array(sorted(weight_of), dtype=np.int64)
    queries: list[WorkloadQuery] = []
    parquet = pq.ParquetFile(log_path)
    offset = 0
    columns = ["query_id", "tenant", "submitted_at", "sql", "dialect", "duration_ms"]
    for batch in parquet.iter_batches(batch_size=_BATCH_ROWS, columns=columns):
        lo, hi = np.searchsorted(wanted, [offset, offset + batch.num_rows])
        picks = wanted[lo:hi]
        if len(picks):
            subset = batch.take(picks - offset).to_pylist()
            for row, values in zip(picks.tolist(), subset, strict=True):
                info = log.analyses[log.analysis_code[row]]
                c = info.classification
                queries.append(
                    WorkloadQuery(
                        query_id=values["query_id"],
                        tenant=values["tenant"],
                        seq=int(rank[row]),
                        submitted_at=values["submitted_at"],
                        sql=values["sql"],
                        dialect=values["dialect"],
                        kind=c.kind,
                        pattern_id=info.pattern_id,
                        tables_read=list(c.tables_read),
                        tables_written=list(c.tables_written),
                        order_by=c.order_by,
                        order_keys=list(c.order_keys),
                        limit=c.limit,
                        nondeterministic=list(c.nondeterministic),
                        **c.reach_fields(),
                        parse_error=c.parse_error,
                        weight=weight_of[row],
                        pipeline=pipeline_of.get(row, ""),
                        duration_ms=values["duration_ms"],
                    )
                )
        offset += batch.num_rows
    queries.sort(key=lambda q: (q.tenant, q.seq))
    return queries


def _manifest(
    source: Path,
    log_name: str,
    log: _Log,
    groups: list[Group],
    chosen: dict[int, list[tuple[int, ...]]],
    queries: list[WorkloadQuery],
    row_kind: np.ndarray,
    params: SampleParams,
) -> dict[str, Any]:
    rows = len(log.tenant_code)
    costs_total = float(np.nansum(log.duration_ms))
    kept_groups = [groups[i] for i in chosen]
    represented = sum(g.units * g.unit_rows for g in kept_groups)
    has_time = not np.isnan(log.duration_ms).all()
    time_kept = 0.0
    if has_time:
        for group_index in chosen:
            time_kept += groups[group_index].cost_total
    # Coverage counts statement patterns per tenant; a pipeline covers each of its patterns.
    pairs = np.unique(
        log.tenant_code.astype(np.int64) * (len(log.analyses) + 1)
        + _pattern_codes(log)[log.analysis_code]
    )
    sampled_pairs = {(q.tenant, q.pattern_id) for q in queries}
    per_tenant: dict[str, dict[str, Any]] = {}
    log_tenant_counts = np.bincount(log.tenant_code, minlength=len(log.tenants))
    pair_tenants = np.bincount(pairs // (len(log.analyses) + 1), minlength=len(log.tenants))
    for code, tenant in sorted(enumerate(log.tenants), key=lambda item: item[1]):
        per_tenant[tenant] = {
            "log_queries": int(log_tenant_counts[code]),
            "queries": sum(1 for q in queries if q.tenant == tenant),
            "patterns_total": int(pair_tenants[code]),
            "patterns_kept": sum(1 for t, _ in sampled_pairs if t == tenant),
        }
    log_kinds = Counter(row_kind.tolist())
    pairs_seen = zip(log.tenant_code.tolist(), row_kind.tolist(), strict=True)
    tenant_kinds = {(log.tenants[t], k) for t, k in set(pairs_seen)}
    kinds_missing = sorted(tenant_kinds - {(q.tenant, q.kind) for q in queries})
    sampled_kinds = Counter(q.kind for q in queries)
    ingest_meta: dict[str, Any] = {}
    ingest_path = source / INGEST_FILE
    if ingest_path.is_file():
        ingest_meta = json.loads(ingest_path.read_text())
    return {
        "source": {
            "log": log_name,
            "log_hash": file_hash(source / LOG_FILE),
            "source_hash": ingest_meta.get("source_hash", ""),
            "source_path": ingest_meta.get("source", ""),
        },
        "params": {
            "budget": params.budget,
            "budget_ms": params.budget_ms,
            "seed": params.seed,
            "diversity": params.diversity,
        },
        "coverage": {
            "queries": len(queries),
            "tenants": len(per_tenant),
            "log_queries": rows,
            "log_queries_represented": round(represented, 6),
            "represented_share": round(represented / rows, 6),
            "log_engine_ms": round(costs_total, 3) if has_time else None,
            "engine_ms_represented": round(time_kept, 3) if has_time else None,
            "represented_time_share": (
                round(time_kept / costs_total, 6) if has_time and costs_total else None
            ),
            "patterns_total": len(pairs),
            "patterns_kept": len(sampled_pairs),
            "groups_total": len(groups),
            "groups_kept": len(chosen),
            "distinct_patterns": len({a.pattern_id for a in log.analyses}),
            "distinct_texts": log.analyzer.tokenized,
            "shapes_parsed": log.analyzer.parsed,
            "pipelines_total": sum(g.units for g in groups if g.key.startswith("pipeline:")),
            "pipelines_kept": sum(
                len(chosen[i]) for i in chosen if groups[i].key.startswith("pipeline:")
            ),
            "unparseable": int(log_kinds.get("unparseable", 0)),
            "kinds": {
                kind: {"log": int(log_kinds[kind]), "sampled": int(sampled_kinds.get(kind, 0))}
                for kind in sorted(log_kinds)
            },
            "kinds_missing": [f"{tenant}:{kind}" for tenant, kind in kinds_missing],
            "per_tenant": per_tenant,
        },
    }
