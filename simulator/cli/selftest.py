"""``qsim selftest``: prove on this installation that qsim catches injected faults (the
2020 lost-write incident, latency, errors) and raises no false alarm on A/A runs."""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from simulator.errors import ConfigError
from simulator.selftest.matrix import passed, render
from simulator.selftest.mutants import suite as mutants
from simulator.selftest.suite import run_selftest
from simulator.selftest.world import check_scale


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``selftest`` subcommand."""
    parser = subparsers.add_parser(
        "selftest",
        help="check that qsim catches injected faults and stays quiet on A/A runs",
        description="Build a tiny world in a work folder, replay the 2020 lost-write "
        "incident under load and on a quiet cluster, an A/A calibration run and injected "
        "latency and errors, and print a detection matrix. Exit 0: every expected detection "
        "seen and no false alarm; 1: a detection missed or a false alarm; 2: setup error.",
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=3,
        metavar="N",
        help="fault seeds of the incident and identical A/A candidates (default 3)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="fewer performance patterns and repetitions"
    )
    parser.add_argument(
        "--mutants",
        nargs="?",
        const="all",
        metavar="CLASSES",
        help="instead: measure detection power with mutant engines (all classes, or a "
        "comma-separated list) and print per class the queries changed, flagged right, "
        "missed and the collateral findings",
    )
    parser.add_argument(
        "--scale",
        type=_scale,
        metavar="S",
        help="generate every scenario's world at scale S (1 = 10M rows) and add the "
        "large-write pipeline (stage_events, as large as each tenant's events); default: "
        "each scenario's own tiny scale, without it",
    )
    parser.add_argument(
        "--work",
        metavar="DIR",
        help="work folder for the world and run folders "
        "(default: results/selftest-<UTC timestamp>/)",
    )
    parser.set_defaults(func=handle)


def _scale(text: str) -> float:
    """``--scale``'s value as a float; argparse turns the ValueError into one line, exit 2."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    try:
        return check_scale(value)
    except ConfigError as err:
        raise argparse.ArgumentTypeError(str(err).removeprefix("--scale: ")) from None


def handle(args: argparse.Namespace) -> int:
    """Run the self-test, print the matrix and the run folders; 0 pass, 1 fail."""
    if args.runs < 1:
        raise ConfigError(f"--runs: must be at least 1, got {args.runs}")
    if args.work:
        work = Path(args.work)
    else:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        work = Path("results") / f"selftest-{stamp}"
        if not Path("results").is_dir():
            work = Path(tempfile.mkdtemp(prefix=f"qsim-selftest-{stamp}-"))
    work = work.resolve()
    try:
        work.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"--work: cannot use {work} as a work folder ({err.strerror})") from None
    if args.mutants:
        return _mutants(work, args.mutants, args.scale)
    result = run_selftest(
        work,
        runs=args.runs,
        quick=args.quick,
        scale=args.scale,
        echo=lambda line: print(line, file=sys.stderr),
    )
    print(render(result.rows))
    for name, run_dir in result.runs.items():
        print(f"{name}: {run_dir}")
    ok = passed(result.rows)
    verdict = "PASS" if ok else "FAIL: a detection was missed or a false alarm appeared"
    print(f"selftest {verdict} in {result.wall_s:.0f} s; work folder {work}")
    return 0 if ok else 1


def _mutants(work: Path, classes: str, scale: float | None) -> int:
    chosen = None if classes == "all" else [c.strip() for c in classes.split(",") if c.strip()]
    unknown = [c for c in chosen or [] if c not in mutants.MUTATIONS]
    if unknown:
        raise ConfigError(
            f"--mutants: unknown classes {', '.join(unknown)} "
            f"(known: {', '.join(mutants.MUTATIONS)})"
        )
    report = mutants.run_mutants(
        work, chosen, scale=scale, echo=lambda line: print(line, file=sys.stderr)
    )
    print(mutants.render(report))
    for name, run_dir in report.runs.items():
        print(f"{name}: {run_dir}")
    verdict = "PASS" if report.ok else "FAIL: a class scored under 95% or had collateral"
    print(f"selftest --mutants {verdict} in {report.wall_s:.0f} s; work folder {work}")
    return 0 if report.ok else 1
