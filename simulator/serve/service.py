"""Start and stop the service: the workbench, the aiohttp app, the listening socket.

The start-up line ``qsim serve: listening on http://HOST:PORT/`` is printed once the
socket accepts connections (``--port 0`` picks a free port, which the line names); a
generated token is printed once, just before it. Ctrl-C or SIGTERM stops the engine
workers, removes the workspaces and the state folder, and exits 0.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from aiohttp import web

from simulator.config import load_config
from simulator.errors import ConfigError
from simulator.serve.app import build_app
from simulator.serve.security import TOKEN_ENV, service_token
from simulator.serve.workbench import Workbench


async def _serve(app: web.Application, host: str, port: int, started: float) -> None:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1] if runner.addresses else port
    shown = f"[{host}]" if ":" in host else host
    print(
        f"qsim serve: listening on http://{shown}:{bound}/ "
        f"(ready in {time.monotonic() - started:.2f} s)",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def run_service(
    config_path: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    diff_sample_rows: int = 0,
    max_sql_chars: int = 10_000,
    max_sessions: int = 4,
    history: Path | None = None,
) -> int:
    """Serve ``config_path`` until interrupted; returns the exit code (0).

    Raises a QsimError (one line) for a bad config, missing inputs, an engine that cannot
    start, or a bad option."""
    started = time.monotonic()
    if diff_sample_rows < 0 or max_sql_chars < 1 or max_sessions < 1:
        raise ConfigError(
            "qsim serve: --diff-sample-rows >= 0, --max-sql-chars >= 1, --max-sessions >= 1"
        )
    cfg = load_config(config_path)
    token, generated = service_token(host)
    state_dir = Path(tempfile.mkdtemp(prefix="qsim-serve-"))
    bench = None
    try:
        bench = Workbench(
            cfg,
            state_dir,
            diff_sample_rows=diff_sample_rows,
            max_sql_chars=max_sql_chars,
            max_sessions=max_sessions,
        )
        app = build_app(bench, token, history)
        if generated:
            print(
                f"qsim serve: bound beyond the loopback; token (shown once; set {TOKEN_ENV} "
                f"to choose it): {token}",
                flush=True,
            )
        if diff_sample_rows:
            print(
                f"qsim serve: WARNING: diff samples of up to {diff_sample_rows} rows: "
                "customer values may be shown",
                file=sys.stderr,
                flush=True,
            )
        asyncio.run(_serve(app, host, port, started))
    finally:
        if bench is not None:
            bench.close()
        shutil.rmtree(state_dir, ignore_errors=True)
    return 0
