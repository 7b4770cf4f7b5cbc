"""Fault injection around an engine worker: latency, memory, injected errors and lost writes.

Configured by ``[engines.NAME.faults]`` (:class:`simulator.config.FaultsSection`)::

    [engines.candidate.faults]
    enabled = true               # required: without it any other fault key is refused
    seed = 1                     # faults are drawn from a seeded generator
    error_rate = 0.05            # fraction of statements answered with InjectedFault
    error_kinds = ["select"]     # statement kinds that may get an error ([] = all)
    [engines.candidate.faults.latency]
    kinds = ["select"]           # [] = all kinds
    tables = ["customers"]       # only statements that name one of these tables ([] = all)
    factor = 1.5                 # the engine's own time is stretched by this factor
    fixed_ms = 20                # plus a fixed delay
    jitter_ms = 10               # plus a uniform random delay in [0, jitter_ms)
    only_under_load = false      # only while other executions are in flight
    [engines.candidate.faults.memory]
    kinds = ["select"]           # [] = all kinds
    tables = ["customers"]       # only statements that name one of these tables ([] = all)
    factor = 1.3                 # the worker's peak RSS over the statement grows by this
    [engines.candidate.faults.lost_writes]
    rate = 0.5                   # fraction of eligible writes that lose partitions
    kinds = ["insert", "ctas", "delete"]
    partitions = 1               # partitions lost per faulty write
    only_under_load = true       # only while other executions are in flight

Lost writes reproduce the 2020 incident: an ``INSERT ... SELECT`` or CTAS reports the full
row count while the rows of ``partitions`` partitions never land (the statement is rewritten
with sqlglot to filter those partition values out, and the dropped rows are added back to
the reported count); a ``DELETE`` reports the full count while the matching rows of some
partitions stay. The partition column is the target table's first partition column (from
its TableSpec) or, for a CTAS target or an unpartitioned table, the first output column
named like one of ``partition_candidates`` (default ``day``, ``dt``, ``ds``, ``date``).
A write that has no such column, or whose source is not a query, is run untouched.

The memory fault is real memory: the worker process allocates and touches what it takes
for its RSS high-water mark over the statement to reach ``factor`` x the mark the statement
reached by itself, after the engine's measured spans (CPU and wall time do not grow), and
frees it once the mark is read (``Worker.stream`` in worker_main).

Faults cannot be switched on by accident: :func:`wrap` returns the worker itself when
``enabled`` is false, and refuses (ConfigError) a faults table that sets anything while
``enabled`` is false. Every outcome's ``fault`` field says what was injected.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pyarrow as pa
import sqlglot
from sqlglot import exp

from simulator.config import EngineSpec, FaultsSection
from simulator.engines.contract import TableSpec
from simulator.engines.outcome import Sink, WorkerOutcome
from simulator.engines.protocol import ResultRequest
from simulator.engines.worker import EngineWorker
from simulator.errors import ConfigError
from simulator.workload.classify import kind_of

PARTITION_CANDIDATES = ("day", "dt", "ds", "date")
ALIAS = "qsim_lost"


def statement_kind(sql: str, dialect: str) -> str:
    """select | insert | ctas | delete | update | merge | ddl | other | unparseable."""
    try:
        trees = sqlglot.parse(sql, read=dialect or None)
    except sqlglot.errors.SqlglotError:
        return "unparseable"
    trees = [tree for tree in trees if tree is not None]
    if len(trees) != 1:
        return "other"
    return kind_of(trees[0])


def statement_tables(sql: str, dialect: str) -> set[str]:
    """Lower-cased names of every table ``sql`` names (read or written); empty when it
    cannot be parsed."""
    try:
        trees = sqlglot.parse(sql, read=dialect or None)
    except sqlglot.errors.SqlglotError:
        return set()
    return {t.name.lower() for tree in trees if tree is not None for t in tree.find_all(exp.Table)}


def check_faults(spec: EngineSpec) -> None:
    """Refuse a faults table that sets fault parameters without ``enabled = true``."""
    faults = spec.faults
    if not faults.enabled and replace(faults, enabled=False) != FaultsSection():
        raise ConfigError(
            f"engines.{spec.name}.faults: fault settings given without enabled = true "
            "(faults are never on by accident: write enabled = true, or remove the section)"
        )


def _literal(value: Any) -> exp.Expression:
    if isinstance(value, str | int | float | bool):
        return exp.convert(value)
    return exp.cast(exp.convert(str(value)), _sql_type(value))


def _sql_type(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return "TIMESTAMP"
    if isinstance(value, dt.date):
        return "DATE"
    return "VARCHAR"


class FaultInjector:
    """An EngineWorker look-alike that injects the faults of ``spec.faults``.

    ``in_flight()`` returns how many executions are running elsewhere (the runner's count);
    ``tables`` are the worker's tables, for their partition columns. Not thread-safe, like
    the worker it wraps.
    """

    def __init__(
        self,
        worker: EngineWorker,
        spec: EngineSpec,
        in_flight: Callable[[], int] = lambda: 0,
        tables: list[TableSpec] | None = None,
        partition_candidates: tuple[str, ...] = PARTITION_CANDIDATES,
    ) -> None:
        check_faults(spec)
        if not spec.faults.enabled:
            raise ConfigError(f"engines.{spec.name}.faults: enabled = true is required")
        self.worker = worker
        self.spec = spec
        self.faults = spec.faults
        self.in_flight = in_flight
        self.dialect = spec.dialect or spec.adapter
        self.partitions = {table.name.lower(): table.partition_columns for table in tables or []}
        self.partition_candidates = partition_candidates
        self.random = random.Random(f"{self.faults.seed}:{spec.name}")

    @property
    def version(self) -> str:
        """The wrapped engine's version."""
        return self.worker.version

    @property
    def pid(self) -> int | None:
        """The wrapped worker's process id."""
        return self.worker.pid

    def start(self) -> str:
        """Start the wrapped worker."""
        return self.worker.start()

    def restart(self) -> str:
        """Restart the wrapped worker."""
        return self.worker.restart()

    def close(self) -> None:
        """Close the wrapped worker."""
        self.worker.close()

    def read_table(self, name: str, sink: Sink, timeout_s: float = 600.0) -> WorkerOutcome:
        """Post-state reads are never faulted: they are how qsim sees what landed."""
        return self.worker.read_table(name, sink, timeout_s)

    @property
    def has_explain(self) -> bool:
        """Whether the wrapped worker's adapter has plans."""
        return self.worker.has_explain

    def explain(self, sql: str) -> dict[str, Any]:
        """Plans are never faulted: they are read, not timed."""
        return self.worker.explain(sql)

    @property
    def has_partition_digests(self) -> bool:
        """Whether the wrapped worker's adapter digests partitions."""
        return self.worker.has_partition_digests

    def partition_digests(
        self, name: str, columns: list[str], sink: Sink, timeout_s: float = 600.0
    ) -> WorkerOutcome:
        """The engine's partition digests, unfaulted (they find what a write changed)."""
        return self.worker.partition_digests(name, columns, sink, timeout_s)

    @property
    def has_row_digests(self) -> bool:
        """Whether the wrapped worker's adapter digests partitions by row identity."""
        return self.worker.has_row_digests

    def partition_row_digests(
        self, name: str, columns: list[str], sink: Sink, timeout_s: float = 600.0
    ) -> WorkerOutcome:
        """The engine's row-identity digests, unfaulted like ``partition_digests``."""
        return self.worker.partition_row_digests(name, columns, sink, timeout_s)

    def read_partitions(
        self, name: str, columns: list[str], ids: list[int], sink: Sink, timeout_s: float = 600.0
    ) -> WorkerOutcome:
        """Post-state reads of some partitions, unfaulted like ``read_table``."""
        return self.worker.read_partitions(name, columns, ids, sink, timeout_s)

    def table_state(
        self, name: str, columns: list[str], ids: list[int] | None = None, timeout_s: float = 600.0
    ) -> WorkerOutcome:
        """Post-state checksums computed in the worker, unfaulted like ``read_table``."""
        return self.worker.table_state(name, columns, ids, timeout_s)

    def table_row_count(self, name: str) -> int:
        """Row count, unfaulted."""
        return self.worker.table_row_count(name)

    def list_tables(self) -> list[str]:
        """Tables, unfaulted."""
        return self.worker.list_tables()

    def __enter__(self) -> FaultInjector:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _draw(self, rate: float, kinds: tuple[str, ...], kind: str) -> bool:
        if rate <= 0 or (kinds and kind not in kinds):
            return False
        return self.random.random() < rate

    def execute(
        self,
        sql: str,
        timeout_s: float,
        sink: Sink | None = None,
        result: ResultRequest | None = None,
    ) -> WorkerOutcome:
        """Run ``sql`` through the worker with this engine's faults applied."""
        kind = statement_kind(sql, self.dialect)
        if self._draw(self.faults.error_rate, self.faults.error_kinds, kind):
            return WorkerOutcome(
                status="error",
                error_class="InjectedFault",
                error_message=f"injected error (faults.error_rate = {self.faults.error_rate})",
                fault="error",
            )
        lost = self.faults.lost_writes
        outcome = None
        if (not lost.only_under_load or self.in_flight() > 0) and self._draw(
            lost.rate, lost.kinds, kind
        ):
            outcome = self._lose_writes(sql, kind, timeout_s, sink, result)
        if outcome is None:
            factor = self._memory_factor(kind, sql)
            if factor == 1.0:
                outcome = self.worker.execute(sql, timeout_s, sink, result)
            else:
                outcome = self.worker.execute(sql, timeout_s, sink, result, memory_factor=factor)
                note = f"memory:x{factor:g}"
                outcome = replace(
                    outcome, fault=f"{outcome.fault};{note}" if outcome.fault else note
                )
        return self._delay(outcome, kind, sql)

    def _applies(
        self, kinds: tuple[str, ...], tables: tuple[str, ...], kind: str, sql: str
    ) -> bool:
        """Whether a fault limited to ``kinds`` and ``tables`` (empty: any) hits ``sql``."""
        if kinds and kind not in kinds:
            return False
        return not tables or bool({t.lower() for t in tables} & statement_tables(sql, self.dialect))

    def _memory_factor(self, kind: str, sql: str) -> float:
        memory = self.faults.memory
        if memory.factor == 1.0 or not self._applies(memory.kinds, memory.tables, kind, sql):
            return 1.0
        return memory.factor

    def _delay(self, outcome: WorkerOutcome, kind: str, sql: str) -> WorkerOutcome:
        latency = self.faults.latency
        if not self._applies(latency.kinds, latency.tables, kind, sql):
            return outcome
        if latency.only_under_load and self.in_flight() == 0:
            return outcome
        extra = latency.fixed_ms + (latency.factor - 1.0) * outcome.wall_ms
        if latency.jitter_ms > 0:
            extra += self.random.uniform(0, latency.jitter_ms)
        if extra <= 0 or outcome.status in ("timeout", "crash"):
            return outcome
        time.sleep(extra / 1000)
        note = f"latency:+{extra:.1f}ms"
        # The injected delay stands for a slower engine, so the CPU time it would have spent
        # grows in the same proportion as its wall time (a sleep itself burns no CPU).
        cpu_ms = outcome.cpu_ms
        if cpu_ms is not None and outcome.wall_ms > 0:
            cpu_ms *= (outcome.wall_ms + extra) / outcome.wall_ms
        return replace(
            outcome,
            wall_ms=outcome.wall_ms + extra,
            cpu_ms=cpu_ms,
            fault=f"{outcome.fault};{note}" if outcome.fault else note,
        )

    def _query(self, sql: str, timeout_s: float) -> pa.Table | None:
        batches: list[pa.RecordBatch] = []
        outcome = self.worker.execute(sql, timeout_s, batches.append)
        if outcome.status != "ok" or not batches:
            return None
        return pa.Table.from_batches(batches)

    def _partition_column(self, target: str, columns: list[str]) -> str | None:
        declared = self.partitions.get(target.lower(), ())
        lowered = {column.lower(): column for column in columns}
        for column in (*declared, *self.partition_candidates):
            if column.lower() in lowered:
                return lowered[column.lower()]
        return None

    def _columns_of(self, query: exp.Expression, timeout_s: float) -> list[str]:
        probe = exp.select("*").from_(query.subquery(ALIAS)).limit(0)
        outcome = self.worker.execute(probe.sql(self.dialect), timeout_s)
        return [name for name, _type in outcome.schema] if outcome.status == "ok" else []

    def _choose(self, counts: pa.Table) -> tuple[list[Any], int]:
        rows = [(v, n) for v, n in zip(*counts.to_pydict().values(), strict=True) if v is not None]
        chosen = self.random.sample(rows, min(self.faults.lost_writes.partitions, len(rows)))
        return [value for value, _ in chosen], sum(n for _, n in chosen)

    def _lose_writes(
        self,
        sql: str,
        kind: str,
        timeout_s: float,
        sink: Sink | None = None,
        result: ResultRequest | None = None,
    ) -> WorkerOutcome | None:
        """Run a rewritten write that loses partitions; None when it cannot be rewritten."""
        tree = sqlglot.parse_one(sql, read=self.dialect)
        if kind in ("insert", "ctas"):
            query = tree.expression
            if not isinstance(query, exp.Query):
                return None
            target = tree.this.find(exp.Table) if tree.this is not None else None
            if target is None:
                return None
            column = self._partition_column(target.name, self._columns_of(query, timeout_s))
            if column is None:
                return None
            key = exp.column(column, table=ALIAS, quoted=True)
            source = query.subquery(ALIAS)
            grouped = exp.select(key, "count(*)").from_(source.copy()).group_by(key.copy())
            counts = self._query(grouped.sql(self.dialect), timeout_s)
            if counts is None:
                return None
            values, dropped = self._choose(counts)
            if not values:
                return None
            kept = exp.not_(exp.In(this=key.copy(), expressions=[_literal(v) for v in values]))
            rewritten = tree.copy()
            rewritten.set("expression", exp.select("*").from_(source.copy()).where(kept))
        elif kind == "delete":
            target = tree.this if isinstance(tree.this, exp.Table) else tree.find(exp.Table)
            if target is None:
                return None
            table_sql = target.sql(self.dialect)
            probe = self.worker.execute(f"SELECT * FROM {table_sql} LIMIT 0", timeout_s)
            names = [name for name, _type in probe.schema] if probe.status == "ok" else []
            column = self._partition_column(target.name, names)
            if column is None:
                return None
            key = exp.column(column, quoted=True)
            condition = tree.args.get("where")
            grouped = exp.select(key, "count(*)").from_(target.copy()).group_by(key.copy())
            if condition is not None:
                grouped = grouped.where(condition.this.copy())
            counts = self._query(grouped.sql(self.dialect), timeout_s)
            if counts is None:
                return None
            values, dropped = self._choose(counts)
            if not values:
                return None
            kept = exp.not_(exp.In(this=key.copy(), expressions=[_literal(v) for v in values]))
            rewritten = tree.copy()
            new_where = kept if condition is None else exp.and_(condition.this.copy(), kept)
            rewritten.set("where", exp.Where(this=new_where))
        else:
            return None
        outcome = self.worker.execute(rewritten.sql(self.dialect), timeout_s, sink, result)
        if outcome.status != "ok":
            return outcome
        reported = (outcome.rows_affected or 0) + dropped
        shown = ",".join(str(value) for value in values)
        return replace(
            outcome,
            rows_affected=reported,
            fault=f"lost_writes:{kind}:{column}={shown}:{dropped} rows not applied",
        )


def wrap(
    worker: EngineWorker,
    spec: EngineSpec,
    in_flight: Callable[[], int] = lambda: 0,
    tables: list[TableSpec] | None = None,
) -> EngineWorker | FaultInjector:
    """``worker`` itself when ``spec.faults.enabled`` is false, else a FaultInjector.

    Refuses (ConfigError) fault settings written without ``enabled = true``.
    """
    check_faults(spec)
    if not spec.faults.enabled:
        return worker
    return FaultInjector(worker, spec, in_flight, tables)
