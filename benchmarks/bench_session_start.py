"""What a tenant session's start and close cost with its engine workers started side by side
(``TenantSession.start``, one thread a lane) against one after another, in the same run.

    .venv/bin/python -m benchmarks.bench_session_start [--config configs/demo.toml]
        [--engines 2,6] [--rounds 5]

For each engine count it starts a session of the config's largest tenant with the
config's baseline plus copies of its first candidate (the incident's quiet confirmation
starts sessions of 6: one baseline, five candidates), ``--rounds`` times each way in
alternating order, and prints the median wall seconds of ``start()`` and ``close()``, the
serial reference and serial / side by side. The one-after-another path is the same session
with its lane step run in a plain loop (``session._each`` swapped for the benchmark).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from simulator.config import RunConfig, load_config
from simulator.engines.runtime import default_root, ensure_runtime
from simulator.runner import session as session_module
from simulator.runner.inputs import resolve_generation
from simulator.runner.session import TenantSession

PARALLEL = session_module._each


def one_after_another(lanes: Iterable[Any], step: Callable[[Any], Any]) -> list[Any]:
    """The reference: every lane's step in turn."""
    return [step(lane) for lane in lanes]


def engine_specs(cfg: RunConfig, count: int) -> list[Any]:
    """The baseline and ``count - 1`` copies of the first candidate, named apart."""
    candidate = cfg.engines[cfg.run.candidates[0]]
    copies = [dataclasses.replace(candidate, name=f"copy{i}") for i in range(1, count)]
    return [cfg.engines[cfg.run.baseline], *copies]


def tenant_bytes(generation: Any, tenant: str) -> int:
    """Bytes of a tenant's table files."""
    return sum(os.path.getsize(f) for spec in generation.table_specs(tenant) for f in spec.files)


def timed_session(
    cfg: RunConfig, specs: list[Any], work: Path, side_by_side: bool
) -> tuple[float, float]:
    """Seconds of one session's start() and close()."""
    generation = resolve_generation(cfg)
    tenant = max(generation.tenants(), key=lambda t: tenant_bytes(generation, t))
    runtimes = {spec.name: ensure_runtime(spec, default_root()) for spec in specs}
    session = TenantSession(
        run_id="bench-session-start",
        tenant=tenant,
        workspace_root=str(work / "ws"),
        generation_store=str(generation.path.parent.resolve()),
        generation_id=generation.id,
        engines=specs,
        baseline=specs[0].name,
        runtimes_root=str(default_root()),
        runtimes=runtimes,
        statements={spec.name: [] for spec in specs},
        writable=[],
        timeout_s=60.0,
        keep_result_rows=0,
        determinism_runs=1,
        read_only_cache=cfg.dataset.read_only_cache,
    )
    session_module._each = PARALLEL if side_by_side else one_after_another
    try:
        began = time.perf_counter()
        session.start()
        started = time.perf_counter()
        session.close()
        closed = time.perf_counter()
    finally:
        session_module._each = PARALLEL
        session.close()
    return started - began, closed - started


def main() -> None:
    """Measure and print each engine count."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/demo.toml")
    parser.add_argument("--engines", default="2,6")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    cfg = load_config(args.config)
    work = Path(tempfile.mkdtemp(prefix="qsim-bench-session-start-"))
    print(
        f"{'engines':>7} {'start s':>8} {'serial s':>9} {'ratio':>6} "
        f"{'close s':>8} {'serial s':>9} {'ratio':>6}"
    )
    for count in (int(c) for c in args.engines.split(",")):
        specs = engine_specs(cfg, count)
        timed_session(cfg, specs, work, True)  # untimed: runtimes, caches and page cache warm
        times: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
        for round_ in range(args.rounds):
            for side_by_side in (True, False) if round_ % 2 == 0 else (False, True):
                times[side_by_side].append(timed_session(cfg, specs, work, side_by_side))
        start, close = (statistics.median(t[i] for t in times[True]) for i in (0, 1))
        serial_start, serial_close = (statistics.median(t[i] for t in times[False]) for i in (0, 1))
        print(
            f"{count:>7} {start:>8.2f} {serial_start:>9.2f} {serial_start / start:>5.2f}x "
            f"{close:>8.2f} {serial_close:>9.2f} {serial_close / close:>5.2f}x"
        )


if __name__ == "__main__":
    main()
