"""Runner benchmarks: harness efficiency, tiny-query throughput against a bare loop, and
scaling with concurrency and over a local two-node Ray cluster, all in the same run.

    .venv/bin/python -m benchmarks.bench_runner [--config configs/demo.toml] [--tiny 400]

Prints, each with its reference measured here:

* Harness efficiency on the demo workload at concurrency 2: sum of engine time (the
  workers' own ``wall_ms``) / (load-phase wall time x worker slots). Target >= 0.8. Also
  on the same kind of workload over a larger generation (``--heavy-scale``, default 0.1),
  where statements take longer, to show how the figure depends on statement size.
* Tiny-query throughput: executions/s of ``qsim run``'s load phase on a workload of tiny
  SELECTs (one tenant, concurrency 1) against a bare loop that sends the same statements
  in the same order to EngineWorkers of the same runtimes, with no Ray, no checksums and
  no records. Target >= 0.5x.
* Scaling: load-phase executions/s on the demo workload at concurrency 1, 2 and 4, and at
  concurrency 4 on a local two-node Ray cluster (head + one more node).

Fixed costs (Ray start, session start, perf phase) are excluded: figures are taken from the
load phase as ``run.json`` records it (``load.wall_s``, ``load.executions``,
``load.engine_busy_ms``).
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from simulator.config import RunConfig, load_config, parse_config
from simulator.datasets.store import GenerationStore
from simulator.engines.runtime import default_root, ensure_runtime
from simulator.engines.worker import EngineWorker
from simulator.jobs.run_report import run_and_report
from simulator.results.layout import RUN_FILE
from simulator.runner.inputs import resolve_generation, resolve_workload
from simulator.workload.store import WorkloadQuery, save_workload

TARGET_EFFICIENCY = 0.8
TARGET_TINY_RATIO = 0.5
TINY_SQL = "SELECT count(*) AS n FROM customers"


def variant(cfg: RunConfig, results: Path, **sections: dict[str, Any]) -> RunConfig:
    """``cfg`` with its results in ``results``, no bank, no perf phase, and overrides."""
    data = copy.deepcopy(cfg.raw)
    data.setdefault("run", {}).update(results_dir=str(results), bank=False)
    data.setdefault("perf", {})["enabled"] = False
    for key, value in sections.items():
        data.setdefault(key, {}).update(value)
    return parse_config(data, cfg.path)


def load_figures(cfg: RunConfig, **kwargs: Any) -> dict[str, Any]:
    """Run ``cfg`` and return its load-phase figures from run.json."""
    outcome = run_and_report(cfg, **kwargs)
    meta = json.loads((outcome.run_dir / RUN_FILE).read_text())
    load = meta["load"]
    load["per_s"] = load["executions"] / load["wall_s"]
    return load


def tiny_workload(cfg: RunConfig, folder: Path, tenant: str, count: int) -> RunConfig:
    """A config whose workload is ``count`` copies of TINY_SQL for one tenant."""
    queries = [
        WorkloadQuery(
            query_id=f"tiny{i:05d}",
            tenant=tenant,
            seq=i,
            submitted_at=float(i),
            sql=TINY_SQL,
            dialect="duckdb",
            kind="select",
            pattern_id="tiny",
            tables_read=["customers"],
        )
        for i in range(count)
    ]
    save_workload(folder, "tiny", queries, {"source": "bench_runner"})
    return parse_config({**cfg.raw, "workload": {"name": "tiny", "dir": str(folder)}}, cfg.path)


def heavy_config(cfg: RunConfig, scratch: Path, scale: float) -> RunConfig:
    """The demo config at concurrency 2 over a larger generation built in ``scratch``."""
    heavy = variant(cfg, scratch / "heavy", load={"concurrency": 2})
    data = copy.deepcopy(heavy.raw)
    data["dataset"] = {
        "generation": "bench-heavy",
        "store": str(scratch / "store"),
        "generate": {"name": "bench-heavy", "scale": scale, "seed": 42, "tenants": 8},
    }
    data["workload"] = {**data.get("workload", {}), "name": "heavy", "dir": str(scratch / "wl")}
    heavy = parse_config(data, cfg.path)
    resolve_workload(heavy, resolve_generation(heavy))  # built outside the clock
    return heavy


def bare_loop(cfg: RunConfig, tenant: str, count: int, workspace: Path) -> float:
    """Executions/s of the same statements sent straight to EngineWorkers, in order."""
    # Absolute paths: a worker runs with its workspace as current directory.
    store = GenerationStore(Path(cfg.dataset.store).resolve())
    tables = store.resolve(cfg.dataset.generation).table_specs(tenant)
    workers = {}
    for name in (cfg.run.baseline, *cfg.run.candidates):
        spec = cfg.engines[name]
        worker = EngineWorker(spec, ensure_runtime(spec, default_root()), workspace / name, tables)
        worker.start()
        worker.execute("SELECT 1", 60, None)
        workers[name] = worker
    repeats = cfg.compare.determinism_runs
    order = [cfg.run.baseline] * repeats + list(cfg.run.candidates)
    executions = 0
    began = time.perf_counter()
    for _ in range(count):
        for name in order:
            outcome = workers[name].execute(TINY_SQL, 60, lambda batch: None)
            assert outcome.status == "ok", outcome
            executions += 1
    elapsed = time.perf_counter() - began
    for worker in workers.values():
        worker.close()
    return executions / elapsed


def two_node_figures(cfg: RunConfig) -> dict[str, Any]:
    """Load-phase figures of ``cfg`` on a local head + one more node."""
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    try:
        return load_figures(cfg, ray_address=cluster.address)
    finally:
        cluster.shutdown()


def main() -> None:
    """Measure and print every figure with its reference."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="configs/demo.toml")
    parser.add_argument("--tiny", type=int, default=400, help="tiny SELECTs in the throughput run")
    parser.add_argument("--heavy-scale", type=float, default=0.1, help="scale of the heavier world")
    args = parser.parse_args()
    cfg = load_config(args.config)
    resolve_workload(cfg, resolve_generation(cfg))  # build the demo inputs outside the clock
    scratch = Path(tempfile.mkdtemp(prefix="qsim-bench-runner-"))
    try:
        scaling = {}
        for concurrency in (1, 2, 4):
            scaling[concurrency] = load_figures(
                variant(cfg, scratch / f"c{concurrency}", load={"concurrency": concurrency})
            )
        two_nodes = two_node_figures(variant(cfg, scratch / "cluster", load={"concurrency": 4}))
        tenant = resolve_generation(cfg).tenants()[0]
        tiny_cfg = tiny_workload(
            variant(cfg, scratch / "tiny", load={"concurrency": 1}),
            scratch / "wl",
            tenant,
            args.tiny,
        )
        harness = load_figures(tiny_cfg)
        bare = bare_loop(cfg, tenant, args.tiny, scratch / "bare")
        heavy = load_figures(heavy_config(cfg, scratch, args.heavy_scale))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    two = scaling[2]
    efficiency = two["engine_busy_ms"] / 1000 / (two["wall_s"] * two["slots"])
    print(f"demo workload: {two['executions']} executions per run ({cfg.path})")
    print(
        f"harness efficiency at concurrency 2: {efficiency:.2f} "
        f"(engine busy {two['engine_busy_ms'] / 1000:.2f} s / ({two['wall_s']:.2f} s wall x "
        f"{two['slots']} slots); target >= {TARGET_EFFICIENCY})"
    )
    print(
        f"harness efficiency at concurrency 2, scale {args.heavy_scale} world: "
        f"{heavy['efficiency']:.2f} ({heavy['executions']} executions, engine busy "
        f"{heavy['engine_busy_ms'] / 1000:.2f} s / ({heavy['wall_s']:.2f} s wall x "
        f"{heavy['slots']} slots))"
    )
    ratio = harness["per_s"] / bare
    print(
        f"tiny queries ({TINY_SQL!r}, {harness['executions']} executions): harness "
        f"{harness['per_s']:.0f}/s vs bare loop {bare:.0f}/s = {ratio:.2f}x "
        f"(target >= {TARGET_TINY_RATIO}x)"
    )
    for concurrency, figures in scaling.items():
        print(
            f"concurrency {concurrency}: {figures['per_s']:.1f} executions/s "
            f"({figures['per_s'] / scaling[1]['per_s']:.2f}x concurrency 1; efficiency "
            f"{figures['efficiency']})"
        )
    print(
        f"two-node local cluster, concurrency 4: {two_nodes['per_s']:.1f} executions/s "
        f"({two_nodes['per_s'] / scaling[4]['per_s']:.2f}x one node at concurrency 4)"
    )


if __name__ == "__main__":
    main()
