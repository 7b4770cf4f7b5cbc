"""Report stage throughput: write every report output (summary.json, junit.xml,
report.html, history record) for a large synthetic run folder.

Reference measured in the same run: loading the same run folder (JSONL + Parquet parsing
into the record types), the unavoidable floor of any report.

    .venv/bin/python -m benchmarks.bench_report [--tenants 20] [--patterns 250]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from simulator.report import generate_reports
from simulator.results.execution import Execution, PartitionState, TableState
from simulator.results.layout import QUERIES_FILE, RUN_FILE
from simulator.results.reader import load_run
from simulator.results.verdicts import PerfVerdict, Verdict


def _write_run(run_dir: Path, tenants: int, patterns: int) -> int:
    """A complete run: 2 queries per pattern and tenant, 1% of them regressions."""
    run_dir.mkdir(parents=True)
    engines = {"base": "1.1.3", "rc": "2.0.1"}
    run = {
        "format_version": 1,
        "run_id": run_dir.name,
        "pipeline": "bench",
        "config_path": "configs/demo.toml",
        "config": {},
        "baseline": "base",
        "candidates": ["rc"],
        "engines": {
            n: {"role": n, "version": v, "faults_enabled": False} for n, v in engines.items()
        },
        "started_at": "2026-11-25T00:00:00+00:00",
        "finished_at": "2026-11-25T01:00:00+00:00",
        "status": "complete",
        "exit_code": 1,
    }
    (run_dir / RUN_FILE).write_text(json.dumps(run))
    rows, executions, verdicts, perf = [], [], [], []
    clock = 1_700_000_000.0
    for t in range(tenants):
        tenant = f"t{t + 1:02d}"
        for p in range(patterns):
            pattern = f"{p:016x}"
            kind = "insert" if p % 10 == 0 else "select"
            for q in range(2):
                query_id = f"{tenant}-{p}-{q}"
                n = len(rows)
                rows.append(
                    {
                        "query_id": query_id,
                        "tenant": tenant,
                        "pattern_id": pattern,
                        "kind": kind,
                        "sql": f"SELECT a, count(*) FROM t WHERE d = '2024-01-{q + 1:02d}'",
                        "dialect": "duckdb",
                        "weight": 3.0,
                    }
                )
                bad = n % 100 == 7
                for engine in engines:
                    writes = {}
                    if kind == "insert":
                        parts = {
                            f"day=2024-01-{d:02d}": PartitionState(100, f"{d:x}")
                            for d in range(1, 4)
                        }
                        writes = {"events": TableState("events", 300, "abc", ["day"], parts, 200)}
                    executions.append(
                        Execution(
                            execution_id=Execution.make_id("load", engine, tenant, query_id),
                            run_id=run_dir.name,
                            engine=engine,
                            tenant=tenant,
                            query_id=query_id,
                            phase="load",
                            wall_ms=10.0 + n % 17,
                            started_at=clock + n * 0.01,
                            finished_at=clock + n * 0.01 + 0.03,
                            rows_returned=10,
                            result={
                                "row_count": 10,
                                "multiset": "m",
                                "ordered": "o",
                                "columns": ["a", "b"],
                            },
                            writes=writes,
                            engine_version=engines[engine],
                        )
                    )
                verdicts.append(
                    Verdict(
                        run_id=run_dir.name,
                        candidate="rc",
                        tenant=tenant,
                        query_id=query_id,
                        pattern_id=pattern,
                        kind=kind,
                        verdict=("write_mismatch" if kind == "insert" else "result_mismatch")
                        if bad
                        else "match",
                        evidence={"differing_columns": ["b"]} if bad else {},
                        weight=3.0,
                    )
                )
            perf.append(
                PerfVerdict(
                    run_id=run_dir.name,
                    candidate="rc",
                    tenant=tenant,
                    pattern_id=pattern,
                    kind=kind,
                    verdict="regressed" if p % 97 == 3 else "unchanged",
                    ratio=1.5 if p % 97 == 3 else 1.01,
                    ci_low=0.9,
                    ci_high=1.1,
                    p_value=0.5,
                    q_value=0.5,
                    pairs=5,
                    baseline_ms=10.0 + p % 13,
                    candidate_ms=11.0 + p % 13,
                )
            )
    pq.write_table(pa.Table.from_pylist(rows), run_dir / QUERIES_FILE)
    for name, records in (("executions", executions), ("verdicts", verdicts), ("perf", perf)):
        with (run_dir / f"{name}.jsonl").open("w") as handle:
            for record in records:
                handle.write(json.dumps(record.to_dict()) + "\n")
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--patterns", type=int, default=250)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "results" / "bench-run"
        queries = _write_run(run_dir, args.tenants, args.patterns)
        start = time.perf_counter()
        data = load_run(run_dir)
        load_s = time.perf_counter() - start
        start = time.perf_counter()
        outcome = generate_reports(run_dir)
        report_s = time.perf_counter() - start
        html_mb = outcome.report_path.stat().st_size / 1e6
        findings = len(outcome.summary["findings"]["new"])
        print(
            f"{queries} queries, {len(data.executions)} executions, {findings} findings, "
            f"report.html {html_mb:.1f} MB"
        )
        print(f"reference: load_run {load_s:.2f} s ({queries / load_s:,.0f} queries/s)")
        print(
            f"all report outputs + history: {report_s:.2f} s ({queries / report_s:,.0f} queries/s)"
        )
        print(f"ratio report / load: {report_s / load_s:.2f}x")


if __name__ == "__main__":
    main()
