"""How long ``qsim selftest`` takes, how fast the incident is caught, and how well the
performance comparison is calibrated on this machine.

    .venv/bin/python -m benchmarks.bench_selftest [--runs N] [--incidents N] [--aa N]
        [--sweeps N] [--skip-selftest]

Everything runs for real (Ray, isolated DuckDB 2.0.1 runtimes, the scenario configs in
``configs/``) in a temporary work folder:

1. ``qsim selftest --runs N`` (the library call behind it): wall time; reference: the wall
   time of the scenario runs inside it (``execute_run`` calls), as a ratio.
2. The incident, ``--incidents`` separate runs of ``configs/incident.toml``, one lossy
   candidate each with fault seed 1, 2, ...: seconds from the run's start (``run.json``
   ``started_at``) and from its first execution to the first ``write_mismatch`` being
   judgeable (both sides recorded: ``executions.jsonl`` ``finished_at``); reference: the
   run's wall time, as a ratio.
3. A/A calibration: ``--aa`` separate runs of ``configs/aa.toml`` (one identical
   candidate): false-alarm rate = (regressed + improved) / patterns; reference: the
   configured ``perf.false_alarm_rate``, as a ratio.
4. Sensitivity sweep: ``--sweeps`` runs with SELECTs naming ``customers`` slowed by 1.1x,
   1.2x, 1.3x and 1.5x (one candidate each, same run, shared baseline): share of those
   patterns judged ``regressed`` and count of other patterns judged ``regressed``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from simulator.selftest.calibration import run_calibration, sweep_name
from simulator.selftest.incident import run_incident
from simulator.selftest.matrix import passed, render
from simulator.selftest.suite import run_selftest

SWEEP = (1.1, 1.2, 1.3, 1.5)


def bench_selftest(work: Path, runs: int) -> None:
    began = time.monotonic()
    result = run_selftest(work, runs=runs, echo=lambda line: None)
    wall = time.monotonic() - began
    print(render(result.rows))
    inner = result.figures["runs_wall_s"]
    print(
        f"selftest --runs {runs}: {wall:.1f} s wall ({'PASS' if passed(result.rows) else 'FAIL'}); "
        f"reference: scenario runs inside it {inner:.1f} s (ratio {wall / inner:.2f}); "
        f"quiet confirmation {result.figures['confirm_wall_s']:.1f} s"
    )


def bench_incident(work: Path, incidents: int) -> None:
    firsts, after_first, ratios = [], [], []
    for seed in range(1, incidents + 1):
        run = run_incident(work, [seed], confirm=False)
        assert run.first_write_mismatch_s is not None, run.run_dir
        assert run.first_write_mismatch_after_first_execution_s is not None
        detected = run.detected(run.candidates[0])
        firsts.append(run.first_write_mismatch_s)
        after_first.append(run.first_write_mismatch_after_first_execution_s)
        ratios.append(run.first_write_mismatch_s / run.wall_s)
        print(
            f"incident seed {seed}: first write_mismatch {run.first_write_mismatch_s:.1f} s "
            f"after start, {run.first_write_mismatch_after_first_execution_s:.2f} s after the "
            f"first execution; run wall {run.wall_s:.1f} s (ratio {ratios[-1]:.2f}); "
            f"{sum(w.named for w in run.lost_writes)}/{len(run.lost_writes)} lost writes "
            f"named, detected={detected}"
        )
    print(
        f"incident x{incidents}: first write_mismatch median {statistics.median(firsts):.1f} s "
        f"after start ({statistics.median(after_first):.2f} s after the first execution); "
        f"reference: run wall time, median ratio {statistics.median(ratios):.2f}"
    )


def bench_aa(work: Path, aa_runs: int) -> None:
    alarms = patterns = 0
    allowed = 0.0
    for i in range(1, aa_runs + 1):
        run = run_calibration(work, replicas=1, run_name=f"aa{i}")
        a, p = run.false_alarm_rate()
        alarms, patterns, allowed = alarms + a, patterns + p, run.allowed_rate
        counts = dict(run.perf_counts(run.replicas[0]))
        print(f"A/A run {i}: {a}/{p} false alarms ({a / p:.1%}); verdicts {counts}")
    rate = alarms / patterns
    print(
        f"A/A x{aa_runs}: false-alarm rate {alarms}/{patterns} = {rate:.1%}; reference: "
        f"configured perf.false_alarm_rate {allowed:.0%} (ratio {rate / allowed:.2f})"
    )


def bench_sweep(work: Path, sweeps: int) -> None:
    hits = {f: [0, 0, 0] for f in SWEEP}  # regressed on slowed, slowed patterns, others
    for i in range(1, sweeps + 1):
        run = run_calibration(work, replicas=0, latency_sweep=SWEEP, run_name=f"sweep{i}")
        for factor in SWEEP:
            expected, regressed = run.slow_patterns(sweep_name(factor))
            hits[factor][0] += len(expected & regressed)
            hits[factor][1] += len(expected)
            hits[factor][2] += len(regressed - expected)
    for factor, (hit, total, others) in hits.items():
        print(
            f"latency x{factor}: {hit}/{total} slowed patterns regressed "
            f"({hit / total:.0%}), {others} other patterns regressed, over {sweeps} runs"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--incidents", type=int, default=5)
    parser.add_argument("--aa", type=int, default=3)
    parser.add_argument("--sweeps", type=int, default=2)
    parser.add_argument("--skip-selftest", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qsim-bench-selftest-") as tmp:
        work = Path(tmp)
        if not args.skip_selftest:
            bench_selftest(work / "selftest", args.runs)
        if args.incidents:
            bench_incident(work / "incident", args.incidents)
        if args.aa:
            bench_aa(work / "aa", args.aa)
        if args.sweeps:
            bench_sweep(work / "sweep", args.sweeps)


if __name__ == "__main__":
    main()
