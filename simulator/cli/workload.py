"""``qsim workload synth | ingest | sample | show``: thin wrappers over simulator.workload."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

from simulator.config import IngestSection, load_config
from simulator.errors import WorkloadError
from simulator.workload.ingest import ingest_log
from simulator.workload.readers import FORMATS
from simulator.workload.sample import SampleParams, sample_workload
from simulator.workload.store import load_workload
from simulator.workload.synth import default_days, synthesize_log

DEFAULT_DIR = "workloads"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``workload`` command group."""
    group = subparsers.add_parser(
        "workload", help="ingest query logs, sample workloads, show coverage"
    )
    commands = group.add_subparsers(dest="workload_command", metavar="SUBCOMMAND")
    commands.required = True

    synth = commands.add_parser("synth", help="write a synthetic multi-tenant query log")
    synth.add_argument("--generation", help="dataset generation (id, prefix or name)")
    synth.add_argument("--store", default="datasets/store", help="generation store folder")
    synth.add_argument("--tenants", type=int, default=8, help="tenants without --generation")
    synth.add_argument("--first-day", default="2024-03-01", help="first day (YYYY-MM-DD)")
    synth.add_argument("--days", type=int, default=31, help="days without --generation")
    synth.add_argument("--rows", type=int, default=200_000)
    synth.add_argument("--seed", type=int, default=7)
    synth.add_argument("--out", required=True, help="JSONL log file to write")
    synth.add_argument(
        "--large-writes",
        action="store_true",
        help="add one events_rewrite pipeline per tenant (writes tables as large as events)",
    )
    synth.set_defaults(func=_synth)

    ingest = commands.add_parser("ingest", help="normalize a query log")
    ingest.add_argument("log", help="log file (JSONL, CSV, Parquet or Trino events)")
    ingest.add_argument("--format", choices=FORMATS, help="default: from the file")
    ingest.add_argument("--name", required=True, help="name of the normalized log")
    ingest.add_argument("--dir", default=DEFAULT_DIR, help="workloads folder")
    ingest.add_argument("--config", help="run config whose [workload.ingest] maps fields")
    ingest.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="COLUMN=FIELD",
        help="source field of a normalized column, e.g. sql=query_text (repeatable)",
    )
    ingest.add_argument("--dialect", help="dialect of rows without one (default trino)")
    ingest.add_argument("--json", action="store_true", help="print the counts as JSON")
    ingest.set_defaults(func=_ingest)

    sample = commands.add_parser("sample", help="sample a workload from a normalized log")
    sample.add_argument("log", help="name of the normalized log")
    sample.add_argument("--name", required=True, help="name of the workload to write")
    sample.add_argument("--budget", type=int, default=400, help="queries to keep")
    sample.add_argument("--budget-ms", type=float, default=0.0, help="engine-time budget")
    sample.add_argument("--seed", type=int, default=7)
    sample.add_argument("--diversity", type=int, default=3, help="texts per heavy pattern")
    sample.add_argument("--dir", default=DEFAULT_DIR, help="workloads folder")
    sample.set_defaults(func=_sample)

    show = commands.add_parser("show", help="print a workload's coverage")
    show.add_argument("workload", help="workload name")
    show.add_argument("--dir", default=DEFAULT_DIR, help="workloads folder")
    show.add_argument("--json", action="store_true", help="one JSON object")
    show.set_defaults(func=_show)


def _synth(args: argparse.Namespace) -> int:
    generation = None
    if args.generation:
        from simulator.datasets.object_store import open_store

        generation = open_store(args.store).resolve(args.generation)
    days = None if generation else default_days(args.first_day, args.days)
    result = synthesize_log(
        generation,
        args.rows,
        args.seed,
        args.out,
        args.tenants,
        days,
        large_writes=args.large_writes,
    )
    print(
        f"wrote {result.rows} queries for {len(result.tenants)} tenants over "
        f"{len(result.days)} days ({result.pipelines} pipelines) to {result.path}"
    )
    return 0


def _ingest(args: argparse.Namespace) -> int:
    mapping = load_config(args.config).workload.ingest if args.config else IngestSection()
    overrides: dict[str, Any] = {}
    columns = {f.name for f in dataclasses.fields(IngestSection)} - {
        "default_dialect",
        "max_sql_bytes",
    }
    for item in args.map:
        column, sep, source = item.partition("=")
        if not sep or column not in columns:
            raise WorkloadError(
                f"--map {item!r}: expected COLUMN=FIELD with COLUMN one of "
                f"{', '.join(sorted(columns))}"
            )
        overrides[column] = source
    if args.dialect:
        overrides["default_dialect"] = args.dialect
    mapping = dataclasses.replace(mapping, **overrides)
    result = ingest_log(args.log, args.dir, args.name, args.format, mapping)
    if args.json:
        print(json.dumps(result.to_dict()))
        return 0
    reasons = ", ".join(f"{k} {v}" for k, v in result.quarantine_reasons.items())
    print(
        f"ingested {args.log} ({result.format}) as {result.name}: kept {result.kept}, "
        f"quarantined {result.quarantined}" + (f" ({reasons})" if reasons else "")
    )
    if result.quarantined:
        print(f"quarantine: {Path(result.path) / 'quarantine.jsonl'}")
    return 0


def _sample(args: argparse.Namespace) -> int:
    params = SampleParams(args.budget, args.budget_ms, args.seed, args.diversity)
    workload = sample_workload(args.dir, args.log, args.name, params)
    print(f"wrote workload {workload.name} ({workload.id}) to {workload.path}")
    print(coverage_text(workload.manifest))
    return 0


def _show(args: argparse.Namespace) -> int:
    workload = load_workload(args.dir, args.workload)
    if args.json:
        print(json.dumps(show_json(workload.manifest)))
    else:
        print(f"workload {workload.name} ({workload.id}) from log {_source(workload.manifest)}")
        print(coverage_text(workload.manifest))
    return 0


def _source(manifest: dict[str, Any]) -> str:
    return str(manifest.get("source", {}).get("log", "?"))


def show_json(manifest: dict[str, Any]) -> dict[str, Any]:
    """The ``show --json`` object: id, name, source, params and the coverage figures."""
    return {
        "id": manifest.get("id"),
        "name": manifest.get("name"),
        "source": manifest.get("source", {}),
        "params": manifest.get("params", {}),
        **manifest.get("coverage", {}),
    }


def coverage_text(manifest: dict[str, Any]) -> str:
    """Human-readable coverage lines of a workload manifest."""
    c = manifest["coverage"]
    lines = [
        f"queries {c['queries']} standing for {c['log_queries_represented']:.0f} of "
        f"{c['log_queries']} log queries ({c['represented_share']:.1%})",
        f"patterns kept {c['patterns_kept']} / {c['patterns_total']} (tenant, pattern) pairs; "
        f"pipelines kept {c['pipelines_kept']} / {c['pipelines_total']}; "
        f"unparseable in log {c['unparseable']}",
    ]
    if c.get("represented_time_share") is not None:
        lines.append(f"engine time represented {c['represented_time_share']:.1%}")
    kinds = ", ".join(f"{k} {v['sampled']}/{v['log']}" for k, v in c["kinds"].items())
    lines.append(f"kinds (sampled/log): {kinds}")
    if c.get("kinds_missing"):
        lines.append(f"kinds missing (budget too small): {', '.join(c['kinds_missing'])}")
    lines.append(f"{'tenant':<10}{'log':>10}{'sampled':>9}{'patterns':>12}")
    for tenant, t in c["per_tenant"].items():
        patterns = f"{t['patterns_kept']}/{t['patterns_total']}"
        lines.append(f"{tenant:<10}{t['log_queries']:>10}{t['queries']:>9}{patterns:>12}")
    return "\n".join(lines)
