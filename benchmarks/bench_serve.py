"""How fast ``qsim serve`` answers, and how fast a cold ``qsim replay`` of one query is.

    .venv/bin/python -m benchmarks.bench_serve [--config configs/demo.toml] [--tenant t01]
        [--clicks 10] [--cold 3]

Measures, on the config's generation and workload (built on first use as ``qsim run``
would):

* start-up: from launching ``qsim serve CONFIG --port 0`` to its "listening" line, and
  from opening a tenant's page to "engine workers warm" (the session's workers started);
* click to verdict: in headless Chromium (/usr/bin/chromium), the time from clicking "run"
  on one SELECT of the tenant to the verdict shown on the page (measured by the page with
  ``performance.now()``), ``--clicks`` times with warm workers, and beside it the engines'
  own wall time for that statement (the worker's ``wall_ms``). Goal: under 1 s;
* cold ``qsim replay --tenant T --query-id Q`` (a new process, nothing warm): ``--cold``
  times, wall clock. Goal: under 3 s; and once ``--full`` (Ray, perf phase, report) for
  reference.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from simulator.config import load_config
from simulator.runner.inputs import resolve_generation, resolve_workload

CHROMIUM = "/usr/bin/chromium"
READY = re.compile(r"listening on (http://\S+/)")
GOAL_CLICK_MS = 1000.0
GOAL_COLD_S = 3.0


def _qsim(*args: str) -> list[str]:
    return [sys.executable, "-m", "simulator", *args]


def _start_service(config: Path) -> tuple[subprocess.Popen[str], str, float]:
    began = time.monotonic()
    process = subprocess.Popen(
        _qsim("serve", str(config), "--port", "0"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        found = READY.search(line)
        if found:
            return process, found.group(1), time.monotonic() - began
    raise SystemExit(f"qsim serve did not start (exit {process.wait()})")


def _select_query(config: Path, tenant: str) -> str:
    cfg = load_config(config)
    workload = resolve_workload(cfg, resolve_generation(cfg))
    for query in workload.queries:
        if query.tenant == tenant and query.kind == "select" and not query.nondeterministic:
            return query.query_id
    raise SystemExit(f"tenant {tenant} has no deterministic SELECT in the workload")


def _clicks(url: str, tenant: str, query_id: str, clicks: int) -> dict[str, object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        page = browser.new_page()
        opened = time.monotonic()
        page.goto(f"{url}?tenant={tenant}")
        page.wait_for_selector("#warm-state.warm", timeout=300_000)
        warm_s = time.monotonic() - opened
        click_ms, engine_ms = [], []
        for _ in range(clicks + 1):  # the first click is a warm-up, not counted
            page.click(f"button[data-query-id='{query_id}']")
            page.wait_for_selector("body[data-last-state]", timeout=120_000)
            if page.get_attribute("body", "data-last-state") != "done":
                raise SystemExit(f"replay failed: {page.inner_text('#job-error')}")
            click_ms.append(float(page.get_attribute("body", "data-click-to-verdict-ms") or 0))
            walls = page.eval_on_selector_all(
                "#sides tbody tr:nth-child(4) td", "cells => cells.map(c => c.textContent)"
            )
            engine_ms.append([float(w.split()[0]) for w in walls])
        browser.close()
    return {"warm_s": warm_s, "click_ms": click_ms[1:], "engine_ms": engine_ms[1:]}


def _cold(config: Path, tenant: str, query_id: str, full: bool = False) -> float:
    args = ["replay", "--config", str(config), "--tenant", tenant, "--query-id", query_id]
    began = time.monotonic()
    done = subprocess.run(_qsim(*args, *(["--full"] if full else [])), capture_output=True)
    if done.returncode not in (0, 1):
        raise SystemExit(f"qsim replay failed: {done.stderr.decode()[-500:]}")
    return time.monotonic() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/demo.toml")
    parser.add_argument("--tenant", default="t01")
    parser.add_argument("--clicks", type=int, default=10)
    parser.add_argument("--cold", type=int, default=3)
    parser.add_argument("--no-full", action="store_true", help="skip the --full reference")
    args = parser.parse_args()
    config = Path(args.config)
    query_id = _select_query(config, args.tenant)
    print(f"load average before: {os.getloadavg()[0]:.2f}; query {args.tenant}/{query_id}")

    process, url, start_s = _start_service(config)
    try:
        page = _clicks(url, args.tenant, query_id, args.clicks)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    clicks = page["click_ms"]
    engines = page["engine_ms"]
    assert isinstance(clicks, list) and isinstance(engines, list)
    print(f"service start-up (launch -> listening): {start_s:.2f} s")
    print(f"tenant session warm (page opened -> workers warm): {page['warm_s']:.2f} s")
    median_click = statistics.median(clicks)
    base = statistics.median(e[0] for e in engines)
    cand = statistics.median(e[1] for e in engines)
    verdict = "met" if median_click < GOAL_CLICK_MS else "MISSED"
    print(
        f"click -> verdict, warm workers: median {median_click:.0f} ms, min {min(clicks):.0f}, "
        f"max {max(clicks):.0f} over {len(clicks)} clicks (goal < {GOAL_CLICK_MS:.0f} ms: "
        f"{verdict}); engines' own wall: baseline {base:.1f} ms, candidate {cand:.1f} ms"
    )
    colds = [_cold(config, args.tenant, query_id) for _ in range(args.cold)]
    verdict = "met" if statistics.median(colds) < GOAL_COLD_S else "MISSED"
    print(
        f"cold qsim replay --query-id: median {statistics.median(colds):.2f} s "
        f"({', '.join(f'{c:.2f}' for c in colds)}) (goal < {GOAL_COLD_S:.0f} s: {verdict})"
    )
    if not args.no_full:
        full_s = _cold(config, args.tenant, query_id, full=True)
        print(f"cold qsim replay --full (Ray, perf, report): {full_s:.2f} s")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
