"""``qsim serve CONFIG``: the interactive per-customer replay service and its page."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``serve`` subcommand."""
    parser = subparsers.add_parser(
        "serve",
        help="serve a page to replay one tenant's queries or a pasted statement, warm",
        description="Keep tenant sessions and engine workers warm and serve a page where "
        "an engineer picks a tenant, one of its workload queries or a pasted statement, a "
        "baseline and a candidate, and sees statuses, timings, checksums and the verdict, "
        "never a customer value. Binds to 127.0.0.1; any other address needs a token "
        "($QSIM_SERVE_TOKEN, or one generated and printed once). Every replay is recorded "
        "in the run history.",
    )
    parser.add_argument("config", help="run config (TOML), e.g. configs/demo.toml")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (8765; 0: any free)")
    parser.add_argument(
        "--diff-sample-rows",
        type=int,
        default=0,
        metavar="N",
        help="show up to N differing rows of a mismatch (customer values; every view says "
        "so); default 0: never",
    )
    parser.add_argument(
        "--max-sql-chars", type=int, default=10_000, help="longest pasted statement (10000)"
    )
    parser.add_argument("--max-sessions", type=int, default=4, help="tenants kept warm at once (4)")
    parser.add_argument("--history", help="history database (default: RESULTS_DIR/history.sqlite)")
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C; returns 0."""
    # Imported here: aiohttp and jinja2 would slow every other qsim command's start.
    from simulator.serve.service import run_service

    return run_service(
        Path(args.config),
        host=args.host,
        port=args.port,
        diff_sample_rows=args.diff_sample_rows,
        max_sql_chars=args.max_sql_chars,
        max_sessions=args.max_sessions,
        history=Path(args.history) if args.history else None,
    )
