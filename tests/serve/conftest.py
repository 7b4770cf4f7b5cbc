"""Fixtures of the serve tests: the runners' shared tiny world, a config over it, and a
real ``qsim serve`` process (one per module) on a free port."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from runner_fixtures import world, write_config

__all__ = ["Service", "serve_config", "start_service", "world"]
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


@pytest.fixture(scope="module")
def serve_config(world: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run config over the tiny world whose results (and history) are the module's own."""
    folder = tmp_path_factory.mktemp("serve")
    return write_config(folder / "serve.toml", world, folder / "results")


@pytest.fixture(scope="module")
def service(serve_config: Path) -> Iterator[Service]:
    """One loopback service for the module."""
    running = start_service(serve_config)
    yield running
    assert running.stop() == 0


CHROMIUM = "/usr/bin/chromium"
# The launch flags of tests/report/test_html_browser.py: headless, no network side traffic.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """One headless Chromium for the module."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed")
    with sync_api.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()
