"""Workload pipeline throughput: ingest + classify + fingerprint + sample of a synthetic log,
against parsing every row with sqlglot (the naive way), in the same run.

    .venv/bin/python -m benchmarks.bench_workload [--rows 1000000] [--slice 3000]

Synthesizes a ``--rows`` log (8 tenants, 31 days), then runs ingest and sample (budget 2000
queries) in a fresh process so its peak RSS is the pipeline's own. The reference parses,
classifies and fingerprints every row of a ``--slice``-row slice of the same log with no
cache, and is extrapolated to the whole log. Targets: whole log under 60 s, < 2 GB.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from simulator.workload.classify import classify, parse_statement
from simulator.workload.fingerprint import fingerprint
from simulator.workload.synth import synthesize_log

TARGET_S = 60.0
TARGET_PEAK_MB = 2048.0
BUDGET = 2000


def measure(log: Path, workloads: Path) -> dict[str, float]:
    """Ingest and sample ``log``; return timings and counts (runs in the child process)."""
    from simulator.workload.ingest import ingest_log
    from simulator.workload.sample import SampleParams, sample_workload

    cpu = time.process_time()
    start = time.perf_counter()
    ingested = ingest_log(log, workloads, "bench")
    ingest_s = time.perf_counter() - start
    start = time.perf_counter()
    workload = sample_workload(workloads, "bench", "bench-w", SampleParams(budget=BUDGET))
    sample_s = time.perf_counter() - start
    coverage = workload.manifest["coverage"]
    return {
        "kept": ingested.kept,
        "ingest_s": ingest_s,
        "sample_s": sample_s,
        "distinct_texts": coverage["distinct_texts"],
        "shapes_parsed": coverage["shapes_parsed"],
        "patterns_total": coverage["patterns_total"],
        "patterns_kept": coverage["patterns_kept"],
        "queries": coverage["queries"],
        "cpu_s": time.process_time() - cpu,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def naive_rate(log: Path, rows: int) -> float:
    """Rows per second of parse + classify + fingerprint on every row, no caching."""
    texts = []
    with log.open(encoding="utf-8") as handle:
        for line in handle:
            texts.append(json.loads(line)["sql"])
            if len(texts) >= rows:
                break
    start = time.perf_counter()
    for sql in texts:
        tree = parse_statement(sql, "trino")
        classify(tree)
        fingerprint(tree)
    return len(texts) / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--slice", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--log", type=Path, help="reuse this synthetic log (skip synthesis)")
    parser.add_argument("--child", nargs=2, metavar=("LOG", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(Path(args.child[0]), Path(args.child[1]))))
        return 0
    with tempfile.TemporaryDirectory(prefix="qsim-bench-workload-") as tmp:
        log = args.log or Path(tmp) / "log.jsonl"
        if args.log is None:
            start = time.perf_counter()
            synthesize_log(None, args.rows, args.seed, log, tenants=8)
            print(f"synthesized {args.rows} rows in {time.perf_counter() - start:.1f} s")
        rows = sum(1 for _ in log.open("rb"))
        print(f"log: {rows} rows, {log.stat().st_size / 1e6:.0f} MB JSONL")
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.bench_workload", "--child", str(log), tmp],
            capture_output=True,
            text=True,
            check=True,
        )
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        naive = naive_rate(log, args.slice)
    total_s = figures["ingest_s"] + figures["sample_s"]
    rate = figures["kept"] / total_s
    print(
        f"distinct texts {figures['distinct_texts']} ({figures['distinct_texts'] / rows:.1%}),"
        f" shapes parsed {figures['shapes_parsed']},"
        f" patterns kept {figures['patterns_kept']}/{figures['patterns_total']},"
        f" workload {figures['queries']} queries"
    )
    print(
        f"qsim ingest {figures['ingest_s']:.1f} s + classify/fingerprint/sample "
        f"{figures['sample_s']:.1f} s = {total_s:.1f} s wall -> {rate:,.0f} rows/s end to end "
        f"(target < {TARGET_S:.0f} s: {'met' if total_s < TARGET_S else 'MISSED'}); "
        f"CPU time {figures['cpu_s']:.1f} s"
    )
    print(
        f"peak RSS of the ingest+sample process {figures['peak_mb']:.0f} MB "
        f"(target < {TARGET_PEAK_MB:.0f} MB: "
        f"{'met' if figures['peak_mb'] < TARGET_PEAK_MB else 'MISSED'})"
    )
    naive_total = rows / naive
    print(
        f"naive sqlglot parse+classify+fingerprint of every row: {naive:,.0f} rows/s on a "
        f"{args.slice}-row slice -> {naive_total:.0f} s for the whole log (wall)"
    )
    print(f"ratio: qsim end to end is {rate / naive:.1f}x the naive per-row parse rate")
    return 0


if __name__ == "__main__":
    sys.exit(main())
