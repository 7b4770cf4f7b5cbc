"""``qsim dataset generate | import | list | show | verify | diff | restore``."""

from __future__ import annotations

import argparse
from pathlib import Path

from simulator.datasets.diff import diff_generations
from simulator.datasets.object_store import open_store
from simulator.datasets.restore import restore_table
from simulator.datasets.store import DEFAULT_ROOT, Generation
from simulator.datasets.verify import verify_generation

EXIT_OK = 0
EXIT_FINDINGS = 1


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``dataset`` command group."""
    group = subparsers.add_parser(
        "dataset",
        help="build, import, inspect, verify and restore dataset generations",
        description="Immutable, content-addressed dataset generations (the store defaults "
        f"to {DEFAULT_ROOT}; a file:// or s3://bucket/prefix URI is accepted, see "
        "docs/cluster.md).",
    )
    commands = group.add_subparsers(dest="dataset_command", metavar="SUBCOMMAND")
    commands.required = True
    store = argparse.ArgumentParser(add_help=False)
    store.add_argument(
        "--store",
        default=DEFAULT_ROOT,
        help=f"generation store: a folder or s3://bucket/prefix (default {DEFAULT_ROOT})",
    )

    gen = commands.add_parser(
        "generate",
        parents=[store],
        help="build the seeded synthetic multi-tenant world; prints its id last",
    )
    gen.add_argument("--name", required=True, help="generation name (no '/' or '..')")
    gen.add_argument("--scale", type=float, default=0.01, help="1 is about 10M rows")
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument("--tenants", type=int, default=8, help="tenants t01..tNN (default 8)")
    gen.add_argument("--parent", help="id or name of the generation this one derives from")
    gen.set_defaults(func=_generate)

    imp = commands.add_parser(
        "import",
        parents=[store],
        help="import SOURCE/<tenant>/<table>/ Parquet or CSV files; prints the id last",
    )
    imp.add_argument("source", help="folder holding <tenant>/<table>/[k=v/]*.parquet|*.csv")
    imp.add_argument("--name", required=True)
    imp.add_argument("--parent")
    imp.set_defaults(func=_import)

    lst = commands.add_parser("list", parents=[store], help="list committed generations")
    lst.set_defaults(func=_list)

    show = commands.add_parser("show", parents=[store], help="tenants, tables, rows and bytes")
    show.add_argument("generation", help="id, unique id prefix, or name (newest)")
    show.set_defaults(func=_show)

    ver = commands.add_parser(
        "verify",
        parents=[store],
        help="recompute every hash and checksum; exit 1 naming what differs",
    )
    ver.add_argument("generation")
    ver.set_defaults(func=_verify)

    dif = commands.add_parser(
        "diff", parents=[store], help="compare two generations table by table; exit 1 if differ"
    )
    dif.add_argument("old")
    dif.add_argument("new")
    dif.set_defaults(func=_diff)

    res = commands.add_parser(
        "restore",
        parents=[store],
        help="export a table (or partition) as Parquet, checking hashes",
    )
    res.add_argument("generation")
    res.add_argument("--tenant", required=True)
    res.add_argument("--table", required=True)
    res.add_argument("--partition", help="one partition, e.g. day=2024-03-01")
    res.add_argument("--to", required=True, type=Path, help="target folder")
    res.set_defaults(func=_restore)


def _summary(generation: Generation) -> str:
    tenants = generation.tenants()
    tables = sum(len(generation.tables(t)) for t in tenants)
    return (
        f"{generation.name}: {len(tenants)} tenants, {tables} tables, "
        f"{generation.row_count()} rows, {generation.byte_count() / 1e6:.1f} MB"
    )


def _generate(args: argparse.Namespace) -> int:
    store = open_store(args.store)
    generation = store.generate(args.name, args.scale, args.seed, args.tenants, args.parent)
    print(_summary(generation))
    print(generation.id)
    return EXIT_OK


def _import(args: argparse.Namespace) -> int:
    generation = open_store(args.store).import_folder(args.source, args.name, args.parent)
    print(_summary(generation))
    print(generation.id)
    return EXIT_OK


def _list(args: argparse.Namespace) -> int:
    store = open_store(args.store)
    for line in store.broken():
        print(f"qsim: warning: {line}")
    generations = store.list()
    if not generations:
        print(f"no generations in {store.root}")
        return EXIT_OK
    print(f"{'id':<14}{'name':<20}{'created_at':<22}{'tenants':>8}{'rows':>12}{'MB':>9}")
    for g in generations:
        print(
            f"{g.id[:12]:<14}{g.name:<20}{g.created_at:<22}{len(g.tenants()):>8}"
            f"{g.row_count():>12}{g.byte_count() / 1e6:>9.1f}"
        )
    return EXIT_OK


def _show(args: argparse.Namespace) -> int:
    g = open_store(args.store).resolve(args.generation)
    source = g.manifest["source"]
    if "generator" in source:
        params = " ".join(f"{k}={v}" for k, v in sorted(source["params"].items()))
        origin = f"{source['generator']} seed={source['seed']} {params}"
    else:
        origin = f"import {source['import']}"
    print(f"id          {g.id}")
    print(f"name        {g.name}")
    print(f"parent      {g.parent or '-'}")
    print(f"created_at  {g.created_at}")
    print(f"source      {origin}")
    print(f"total       {g.row_count()} rows, {g.byte_count()} bytes")
    print(f"{'tenant':<8}{'table':<16}{'rows':>11}{'bytes':>12}{'files':>7}  partitioned by")
    for tenant in g.tenants():
        for table in g.tables(tenant):
            e = g.entry(tenant, table)
            parts = ",".join(e["partition_columns"]) or "-"
            print(
                f"{tenant:<8}{table:<16}{e['row_count']:>11}{e['bytes']:>12}"
                f"{len(e['files']):>7}  {parts}"
            )
    return EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    generation = open_store(args.store).resolve(args.generation)
    report = verify_generation(generation)
    for problem in report.problems:
        print(problem)
    if not report.ok:
        print(f"generation {generation.id}: {len(report.problems)} problems")
        return EXIT_FINDINGS
    print(
        f"generation {generation.id}: intact ({report.files_checked} files, "
        f"{report.tables_checked} tables, {report.bytes_checked / 1e6:.1f} MB)"
    )
    return EXIT_OK


def _diff(args: argparse.Namespace) -> int:
    store = open_store(args.store)
    old, new = store.resolve(args.old), store.resolve(args.new)
    lines = diff_generations(old, new)
    for line in lines:
        print(line)
    if lines:
        print(f"{old.id[:12]} -> {new.id[:12]}: {len(lines)} differences")
        return EXIT_FINDINGS
    print(f"{old.id[:12]} -> {new.id[:12]}: tables identical")
    return EXIT_OK


def _restore(args: argparse.Namespace) -> int:
    generation = open_store(args.store).resolve(args.generation)
    written = restore_table(generation, args.tenant, args.table, args.to, args.partition)
    rows = sum(
        f["rows"]
        for f in generation.entry(args.tenant, args.table)["files"]
        if args.partition is None or f["partition"] == args.partition
    )
    print(f"restored {args.tenant}/{args.table}: {len(written)} files, {rows} rows into {args.to}")
    return EXIT_OK
