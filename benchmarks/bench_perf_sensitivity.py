"""The smallest slowdown and the smallest peak-memory growth qsim finds reliably, on the
machine as it is and with both cores busy, and the A/A false-alarm rate of both.

    .venv/bin/python -m benchmarks.bench_perf_sensitivity [--runs N] [--max-patterns N]
        [--latency 1.1,1.2,...] [--memory 1.05,1.1,...] [--conditions idle,busy]

Everything is real (Ray, isolated DuckDB 2.0.1 runtimes, ``configs/aa.toml`` in a temporary
work folder). Per condition, ``--runs`` calibration runs, each with one identical (A/A)
candidate, one candidate per ``--latency`` factor (SELECTs naming ``customers`` slowed:
``faults.latency``) and one per ``--memory`` factor (the same SELECTs given that much more
peak memory: ``faults.memory``, real memory in the worker), all over one shared baseline.
``busy`` starts two busy-loop processes (both cores of this machine) for the whole run.

A factor is *found* in a run when at least 90 % of its changed patterns (9 of 10) get
``regressed`` (latency) / ``memory_regressed`` (memory) and no other pattern of that
candidate does; the figure is the smallest factor found in every run of the condition.
The A/A false-alarm rate is (regressed + improved) / patterns of the identical candidate
over the runs, for latency and for memory; the reference is the configured
``perf.false_alarm_rate``.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
from collections.abc import Callable
from pathlib import Path

from simulator.selftest.busy import busy_cores
from simulator.selftest.calibration import HUNGRY, SLOW, CalibrationRun, run_calibration, sweep_name

FOUND_SHARE = 0.9
Pair = tuple[set[tuple[str, str]], set[tuple[str, str]]]


def _factors(text: str) -> tuple[float, ...]:
    return tuple(sorted(float(v) for v in text.split(",") if v.strip()))


def _found(pair: Pair) -> tuple[int, int, int, bool]:
    """(hits, changed patterns, others flagged, found) of one candidate in one run."""
    expected, flagged = pair
    hits, others = len(expected & flagged), len(flagged - expected)
    return hits, len(expected), others, bool(expected) and hits >= FOUND_SHARE * len(expected)


def _report(
    label: str,
    runs: list[CalibrationRun],
    factors: tuple[float, ...],
    role: str,
    judged: Callable[[CalibrationRun, str], Pair],
) -> float | None:
    smallest = None
    for factor in factors:
        outcomes = [_found(judged(run, sweep_name(factor, role))) for run in runs]
        reliable = all(found and others == 0 for _, _, others, found in outcomes)
        seen = ", ".join(f"{h}/{n} (+{o} others)" for h, n, o, _ in outcomes)
        print(f"  {label} x{factor:g}: {seen} -> {'found' if reliable else 'missed'}")
        if reliable and smallest is None:
            smallest = factor
    return smallest


def bench_condition(
    work: Path, condition: str, args: argparse.Namespace
) -> tuple[float | None, float | None, tuple[int, int], tuple[int, int]]:
    """Run the condition's calibration runs; print per factor; return the smallest latency
    and memory factors found and the A/A (alarms, patterns) for latency and memory."""
    runs = []
    for i in range(1, args.runs + 1):
        busy = busy_cores(2) if condition == "busy" else contextlib.nullcontext()
        with busy:
            runs.append(
                run_calibration(
                    work,
                    replicas=1,
                    latency_sweep=args.latency,
                    memory_sweep=args.memory,
                    perf={"max_patterns": args.max_patterns},
                    run_name=f"sens-{condition}-{i}",
                )
            )
    print(f"{condition}: {args.runs} run(s), wall {sum(r.wall_s for r in runs):.0f} s")
    latency = _report("latency", runs, args.latency, SLOW, CalibrationRun.slow_patterns)
    memory = _report("memory", runs, args.memory, HUNGRY, CalibrationRun.hungry_patterns)
    aa = [r.false_alarm_rate() for r in runs]
    aa_memory = [r.memory_false_alarm_rate() for r in runs]
    totals = (sum(a for a, _ in aa), sum(p for _, p in aa))
    memory_totals = (sum(a for a, _ in aa_memory), sum(p for _, p in aa_memory))
    return latency, memory, totals, memory_totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-patterns", type=int, default=0, help="0 = every pattern")
    parser.add_argument("--latency", type=_factors, default=(1.1, 1.2, 1.3, 1.5, 2.0))
    parser.add_argument("--memory", type=_factors, default=(1.05, 1.1, 1.2, 1.3))
    parser.add_argument("--conditions", default="idle,busy")
    args = parser.parse_args()
    summary = []
    with tempfile.TemporaryDirectory(prefix="qsim-bench-sensitivity-") as tmp:
        for condition in args.conditions.split(","):
            figures = bench_condition(Path(tmp) / condition, condition, args)
            summary.append((condition, *figures))
    for condition, latency, memory, (la, lp), (ma, mp) in summary:
        print(
            f"{condition}: smallest slowdown found x{latency or 'none'} (goal 1.2), smallest "
            f"memory growth found x{memory or 'none'} (goal 1.3); A/A false alarms latency "
            f"{la}/{lp} = {la / max(lp, 1):.1%}, memory {ma}/{mp} = {ma / max(mp, 1):.1%} "
            "(reference: perf.false_alarm_rate 5%)"
        )


if __name__ == "__main__":
    main()
