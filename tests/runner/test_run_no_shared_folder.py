"""A Ray cluster without a shared file system, on one machine: a head node with no CPU
for sessions (the driver's) and a second node with its own runtimes, node cache and
workspace folders (its own environment). The generation lives only in an object store
(moto's S3 server on the loopback). Every session must run on the second node, fetch the
generation into that node's cache, build that node's runtimes, and send its records and
kept results to the driver through Ray; the verdicts must equal a one-node run's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ray.cluster_utils import Cluster
from runner_fixtures import read_jsonl, write_config
from s3_server import S3Server, s3_env, s3_server

from simulator.config import load_config
from simulator.datasets.object_store import ObjectGenerationStore
from simulator.datasets.store import GenerationStore
from simulator.results.layout import EXECUTIONS_FILE, RUN_FILE, VERDICTS_FILE, WORKSPACES_FOLDER
from simulator.runner.run import execute_run

__all__ = ["s3_env", "s3_server"]
pytestmark = pytest.mark.slow
TENANTS = ["t02"]  # one session: the cost is Ray and process start-up, not the queries


def _verdicts(run_dir: Path) -> list[tuple[str, str, str, str]]:
    return sorted(
        (v["candidate"], v["query_id"], v["verdict"], v.get("reason") or "")
        for v in read_jsonl(run_dir / VERDICTS_FILE)
    )


def test_sessions_on_a_node_without_the_run_folder_give_the_one_node_verdicts(
    world: Path, tmp_path: Path, s3_env: S3Server
) -> None:
    local = GenerationStore(world / "store").resolve("tiny")
    ObjectGenerationStore(s3_env.uri("cluster"), tmp_path / "driver-cache").publish(local)
    sections = {"perf": {"enabled": False}, "load": {"confirm_quietly": False}}
    one_node = execute_run(
        load_config(write_config(tmp_path / "one.toml", world, tmp_path / "one", **sections)),
        tenants=TENANTS,
    )
    assert one_node.status == "complete"

    node = tmp_path / "node2"
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    second = cluster.add_node(
        num_cpus=2,
        env_vars={
            **s3_env.env(),
            "QSIM_RUNTIMES": str(node / "runtimes"),
            "QSIM_CACHE": str(node / "cache"),
            "QSIM_WORKSPACES": str(node / "workspaces"),
        },
    )
    try:
        dataset = {
            "generation": local.id,
            "store": s3_env.uri("cluster"),
            "cache": str(tmp_path / "driver-cache"),
        }
        config = write_config(
            tmp_path / "two.toml", world, tmp_path / "two", dataset=dataset, **sections
        )
        two_nodes = execute_run(load_config(config), tenants=TENANTS, ray_address=cluster.address)
    finally:
        cluster.shutdown()
    assert two_nodes.status == "complete"
    assert _verdicts(two_nodes.run_dir) == _verdicts(one_node.run_dir)
    assert two_nodes.verdict_counts == one_node.verdict_counts

    meta = json.loads((two_nodes.run_dir / RUN_FILE).read_text())
    assert {s["node"] for s in meta["sessions"].values()} == {second.node_id}
    executions = read_jsonl(two_nodes.run_dir / EXECUTIONS_FILE)
    assert {e["node"] for e in executions} == {second.node_id}
    # Kept results came back through Ray and the driver wrote them into the run folder.
    kept = [e["result_path"] for e in executions if e.get("result_path")]
    assert kept and all((two_nodes.run_dir / path).is_file() for path in kept)
    # The second node used only its own folders: its runtimes were built there, the
    # tenants' files fetched into its cache, its workspaces removed at the end.
    assert len([p for p in (node / "runtimes").iterdir() if not p.name.startswith(".")]) == 2
    cached = {p.name for p in (node / "cache" / local.id / "tables").iterdir()}
    assert cached == set(TENANTS) == set(meta["tenants"])
    assert list((node / "workspaces").iterdir()) == []
    assert not (two_nodes.run_dir / WORKSPACES_FOLDER).exists()
