"""A Ray cluster without a shared file system against one node, on the same workload.

    .venv/bin/python -m benchmarks.bench_cluster [--config configs/demo.toml]

Runs the config's workload twice (no perf phase, no quiet confirmation):

* one node: a local Ray, the generation in the config's local store;
* two nodes, nothing shared: a local head with no CPU for sessions (the driver's node) and
  a second node with its own runtimes, node cache and workspace folders; the generation is
  published to an S3-compatible server (moto, on the loopback) and fetched by the second
  node. The second node starts with empty folders, so its runs pays the runtime builds and
  the fetch (both shown in ``sessions_start``).

Prints the verdict counts of both runs, whether every verdict is identical, and the wall
time and phase timings of each run (cluster start-up excluded, Ray start included).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.bench_runner import variant
from simulator.config import RunConfig, load_config, parse_config
from simulator.datasets.object_store import ObjectGenerationStore
from simulator.results.layout import RUN_FILE, VERDICTS_FILE
from simulator.runner.inputs import resolve_generation, resolve_workload
from simulator.runner.run import RunOutcome, execute_run

# The S3 server the tests use (tests/ is not a package).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "datasets"))
from s3_server import running_s3_server


def timed_run(cfg: RunConfig, **kwargs: Any) -> tuple[RunOutcome, float, dict[str, float]]:
    """Run ``cfg``; return the outcome, its wall seconds and run.json's phase timings."""
    began = time.monotonic()
    outcome = execute_run(cfg, **kwargs)
    wall = time.monotonic() - began
    meta = json.loads((outcome.run_dir / RUN_FILE).read_text())
    return outcome, wall, meta["timings"]


def verdicts(outcome: RunOutcome) -> list[tuple[str, str, str]]:
    """(candidate, query id, verdict) of every verdict of a run, sorted."""
    lines = (outcome.run_dir / VERDICTS_FILE).read_text().splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
    return sorted((v["candidate"], v["query_id"], v["verdict"]) for v in rows)


def main() -> None:
    """Measure and print both runs."""
    from ray.cluster_utils import Cluster

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="configs/demo.toml")
    args = parser.parse_args()
    cfg = load_config(args.config)
    generation = resolve_generation(cfg)
    resolve_workload(cfg, generation)  # build the demo inputs outside the clock
    scratch = Path(tempfile.mkdtemp(prefix="qsim-bench-cluster-"))
    quiet = {"confirm_quietly": False}
    try:
        one, one_wall, one_timings = timed_run(variant(cfg, scratch / "one", load=quiet))
        with running_s3_server() as s3:
            os.environ.update(s3.env())
            uri = s3.uri("bench")
            began = time.monotonic()
            ObjectGenerationStore(uri, scratch / "driver-cache").publish(generation)
            publish_s = time.monotonic() - began
            data = dict(variant(cfg, scratch / "two", load=quiet).raw)
            data["dataset"] = {
                "generation": generation.id,
                "store": uri,
                "cache": str(scratch / "driver-cache"),
            }
            node = scratch / "node2"
            cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
            cluster.add_node(
                num_cpus=os.cpu_count() or 2,
                env_vars={
                    **s3.env(),
                    "QSIM_RUNTIMES": str(node / "runtimes"),
                    "QSIM_CACHE": str(node / "cache"),
                    "QSIM_WORKSPACES": str(node / "workspaces"),
                },
            )
            try:
                two, two_wall, two_timings = timed_run(
                    parse_config(data, cfg.path), ray_address=cluster.address
                )
            finally:
                cluster.shutdown()
        one_verdicts, two_verdicts = verdicts(one), verdicts(two)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    same = one_verdicts == two_verdicts
    print(f"workload: {len(one_verdicts)} verdicts per run ({cfg.path})")
    print(f"one node:  {one.verdict_counts}  wall {one_wall:.1f} s  {one_timings}")
    print(f"two nodes: {two.verdict_counts}  wall {two_wall:.1f} s  {two_timings}")
    print(f"verdicts identical: {same}; publish to the object store: {publish_s:.1f} s")
    print(f"two nodes / one node wall time: {two_wall / one_wall:.2f}x")
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
