"""``qsim report``, ``qsim history``, ``qsim accept``, ``qsim nightly`` and ``qsim replay``:
the report stage's commands. Each handler calls one library function of
``simulator.report`` and prints its result."""

from __future__ import annotations

import argparse
import getpass
import os
from pathlib import Path
from typing import Any

from simulator.jobs.nightly import run_nightly
from simulator.jobs.replay import DEFAULT_CONFIG, prepare_replay, run_replay
from simulator.report import generate_reports
from simulator.report.history import History
from simulator.report.writer import ReportOutcome
from simulator.results.exit_codes import EXIT_PASS, EXIT_REGRESSION
from simulator.results.layout import HISTORY_FILE
from simulator.results.reader import resolve_run
from simulator.serve.quick import quick_replay


def _history_path(args: argparse.Namespace) -> Path:
    return Path(args.history) if args.history else Path(args.results_dir) / HISTORY_FILE


def _print_outcome(outcome: ReportOutcome) -> None:
    """The verdict line per candidate, the gate, then the report path on the last line."""
    summary = outcome.summary
    for cand in summary["candidates"]:
        counts = summary["verdict_counts"][cand["name"]]
        shown = ", ".join(f"{n} {v}" for v, n in counts.items() if n) or "no verdicts"
        decision = "SHIP" if cand["decision"] == "ship" else "DO NOT SHIP"
        print(f"{decision}: {cand['name']} {cand['version']}: {shown}")
    findings = summary["findings"]
    print(
        f"findings: {len(findings['new'])} new, {len(findings['known'])} known, "
        f"{len(findings['fixed'])} fixed; gate "
        f"{'pass' if outcome.gate.passed else 'fail'} (exit {outcome.gate.exit_code})"
    )
    for reason in outcome.gate.reasons:
        print(f"  gate: {reason}")
    print(outcome.report_path)


def _report(args: argparse.Namespace) -> int:
    run_dir = resolve_run(args.run, Path(args.results_dir))
    history = Path(args.history) if args.history else None
    outcome = generate_reports(run_dir, history_db=history, use_history=not args.no_history)
    _print_outcome(outcome)
    return outcome.gate.exit_code if args.gate else EXIT_PASS


def _fmt(value: Any, pattern: str = "{:.2f}") -> str:
    return "-" if value is None else pattern.format(value)


def _history(args: argparse.Namespace) -> int:
    with History(_history_path(args), create=False) as history:
        if args.pattern:
            rows = history.pattern_history(args.pattern, args.pipeline)
            print(
                "started_at\trun_id\tcandidate\ttenant\tverdict\tperf\tbaseline_ms\t"
                "candidate_ms\tratio"
            )
            for r in rows:
                print(
                    f"{r['started_at']}\t{r['run_id']}\t{r['candidate']}\t{r['tenant']}\t"
                    f"{r['verdict'] or '-'}\t{r['perf_verdict'] or '-'}\t"
                    f"{_fmt(r['baseline_ms'])}\t{_fmt(r['candidate_ms'])}\t{_fmt(r['ratio'])}"
                )
            return EXIT_PASS
        runs = history.runs(args.pipeline, args.limit)
        if not runs:
            print("no runs recorded" + (f" for pipeline {args.pipeline}" if args.pipeline else ""))
        for run in runs:
            gate = {0: "pass", 1: "FAIL", 2: "incomplete"}.get(run["gate_exit"], "?")
            print(
                f"{run['started_at']}  {run['run_id']}  pipeline {run['pipeline']}  "
                f"{run['status']}  gate {gate}  {run['new_findings']} new finding(s)  "
                f"generation {run['generation_id']}  workload {run['workload_name']}  "
                f"baseline {run['baseline']} {run['baseline_version']}"
            )
            for cand in run["candidates"]:
                print(
                    f"    {cand['candidate']} {cand['version']}: {cand['queries']} queries, "
                    f"{cand['regressions']} regressions, {cand['perf_regressed']} perf regressed"
                )
    return EXIT_PASS


def _accept(args: argparse.Namespace) -> int:
    who = args.by or os.environ.get("QSIM_USER") or getpass.getuser()
    with History(_history_path(args), create=False) as history:
        acceptance = history.accept(
            args.pattern,
            reason=args.reason,
            accepted_by=who,
            until=args.until,
            candidate=args.candidate or "",
            tenant=args.tenant or "",
            verdict=args.verdict or "",
        )
    scope = ", ".join(
        f"{k} {v}"
        for k, v in (
            ("candidate", acceptance.candidate),
            ("tenant", acceptance.tenant),
            ("verdict", acceptance.verdict),
        )
        if v
    )
    print(
        f"accepted pattern {acceptance.pattern_id}"
        + (f" ({scope})" if scope else " (every candidate, tenant and verdict)")
        + f" by {acceptance.accepted_by}"
        + (f" until {acceptance.until}" if acceptance.until else "")
        + f": {acceptance.reason}"
    )
    return EXIT_PASS


def _nightly(args: argparse.Namespace) -> int:
    outcome = run_nightly(Path(args.config), args.candidate or [], ray_address=args.ray_address)
    _print_outcome(outcome)
    return outcome.gate.exit_code


def _replay(args: argparse.Namespace) -> int:
    one_target = bool(args.pattern or args.query_id)
    if one_target and not args.full and not args.ray_address:
        cfg = prepare_replay(
            Path(args.config),
            args.tenant,
            pattern_id=args.pattern,
            query_id=args.query_id,
            candidate_specs=args.candidate or [],
        )
        quick = quick_replay(cfg, args.tenant, pattern_id=args.pattern, query_id=args.query_id)
        print("\n".join(quick.lines()))
        return EXIT_REGRESSION if quick.regressions else EXIT_PASS
    outcome = run_replay(
        Path(args.config),
        args.tenant,
        pattern_id=args.pattern,
        query_id=args.query_id,
        candidate_specs=args.candidate or [],
        ray_address=args.ray_address,
    )
    _print_outcome(outcome)
    return EXIT_PASS


def _results_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--results-dir", default="results", help="folder of run folders (default: results)"
    )
    parser.add_argument("--history", help=f"history database (default: RESULTS_DIR/{HISTORY_FILE})")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the report stage's commands."""
    report = subparsers.add_parser(
        "report",
        help="write report.html, summary.json and junit.xml for a run",
        description="Write a run's HTML report, summary.json and junit.xml, record it in "
        "the run history, and print the report path. An incomplete run folder is "
        "reported with what is missing.",
    )
    report.add_argument("run", metavar="RUN", help="run id (under --results-dir) or run folder")
    _results_options(report)
    report.add_argument(
        "--no-history", action="store_true", help="neither read nor record the run history"
    )
    report.add_argument(
        "--gate", action="store_true", help="exit with the nightly gate's code (0, 1 or 2)"
    )
    report.set_defaults(func=_report)

    history = subparsers.add_parser(
        "history",
        help="list recorded runs, or one pattern's verdict and latency over time",
        description="List recorded runs (newest first), or with --pattern the pattern's "
        "verdict and latency in every run.",
    )
    _results_options(history)
    history.add_argument("--pipeline", help="only runs of this pipeline")
    history.add_argument("--pattern", metavar="ID", help="one pattern's results over time")
    history.add_argument("--limit", type=int, default=50, help="runs to list (default 50)")
    history.set_defaults(func=_history)

    accept = subparsers.add_parser(
        "accept",
        help="accept a known incompatibility so the nightly gate passes on it",
        description="Record that a pattern's findings are accepted (who, why, until when). "
        "The gate passes on them; reports still list them as known.",
    )
    accept.add_argument("pattern", metavar="PATTERN", help="pattern id")
    accept.add_argument("--reason", required=True, help="why it is accepted")
    accept.add_argument("--until", metavar="DATE", help="last day it is accepted (YYYY-MM-DD)")
    accept.add_argument("--candidate", help="only for this candidate engine")
    accept.add_argument("--tenant", help="only for this tenant")
    accept.add_argument("--verdict", help="only this verdict (e.g. candidate_error)")
    accept.add_argument("--by", help="who accepts (default: $QSIM_USER or the login name)")
    _results_options(accept)
    accept.set_defaults(func=_accept)

    nightly = subparsers.add_parser(
        "nightly",
        help="run, report and gate against the previous night (exit 1 on new findings)",
        description="Run CONFIG against the listed candidates, write every report output, "
        "compare with the previous run of the pipeline and exit 1 only for new unaccepted "
        "correctness findings or confirmed performance regressions beyond the gate.",
    )
    nightly.add_argument("config", metavar="CONFIG", help="run configuration (TOML)")
    nightly.add_argument(
        "--candidate",
        action="append",
        metavar="SPEC",
        help="NAME, NAME=REQUIREMENT or REQUIREMENT (e.g. duckdb==2.0.1); repeatable",
    )
    nightly.add_argument("--ray-address", help="an existing Ray cluster (default: local)")
    nightly.set_defaults(func=_nightly)

    replay = subparsers.add_parser(
        "replay",
        help="replay one tenant now and print the report path; one pattern or query: in "
        "seconds, verdict lines printed",
        description="Replay one customer's workload now, or one pattern or one query of it, "
        "with the config's pinned generation and cached runtimes.",
    )
    replay.add_argument("--tenant", required=True, help="tenant id")
    target = replay.add_mutually_exclusive_group()
    target.add_argument("--pattern", help="only this pattern id")
    target.add_argument("--query-id", help="only this query id")
    replay.add_argument(
        "--candidate", action="append", metavar="SPEC", help="candidate engine (as for nightly)"
    )
    replay.add_argument(
        "--config", default=str(DEFAULT_CONFIG), help=f"run configuration ({DEFAULT_CONFIG})"
    )
    replay.add_argument("--ray-address", help="an existing Ray cluster (default: local)")
    replay.add_argument(
        "--full",
        action="store_true",
        help="one pattern or query too: a full run on Ray with the performance phase and "
        "the report (default for them: replayed in this process, verdict lines printed)",
    )
    replay.set_defaults(func=_replay)
