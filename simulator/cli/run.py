"""``qsim run CONFIG``: the main job (replay, compare, record, summarize)."""

from __future__ import annotations

import argparse
import sys

from simulator.config import load_config
from simulator.jobs.run_report import run_and_report


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
