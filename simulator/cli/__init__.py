"""The ``qsim`` command line. Thin by design: each stage's module under ``simulator/cli``
adds its subcommands with ``register(subparsers)`` and each handler calls one library
function. Exit codes: 0 ok, 1 regressions found (or verify found damage), 2 usage or input
error (a :class:`~simulator.errors.QsimError`, printed as one line)."""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from collections.abc import Sequence

from simulator import __version__
from simulator.errors import QsimError
from simulator.results.exit_codes import EXIT_INTERRUPTED
from simulator.results.masking import mask_dsn

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_INPUT = 2

# One module per stage; each defines register(subparsers: argparse._SubParsersAction).
GROUPS = ("dataset", "workload", "report", "engines", "run", "serve", "selftest")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's default exit code is already 2
        self.exit(EXIT_INPUT, f"qsim: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every stage's subcommands."""
    parser = _Parser(
        prog="qsim",
        description="Replay customer query patterns against a baseline and candidate SQL "
        "engines and compare checksums of what they returned and wrote.",
    )
    parser.add_argument("--version", action="version", version=f"qsim {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    subparsers.required = True
    for group in GROUPS:
        importlib.import_module(f"simulator.cli.{group}").register(subparsers)
    return parser


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``qsim`` console script; returns the process exit code. SIGTERM
    stops a command as Ctrl-C does: cleanly, with exit code 130."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verbose:
        os.environ["QSIM_VERBOSE"] = "1"
    try:
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    except ValueError:  # not the main thread (an embedding program): leave signals alone
        previous = None
    try:
        code = args.func(args)
    except QsimError as err:
        # An error may name a DSN (a connection that failed): never print its password.
        print(f"qsim: error: {mask_dsn(str(err))}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("qsim: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return EXIT_OK if code is None else int(code)


if __name__ == "__main__":
    sys.exit(main())
