"""The comparison under load: its A/A false-alarm rate and its detection of a slowdown
that shows only under concurrency.

    .venv/bin/python -m benchmarks.bench_load_aa [--runs N] [--replicas N] [--factor F]

Each of ``--runs`` separate runs of ``configs/aa.toml`` (real Ray, isolated DuckDB 2.0.1
runtimes, perf phase off, in a temporary work folder, a different ``run.seed`` each, so a
different schedule order) has ``--replicas`` identical candidates and one whose SELECTs are
``--factor`` times slower only while other executions are in flight. Printed:

- A/A false-alarm rate under load: load verdicts ``regressed`` or ``improved`` over load
  verdicts decided (not ``insufficient``), patterns and whole workload, over all replicas
  and runs; reference: ``load.compare_alpha`` (the false-discovery level), as a ratio;
- detection: runs in which the slowed candidate's whole workload is ``regressed``, its
  ratio, and the share of its decided patterns found ``regressed``;
- the insufficient share: patterns below ``load.compare_min_samples`` (no power there).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from simulator.config import LoadSection
from simulator.selftest.calibration import LOAD_SLOW, run_calibration


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--factor", type=float, default=3.0)
    args = parser.parse_args()
    alarms = decided = insufficient = total = 0
    detected = 0
    with tempfile.TemporaryDirectory(prefix="qsim-bench-load-") as tmp:
        for run in range(1, args.runs + 1):
            result = run_calibration(
                Path(tmp),
                replicas=args.replicas,
                load_factor=args.factor,
                perf={"enabled": False},
                run_name=f"loadaa{run}",
                seed=run,
            )
            a, d = result.load_alarms()
            alarms, decided = alarms + a, decided + d
            for c in result.replicas:
                patterns = [v for v in result.load.get(c, []) if v["pattern_id"]]
                total += len(patterns)
                insufficient += sum(v["verdict"] == "insufficient" for v in patterns)
            workload = result.load_workload_verdict()
            slow_patterns = [v for v in result.load.get(LOAD_SLOW, []) if v["pattern_id"]]
            slow_decided = [v for v in slow_patterns if v["verdict"] != "insufficient"]
            found = sum(v["verdict"] == "regressed" for v in slow_decided)
            hit = workload is not None and workload["verdict"] == "regressed"
            detected += hit
            ratio = workload["ratio"] if workload else None
            print(
                f"run {run}: A/A {a}/{d} decided load verdicts regressed/improved; "
                f"x{args.factor:g} under concurrency: workload "
                f"{workload['verdict'] if workload else 'none'}"
                + (f" (ratio {ratio:.2f}, {workload['samples']} queries)" if ratio else "")
                + f", {found}/{len(slow_decided)} decided patterns regressed; "
                f"{result.wall_s:.1f} s"
            )
    alpha = LoadSection().compare_alpha
    rate = alarms / decided if decided else 0.0
    print(
        f"A/A false-alarm rate under load: {alarms}/{decided} = {rate:.1%} over {args.runs} runs "
        f"x {args.replicas} replicas; reference: compare_alpha {alpha:.0%} "
        f"(ratio {rate / alpha:.2f}); {insufficient}/{total} replica patterns insufficient"
    )
    print(
        f"load-only slowdown x{args.factor:g} detected (whole workload regressed): "
        f"{detected}/{args.runs} runs"
    )


if __name__ == "__main__":
    main()
