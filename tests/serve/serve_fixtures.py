"""Helpers of the serve tests: a real ``qsim serve`` process on a free port (its own module
name, so test modules import it without clashing with other folders' conftest)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

READY = re.compile(r"listening on (http://\S+/)")
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Service:
    """A running ``qsim serve`` process and the first lines it printed."""

    process: subprocess.Popen[str]
    url: str
    lines: list[str]

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def start_service(config: Path, *args: str, env: dict[str, str] | None = None) -> Service:
    """Start ``qsim serve CONFIG --port 0 ARGS`` and wait for its listening line."""
    environ = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator", "serve", str(config), "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=environ,
        cwd=config.parent,
    )
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        found = READY.search(line)
        if found:
            return Service(process, found.group(1), lines)
    process.kill()
    raise AssertionError(f"qsim serve did not start: {lines}")
