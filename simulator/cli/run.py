"""``qsim run CONFIG``: the main job (replay, compare, record, summarize)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from simulator.config import load_config
from simulator.errors import RunError
from simulator.jobs.run_report import run_and_report
from simulator.results.reader import resolve_run
from simulator.runner.clean import clean_all, clean_run


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``run`` subcommand."""
    parser = subparsers.add_parser(
        "run",
        help="replay a workload on the baseline and candidates and compare (the main job)",
        description="Replay the config's workload on its baseline and candidate engines "
        "under load, compare checksums of results and writes, record everything in "
        "results/<run-id>/ and print a summary whose last line is that folder. Exit 0: no "
        "regression; 1: regressions found; 2: bad input or setup; 130: interrupted "
        "(resumable with --resume).",
    )
    parser.add_argument("config", help="run config (TOML), e.g. configs/demo.toml")
    parser.add_argument("--resume", metavar="RUN_ID", help="finish an interrupted run")
    parser.add_argument("--ray-address", metavar="ADDR", help="join this Ray cluster")
    parser.add_argument(
        "--fresh-baseline",
        action="store_true",
        help="execute every baseline statement instead of reusing the baseline bank",
    )
    parser.add_argument(
        "--tenant", action="append", metavar="T", help="replay only this tenant (repeatable)"
    )
    parser.set_defaults(func=handle)
    clean = subparsers.add_parser(
        "clean",
        help="stop the servers and processes a killed run left behind",
        description="Stop the throwaway servers (and any process) a run whose driver was "
        "killed left running, and delete their folders. Records are kept: --resume still "
        "finishes the run. A run a live driver holds is left alone.",
    )
    clean.add_argument(
        "run", nargs="?", metavar="RUN", help="run id (under --results-dir) or run folder"
    )
    clean.add_argument("--all", action="store_true", help="every run under --results-dir")
    clean.add_argument(
        "--results-dir", default="results", help="folder of run folders (default: results)"
    )
    clean.set_defaults(func=handle_clean)


def handle(args: argparse.Namespace) -> int:
    """Run the job and print its summary; returns the run's exit code."""
    cfg = load_config(args.config)
    outcome = run_and_report(
        cfg,
        run_id=args.resume,
        resume=bool(args.resume),
        tenants=args.tenant,
        fresh_baseline=args.fresh_baseline,
        ray_address=args.ray_address,
    )
    if outcome.status == "interrupted":
        print(
            f"qsim: interrupted; resume with: qsim run {args.config} --resume {outcome.run_id}",
            file=sys.stderr,
        )
    if outcome.report_error:
        print(f"qsim: warning: report not written: {outcome.report_error}", file=sys.stderr)
    print(outcome.summary, flush=True)
    return outcome.exit_code


def handle_clean(args: argparse.Namespace) -> int:
    """Clean one run (or ``--all``) and print what was stopped; returns 0."""
    results_dir = Path(args.results_dir)
    if args.all == bool(args.run):
        raise RunError("qsim clean: give a run id or folder, or --all (not both)")
    if args.all:
        done, skipped = clean_all(results_dir)
        for name in skipped:
            print(f"{name}: in use by a running qsim, left alone", file=sys.stderr)
    else:
        done = clean_run(resolve_run(args.run, results_dir))
    print("\n".join(done) if done else "nothing to clean")
    return 0
