"""Cross-engine run over TPC-H (22 queries) and a TPC-DS subset, on generated data.

    .venv/bin/python -m benchmarks.bench_tpc_cross_engine [--scale 0.01] [--work DIR]

One command, every step a user would take:

1. generate TPC-H and TPC-DS at ``--scale`` with DuckDB's ``tpch`` / ``tpcds`` extensions
   (``CALL dbgen`` / ``CALL dsdgen``). The duckdb 2.0.1 wheel does not bundle them and
   installing them needs the network, so the generator runs in an isolated runtime of
   ``duckdb==1.4.4`` with the PyPI packages ``duckdb-ext-tpch`` / ``duckdb-ext-tpcds``,
   and writes ``<work>/source/<tpch|tpcds>/<table>/data.parquet``;
2. ``qsim dataset import`` that folder as a generation (tenants ``tpch`` and ``tpcds``:
   the two schemas share table names);
3. write the queries the extensions ship, rendered in Trino's dialect by sqlglot, as a
   Trino-dialect JSONL log; ``qsim workload ingest`` and ``qsim workload sample`` it (the
   budget keeps every query);
4. ``qsim run`` DuckDB 2.0.1 (baseline) against PostgreSQL (a throwaway local cluster),
   DataFusion 55.0.0 and SQLite, then print the verdict counts per candidate and write
   every non-match (verdict, reason, error or schema problems) to ``<work>/nonmatch.txt``.

Slow (minutes): not part of the test suite. Findings and their classification are in
docs/findings.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import sqlglot

from simulator.config import EngineSpec
from simulator.engines.runtime import ensure_runtime
from simulator.results.layout import VERDICTS_FILE

GENERATOR = EngineSpec(
    name="tpc-generator",
    adapter="duckdb",
    requirements=[
        "duckdb==1.4.4",
        "duckdb-ext-tpch==1.4.4.20260205",
        "duckdb-ext-tpcds==1.4.4.20260205",
    ],
)
TPCH_QUERIES = list(range(1, 23))
# A subset of TPC-DS: star joins, CTEs, window functions, ROLLUP / GROUPING, CASE buckets.
TPCDS_QUERIES = [3, 7, 12, 15, 19, 20, 25, 26, 27, 36, 37, 42, 43, 45, 48, 52, 55, 62, 68]
TPCDS_QUERIES += [73, 79, 82, 86, 93, 96, 98]

# Runs inside the generator runtime: argv = out folder, scale, TPC-H and TPC-DS query lists.
GENERATE = """
import json, os, sys
import duckdb, duckdb_ext
out, scale = sys.argv[1], float(sys.argv[2])
wanted = {"tpch": json.loads(sys.argv[3]), "tpcds": json.loads(sys.argv[4])}
base = os.path.join(list(duckdb_ext.__path__)[0], "extensions", "v1.4.4", "linux_amd64")
queries = {}
for bench, call in (("tpch", "dbgen"), ("tpcds", "dsdgen")):
    con = duckdb.connect()
    con.execute(f"LOAD '{os.path.join(base, bench + '.duckdb_extension')}'")
    con.execute(f"CALL {call}(sf={scale})")
    for (table,) in con.execute("SHOW TABLES").fetchall():
        folder = os.path.join(out, bench, table)
        os.makedirs(folder, exist_ok=True)
        con.execute(f"COPY {table} TO '{folder}/data.parquet' (FORMAT parquet)")
    rows = con.execute(f"SELECT query_nr, query FROM {bench}_queries()").fetchall()
    queries[bench] = {str(nr): sql for nr, sql in rows if nr in wanted[bench]}
print(json.dumps(queries))
"""


def qsim(*args: str) -> None:
    """Run one ``qsim`` command (the CLI a user runs), failing loudly."""
    print("+ qsim", " ".join(args), flush=True)
    subprocess.run([sys.executable, "-m", "simulator", *args], check=True)


def generate(work: Path, scale: float) -> dict[str, dict[str, str]]:
    """Generate both data sets as Parquet under ``work/source``; return their queries."""
    runtime = ensure_runtime(GENERATOR)
    out = subprocess.run(
        [
            str(runtime.python),
            "-c",
            GENERATE,
            str(work / "source"),
            str(scale),
            json.dumps(TPCH_QUERIES),
            json.dumps(TPCDS_QUERIES),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)


def write_log(path: Path, queries: dict[str, dict[str, str]]) -> int:
    """The queries as a Trino-dialect JSONL log (DuckDB's text rendered by sqlglot)."""
    lines = []
    for bench, texts in sorted(queries.items()):
        for nr, sql in sorted(texts.items(), key=lambda item: int(item[0])):
            trino = sqlglot.transpile(sql.strip().rstrip(";"), read="duckdb", write="trino")[0]
            lines.append(
                {
                    "query_id": f"{bench}-q{int(nr):02d}",
                    "tenant": bench,
                    "submitted_at": f"2026-12-01T00:{len(lines) // 60:02d}:{len(lines) % 60:02d}Z",
                    "sql": trino,
                    "dialect": "trino",
                    "duration_ms": 100,
                }
            )
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return len(lines)


CONFIG = """
[run]
name = "tpc-cross-engine"
results_dir = "{work}/results"
baseline = "duckdb"
candidates = ["postgres", "datafusion", "sqlite"]
bank = false

[dataset]
generation = "tpc"
store = "{work}/store"

[workload]
name = "tpc"
dir = "{work}/workloads"

[engines.duckdb]
adapter = "duckdb"
requirements = ["duckdb==2.0.1"]
dialect = "duckdb"
version = "2.0.1"
settings = {{ threads = 1, memory_limit = "1GB" }}

[engines.postgres]
adapter = "postgres"
requirements = []
dialect = "postgres"

[engines.sqlite]
adapter = "sqlite"
requirements = []
dialect = "sqlite"

[engines.datafusion]
adapter = "datafusion"
requirements = ["datafusion==55.0.0"]
dialect = "postgres"

[load]
mode = "closed"
concurrency = 2
per_tenant_concurrency = 1
timeout_s = 120.0
confirm_quietly = false

[perf]
enabled = false

[compare]
float_rel_tol = 1e-9
determinism_runs = 1
"""


def summarize(results: Path, out: Path) -> None:
    """Print verdict counts per candidate; write every non-match to ``out``."""
    run = max(p for p in results.iterdir() if p.is_dir())
    verdicts = [json.loads(line) for line in (run / VERDICTS_FILE).read_text().splitlines()]
    print(f"run folder: {run}")
    lines = []
    for candidate in sorted({v["candidate"] for v in verdicts}):
        mine = [v for v in verdicts if v["candidate"] == candidate]
        counts = Counter(v["verdict"] for v in mine)
        print(f"{candidate}: " + ", ".join(f"{k} {n}" for k, n in sorted(counts.items())))
        for v in sorted(mine, key=lambda v: v["query_id"]):
            if v["verdict"] == "match":
                continue
            ev = v["evidence"]
            detail = ev.get("candidate", {}).get("error_message") or ev.get("schema_problems")
            extra = {k: ev[k] for k in ("differing_columns", "values_equal") if k in ev}
            lines.append(
                f"{candidate}\t{v['query_id']}\t{v['verdict']}\t{v['reason']}\t"
                f"{str(detail or '')[:240]!r}\t{extra}"
            )
    out.write_text("\n".join(lines) + "\n")
    print(f"non-matches: {len(lines)} (details in {out})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.01)
    parser.add_argument("--work", type=Path, default=None, help="default: a temporary folder")
    args = parser.parse_args()
    work = (args.work or Path(tempfile.mkdtemp(prefix="qsim-tpc-"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    print(f"work folder: {work}", flush=True)
    queries = generate(work, args.scale)
    qsim("dataset", "import", str(work / "source"), "--name", "tpc", "--store", str(work / "store"))
    log = work / "tpc-trino.jsonl"
    print(f"log: {write_log(log, queries)} queries", flush=True)
    workloads = str(work / "workloads")
    qsim("workload", "ingest", str(log), "--name", "tpc-log", "--dir", workloads)
    qsim("workload", "sample", "tpc-log", "--name", "tpc", "--budget", "1000", "--dir", workloads)
    config = work / "tpc-cross-engine.toml"
    config.write_text(CONFIG.format(work=work))
    run = subprocess.run([sys.executable, "-m", "simulator", "run", str(config)], check=False)
    print(f"qsim run exit code {run.returncode}")
    summarize(work / "results", work / "nonmatch.txt")


if __name__ == "__main__":
    main()
