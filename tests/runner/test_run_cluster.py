"""The multi-node path on one machine: a local two-node Ray cluster (head + a second node
started by the test). Tenant sessions spread over both nodes; then the second node leaves
mid-run and its tenant's session is rebuilt on the head, retrying what was in flight."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from ray.cluster_utils import Cluster
from runner_fixtures import (
    DUCKDB_NEW,
    DUCKDB_OLD,
    duckdb_engine,
    read_jsonl,
    wait_no_processes,
    write_config,
)

from simulator.config import load_config
from simulator.results.layout import EXECUTIONS_FILE, RUN_FILE
from simulator.runner.run import execute_run

pytestmark = pytest.mark.slow

SLOW = {"enabled": True, "latency": {"fixed_ms": 80.0}}


class NodeLeaves(threading.Thread):
    """Removes the second node as soon as executions from both nodes are recorded."""

    def __init__(self, cluster: Cluster, node: object, results: Path) -> None:
        super().__init__(daemon=True)
        self.cluster, self.node, self.results = cluster, node, results
        self.nodes_before: set[str] = set()

    def run(self) -> None:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            for path in self.results.glob(f"*/{EXECUTIONS_FILE}"):
                records = [json.loads(line) for line in path.read_text().splitlines() if line]
                nodes = {r["node"] for r in records if r["node"]}
                if len(nodes) == 2:
                    self.nodes_before = nodes
                    self.cluster.remove_node(self.node, allow_graceful=False)
                    return
            time.sleep(0.05)


def test_sessions_spread_over_two_nodes_and_survive_a_node_leaving(
    world: Path, tmp_path: Path
) -> None:
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    second = cluster.add_node(num_cpus=1)
    address = cluster.address
    try:
        results = tmp_path / "results"
        config = write_config(
            tmp_path / "run.toml",
            world,
            results,
            engines={
                "base": duckdb_engine(DUCKDB_OLD, faults=SLOW),
                "cand": duckdb_engine(DUCKDB_NEW, faults=SLOW),
            },
            perf={"enabled": False},
        )
        leaver = NodeLeaves(cluster, second, results)
        leaver.start()
        outcome = execute_run(load_config(config), ray_address=address)
        leaver.join(timeout=5)
    finally:
        cluster.shutdown()
    assert len(leaver.nodes_before) == 2, "work did not run on both nodes"
    assert outcome.status == "complete"
    meta = json.loads((outcome.run_dir / RUN_FILE).read_text())
    assert meta["ray"]["address"] == address
    assert meta["harness"]["sessions_replaced"] >= 1
    executions = read_jsonl(outcome.run_dir / EXECUTIONS_FILE)
    ids = [e["execution_id"] for e in executions]
    assert len(ids) == len(set(ids))
    assert Counter(e["engine"] for e in executions if e["phase"] == "load") == {
        "base": meta["queries"],
        "cand": meta["queries"],
    }
    assert any(e["retried"] for e in executions)
    assert wait_no_processes(outcome.run_id) == []
