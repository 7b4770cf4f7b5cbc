"""``qsim engines list | check | prune``: the isolated engine runtimes and their engines."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
from pathlib import Path

from simulator.config import load_config
from simulator.engines.faults import check_faults
from simulator.engines.read_only_cache import ReadOnlyCache, default_cache_root
from simulator.engines.runtime import (
    default_root,
    ensure_runtime,
    list_runtimes,
    prune_runtimes,
    runtime_spec,
    spec_hash,
)
from simulator.engines.worker import EngineWorker
from simulator.errors import EngineError, QsimError

EXIT_OK = 0
EXIT_INPUT = 2
PROBE_SQL = "SELECT 1"
PROBE_TIMEOUT_S = 60.0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``engines`` command group."""
    group = subparsers.add_parser(
        "engines",
        help="show, verify and clean the isolated engine runtimes",
        description="Engine runtimes are virtual environments cached by the hash of their "
        "spec under $QSIM_RUNTIMES (default: runtimes/ beside qsim's source).",
    )
    commands = group.add_subparsers(dest="engines_command", metavar="SUBCOMMAND")
    commands.required = True
    root = argparse.ArgumentParser(add_help=False)
    root.add_argument("--root", type=Path, default=None, help="runtime cache root")

    lst = commands.add_parser("list", parents=[root], help="runtimes with spec, size, last use")
    lst.set_defaults(func=_list)

    check = commands.add_parser(
        "check",
        parents=[root],
        help="build/verify every engine of a config, start it, run a probe query, "
        "print the version each engine reports",
    )
    check.add_argument("config", type=Path, help="run configuration (TOML)")
    check.add_argument("--engine", action="append", help="check only this engine (repeatable)")
    check.set_defaults(func=_check)

    prune = commands.add_parser(
        "prune",
        parents=[root],
        help="remove runtimes not used by the given configs and/or unused for N days",
    )
    prune.add_argument(
        "--keep-config", type=Path, action="append", default=[], help="keep this config's runtimes"
    )
    prune.add_argument("--older-than", type=float, help="only remove runtimes unused for N days")
    prune.add_argument("--all", action="store_true", help="remove every runtime")
    prune.add_argument("--dry-run", action="store_true", help="print what would be removed")
    prune.set_defaults(func=_prune)

    clean_cache = commands.add_parser(
        "clean-cache",
        parents=[root],
        help="remove every read-only table cache entry no running session holds",
    )
    clean_cache.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="the cache folder ([dataset] read_only_cache; default .read-only-cache under "
        "the runtime root)",
    )
    clean_cache.set_defaults(func=_clean_cache)


def _when(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _list(args: argparse.Namespace) -> int:
    infos = list_runtimes(args.root)
    if not infos:
        print(f"no runtimes under {args.root or default_root()}")
        return EXIT_OK
    for info in infos:
        spec = info.spec
        what = (
            f"{spec.get('adapter', '?')} {' '.join(spec.get('requirements', []))}"
            if info.complete
            else "INCOMPLETE (rebuilt on next use, or pruned)"
        )
        print(
            f"{info.spec_hash}  {info.size_bytes / 1e6:8.1f} MB  "
            f"last used {_when(info.last_used)}  python {spec.get('python', '?')}  {what}"
        )
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    names = args.engine or list(cfg.engines)
    unknown = [name for name in names if name not in cfg.engines]
    if unknown:
        raise EngineError(
            f"{args.config}: no engine {unknown[0]!r} (declared: {', '.join(cfg.engines)})"
        )
    failed = 0
    for name in names:
        spec = cfg.engines[name]
        try:
            check_faults(spec)
            runtime = ensure_runtime(spec, args.root)
            with tempfile.TemporaryDirectory(prefix=f"qsim-check-{name}-") as workspace:
                worker = EngineWorker(spec, runtime, Path(workspace), [])
                try:
                    version = worker.start()
                    probe = worker.execute(PROBE_SQL, PROBE_TIMEOUT_S)
                finally:
                    worker.close()
            if probe.status != "ok":
                raise EngineError(
                    f"engine {name}: probe query {PROBE_SQL!r} gave {probe.status}: "
                    f"{probe.error_class}: {probe.error_message}".splitlines()[0]
                )
        except QsimError as err:
            print(f"qsim: error: {err}", file=sys.stderr)
            failed += 1
            continue
        faults = "  FAULTS ENABLED" if spec.faults.enabled else ""
        print(
            f"{name}: {version}  adapter {spec.adapter}  runtime {runtime.spec_hash}  "
            f"probe {probe.wall_ms:.2f} ms{faults}"
        )
    return EXIT_INPUT if failed else EXIT_OK


def _prune(args: argparse.Namespace) -> int:
    if not (args.keep_config or args.older_than is not None or args.all):
        raise EngineError(
            "engines prune: say what to remove: --keep-config CONFIG, --older-than DAYS or --all"
        )
    keep: set[str] | None = None
    if args.keep_config:
        keep = set()
        for path in args.keep_config:
            for spec in load_config(path).engines.values():
                keep.add(spec_hash(runtime_spec(spec)))
    if args.dry_run:
        now = dt.datetime.now(dt.UTC).timestamp()
        doomed = [
            info
            for info in list_runtimes(args.root)
            if (keep is None or info.spec_hash not in keep)
            and (args.older_than is None or now - info.last_used >= args.older_than * 86400)
        ]
    else:
        doomed = prune_runtimes(args.root, keep=keep, older_than_days=args.older_than)
    verb = "would remove" if args.dry_run else "removed"
    for info in doomed:
        print(f"{verb} {info.spec_hash}  {info.size_bytes / 1e6:.1f} MB")
    print(f"{verb} {len(doomed)} runtime(s)")
    return EXIT_OK


def _clean_cache(args: argparse.Namespace) -> int:
    cache = ReadOnlyCache(args.cache or default_cache_root(args.root))
    removed, kept = cache.clean()
    for info in removed:
        print(
            f"removed {info.key}  {info.size_bytes / 1e6:.1f} MB  tenant {info.manifest['tenant']}"
        )
    for info in kept:
        print(f"kept {info.key} (in use)")
    print(f"removed {len(removed)} read-only cache entry(ies) from {cache.root}")
    return EXIT_OK
