"""Per-query comparison overhead against engine time, on the demo world and query mix.

    .venv/bin/python -m benchmarks.bench_compare [--statements N] [--scale S] [--clock cpu|wall]

Builds one tenant of the synthetic demo world (``datasets.synthetic.world``) in an
in-process DuckDB, synthesizes the demo's Trino query log (``workload.synth``), transpiles
each statement to DuckDB and runs it in log order. For every statement it times:

- engine: execute and fetch the whole result as Arrow (the reference);
- qsim: what the comparison adds per query: streaming ``ChecksumAccumulator`` over the
  result batches, keeping the result as an IPC file when the runner would (float/decimal
  columns, at most ``compare.keep_result_rows`` rows), and ``judge_query`` of a candidate
  against two baseline runs (the determinism repeat included);
- write verification (write statements only): reading every written table back as Arrow
  and ``TableStateBuilder`` per partition, reported separately because the read-back is
  engine work done for qsim.

Prints the totals and the overhead ratio qsim / engine (target under 5%), with and without
write verification, and the median per-query ratio. In-process DuckDB has no worker
process or IPC hop, so the engine times here are the smallest qsim will ever see: the
ratio is an upper bound of the real overhead.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from simulator.canonical import ChecksumAccumulator
from simulator.compare.judge import judge_query
from simulator.compare.tables import TableStateBuilder
from simulator.config import CompareSection, EngineSpec
from simulator.datasets.synthetic import world
from simulator.results.execution import Execution
from simulator.workload.classify import ROW_WRITE_KINDS, classify, parse_statement
from simulator.workload.synth import synthesize_log
from simulator.workload.transpile import transpile

TARGET_OVERHEAD = 0.05


@dataclass
class Facts:
    """The QueryFacts of one statement, from the workload's classifier."""

    query_id: str
    kind: str
    order_by: bool
    order_keys: tuple[str, ...]
    limit: int | None
    nondeterministic: tuple[str, ...]
    tables_written: tuple[str, ...]
    tenant: str = "t01"
    pattern_id: str = "p"
    weight: float = 1.0


@dataclass
class Timing:
    kind: str
    engine_s: float
    checksum_s: float
    keep_s: float
    judge_s: float
    write_s: float
    rows: int

    @property
    def qsim_s(self) -> float:
        return self.checksum_s + self.keep_s + self.judge_s


def load_world(con: duckdb.DuckDBPyConnection, scale: float) -> dict[str, list[str]]:
    """Create tenant t01's tables; returns each table's partition columns."""
    partitions: dict[str, list[str]] = {}
    for tenant, table, rows, columns in world(scale, seed=42, tenants=1):
        if tenant != "t01":
            continue
        con.register("incoming", rows)
        con.execute(f"CREATE TABLE {table} AS SELECT * FROM incoming")
        con.unregister("incoming")
        partitions[table] = list(columns)
    return partitions


def statements(count: int, folder: Path) -> list[tuple[Facts, str]]:
    """The demo log's statements for t01, classified and transpiled to DuckDB."""
    log = synthesize_log(None, rows=count * 3, seed=7, out=folder / "log.jsonl", tenants=1)
    engine = EngineSpec(name="duckdb", adapter="duckdb", dialect="duckdb")
    out: list[tuple[Facts, str]] = []
    for line in log.path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        try:
            facts = classify(parse_statement(record["sql"], "trino"))
        except ValueError:
            continue
        transpiled = transpile(record["sql"], "trino", engine, tenant="t01")
        if transpiled.sql is None:
            continue
        out.append(
            (
                Facts(
                    query_id=record["query_id"],
                    kind=facts.kind,
                    order_by=facts.order_by,
                    order_keys=facts.order_keys,
                    limit=facts.limit,
                    nondeterministic=facts.nondeterministic,
                    tables_written=facts.tables_written,
                ),
                transpiled.sql,
            )
        )
        if len(out) >= count:
            break
    return out


def _execution(query_id: str, engine: str, rep: int) -> Execution:
    return Execution(
        execution_id=Execution.make_id("load", engine, "t01", query_id, rep),
        run_id="bench",
        engine=engine,
        tenant="t01",
        query_id=query_id,
        phase="load",
        repetition=rep,
    )


def checksum_result(table: pa.Table, record: Execution) -> None:
    """What the runner does with each streamed result: a checksum, never the rows."""
    accumulator = ChecksumAccumulator(table.schema)
    for batch in table.to_batches():
        accumulator.update(batch)
    record.result = accumulator.finish().to_dict()
    record.rows_returned = table.num_rows


def keep_result(table: pa.Table, record: Execution, folder: Path, keep_rows: int) -> None:
    """Keep small float/decimal results as an IPC file, as the runner does."""
    tolerant = any(
        pa.types.is_floating(f.type) or pa.types.is_decimal(f.type) for f in table.schema
    )
    if tolerant and table.num_rows <= keep_rows:
        path = folder / f"{record.execution_id.replace(':', '_')}.arrow"
        with pa.ipc.new_file(path, table.schema) as writer:
            writer.write_table(table)
        record.result_path = str(path)


def run_statement(
    con: duckdb.DuckDBPyConnection,
    facts: Facts,
    sql: str,
    partitions: dict[str, list[str]],
    folder: Path,
    cfg: CompareSection,
    clock: Callable[[], float],
) -> Timing | None:
    """Time the engine, the comparison and the write verification of one statement."""
    started = clock()
    try:
        relation = con.sql(sql)
        table = relation.to_arrow_table() if relation is not None else None
    except duckdb.Error:
        return None
    engine_s = clock() - started
    is_write = facts.kind in ROW_WRITE_KINDS and facts.tables_written

    started = clock()
    writes = {}
    if is_write:
        existing = {row[0].lower() for row in con.execute("SHOW TABLES").fetchall()}
        for name in facts.tables_written:
            if name.lower() not in existing:
                continue
            builder = TableStateBuilder(name, partitions.get(name, []))
            for batch in con.sql(f"SELECT * FROM {name}").to_arrow_reader(1 << 16):
                builder.update(batch)
            writes[name] = builder.finish()
    write_s = clock() - started

    runs = []
    checksum_s = keep_s = 0.0
    for engine, rep in (("baseline", 0), ("baseline", 1), ("candidate", 0)):
        record = _execution(facts.query_id, engine, rep)
        record.writes = writes
        if table is not None and not is_write:
            started = clock()
            checksum_result(table, record)
            checksum_s += clock() - started
            started = clock()
            keep_result(table, record, folder, cfg.keep_result_rows)
            keep_s += clock() - started
        runs.append(record)
    started = clock()
    verdict = judge_query(facts, runs[:2], runs[2], cfg, "candidate", "bench")
    judge_s = clock() - started
    if verdict.verdict not in ("match", "nondeterministic", "skipped"):
        raise AssertionError(f"{facts.query_id}: identical runs judged {verdict.verdict}")
    # Per query each engine execution is checksummed once (one engine's share of the three
    # here) and the candidate is judged once.
    return Timing(
        kind=facts.kind,
        engine_s=engine_s,
        checksum_s=checksum_s / 3,
        keep_s=keep_s / 3,
        judge_s=judge_s,
        write_s=write_s,
        rows=table.num_rows if table is not None else 0,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--statements", type=int, default=400)
    parser.add_argument("--scale", type=float, default=0.05)
    parser.add_argument(
        "--clock",
        choices=("cpu", "wall"),
        default="cpu",
        help="cpu: process CPU time (robust on a shared machine; DuckDB runs with 1 thread "
        "in this process, so its work is counted); wall: elapsed time",
    )
    args = parser.parse_args()
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    cfg = CompareSection()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        con = duckdb.connect(str(folder / "bench.duckdb"), config={"threads": 1})
        partitions = load_world(con, args.scale)
        mix = statements(args.statements, folder)
        # Warm-up pass over the read-only statements: loads the numba-compiled hashing
        # kernels for every column type and warms DuckDB's caches, for both sides alike.
        for facts, sql in mix:
            if facts.kind == "select":
                run_statement(con, facts, sql, partitions, folder, cfg, clock)
        timings = [
            t
            for facts, sql in mix
            if (t := run_statement(con, facts, sql, partitions, folder, cfg, clock)) is not None
        ]
    engine = sum(t.engine_s for t in timings)
    qsim = sum(t.qsim_s for t in timings)
    writes = sum(t.write_s for t in timings)
    parts = {
        "checksum": sum(t.checksum_s for t in timings),
        "keep result file": sum(t.keep_s for t in timings),
        "judge_query": sum(t.judge_s for t in timings),
    }
    per_query = [t.qsim_s / t.engine_s for t in timings if t.engine_s > 0]
    per_query_ms = [t.qsim_s * 1000 for t in timings]
    kinds: dict[str, int] = {}
    for t in timings:
        kinds[t.kind] = kinds.get(t.kind, 0) + 1
    rows = sum(t.rows for t in timings)
    print(f"clock: {args.clock}, scale {args.scale}, tenant t01 of the demo world")
    print(f"statements run: {len(timings)} of {len(mix)} ({kinds}), result rows: {rows:,}")
    print(f"engine (reference): {engine * 1000:9.1f} ms")
    print(f"qsim comparison:    {qsim * 1000:9.1f} ms  ratio {qsim / engine:.2%}")
    for name, seconds in parts.items():
        print(f"  {name:<18}{seconds * 1000:9.1f} ms  ratio {seconds / engine:.2%}")
    print(f"write read-back:    {writes * 1000:9.1f} ms  ratio {writes / engine:.2%}")
    print(f"qsim + write verification: ratio {(qsim + writes) / engine:.2%}")
    print(
        f"per-query qsim/engine: median {statistics.median(per_query):.2%}, "
        f"p90 {statistics.quantiles(per_query, n=10)[-1]:.2%}; qsim per query median "
        f"{statistics.median(per_query_ms):.2f} ms, engine per query median "
        f"{statistics.median(t.engine_s * 1000 for t in timings):.2f} ms"
    )
    verdict = "met" if qsim / engine < TARGET_OVERHEAD else "missed"
    print(f"target comparison overhead < {TARGET_OVERHEAD:.0%}: {verdict}")


if __name__ == "__main__":
    main()
