"""What a session finds on its node: its folders, and its generation's files (a local
store it can see, or an object store's through the node cache)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from s3_server import S3Server, s3_env, s3_server

from simulator.datasets.manifest import MANIFEST_FILE, canonical_json
from simulator.datasets.object_store import ObjectGenerationStore
from simulator.datasets.store import GenerationStore
from simulator.errors import DatasetError
from simulator.runner.node import node_folders, node_generation

__all__ = ["s3_env", "s3_server"]


def test_outside_ray_a_session_uses_the_drivers_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QSIM_CACHE", str(tmp_path / "node-cache"))
    folders = node_folders("run-1", "", str(tmp_path / "ws"), str(tmp_path / "rt"), "/cfg")
    assert folders.on_driver
    assert (folders.workspaces, folders.runtimes) == (tmp_path / "ws", tmp_path / "rt")
    assert folders.cache == tmp_path / "node-cache"  # the node's env wins over the config


def test_a_local_store_the_node_cannot_see_is_refused_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as info:
        node_generation(str(tmp_path / "absent"), "0" * 32, "t01", tmp_path / "cache")
    assert str(info.value) == (
        f"generation store {tmp_path / 'absent'} is not on the disk of node here: without a "
        "shared file system, put generations in an object store "
        "(dataset.store = 's3://bucket/prefix', see docs/cluster.md)"
    )


def test_an_object_store_generation_is_fetched_and_an_edited_manifest_refused(
    world: Path, tmp_path: Path, s3_env: S3Server
) -> None:
    local = GenerationStore(world / "store").resolve("tiny")
    store = ObjectGenerationStore(s3_env.uri("node"), tmp_path / "publisher")
    store.publish(local)
    generation = node_generation(s3_env.uri("node"), local.id, "t01", tmp_path / "cache")
    assert generation.path == tmp_path / "cache" / local.id
    for spec in generation.table_specs("t01"):
        assert all(Path(f).is_file() for f in spec.files)
    edited = json.loads(json.dumps(local.manifest))
    edited["name"] = "renamed"
    with store.filesystem.open_output_stream(f"{store.base}/{local.id}/{MANIFEST_FILE}") as out:
        out.write(canonical_json(edited))
    with pytest.raises(DatasetError) as info:
        node_generation(s3_env.uri("node"), local.id, "t01", tmp_path / "cache")
    assert str(info.value).startswith(
        f"{s3_env.uri('node')}/{local.id}/{MANIFEST_FILE}: content does not match generation id"
    )
