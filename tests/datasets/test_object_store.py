"""The generation store on a real S3-compatible server (moto's, on the loopback): commit,
list, verify, restore, a commit cut short, a tampered object, the node cache, and bad
URIs and credentials."""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
from s3_server import S3Server, s3_env, s3_server

from simulator.cli import main
from simulator.datasets.layout import file_hash
from simulator.datasets.node_cache import fill_cache
from simulator.datasets.object_store import ObjectGenerationStore, open_store
from simulator.datasets.restore import restore_table
from simulator.datasets.store import Generation
from simulator.datasets.verify import verify_generation
from simulator.errors import DatasetError

__all__ = ["s3_env", "s3_server"]


class CrashAfter:
    """Stands in for a writer that dies mid-commit (a killed process or a lost network
    between two uploads): opening object number ``objects + 1`` fails."""

    def __init__(self, objects: int) -> None:
        self.objects = objects
        self.opened: list[str] = []

    def __call__(self, filesystem: pafs.FileSystem, key: str) -> BinaryIO:
        if len(self.opened) == self.objects:
            raise OSError(f"connection lost while writing {key}")
        self.opened.append(key)
        return filesystem.open_output_stream(key)


def _store(s3: S3Server, tmp_path: Path, prefix: str) -> ObjectGenerationStore:
    return ObjectGenerationStore(s3.uri(prefix), tmp_path / "cache")


def _objects(store: ObjectGenerationStore) -> list[str]:
    infos = store.filesystem.get_file_info(pafs.FileSelector(store.base, True, True))
    return sorted(i.path for i in infos if i.type == pafs.FileType.File)


def test_generate_on_s3_then_list_verify_restore(
    s3_env: S3Server, tmp_path: Path, world: Generation
) -> None:
    source = world.manifest["source"]
    store = _store(s3_env, tmp_path, "round-trip")
    committed = store.generate(
        "world", source["params"]["scale"], source["seed"], source["params"]["tenants"]
    )
    # Content-addressed: the same world gives the same id on a local and an object store.
    assert committed.id == world.id
    assert committed.stored is not None
    # Read back through another node's store object with an empty cache.
    other = ObjectGenerationStore(s3_env.uri("round-trip"), tmp_path / "other-cache")
    assert [g.id for g in other.list()] == [world.id]
    assert other.resolve("world").id == world.id
    assert other.resolve(world.id[:6]).id == world.id
    found = other.get(world.id)
    report = verify_generation(found)
    assert report.problems == []
    files = sum(len(world.entry(t, n)["files"]) for t in world.tenants() for n in world.tables(t))
    assert report.files_checked == files
    day = world.entry("t01", "events")["files"][-1]
    written = restore_table(found, "t01", "events", tmp_path / "out", day["partition"])
    assert len(written) == 1
    assert pq.ParquetFile(written[0]).metadata.num_rows == day["rows"]
    assert file_hash(written[0])[0] == day["xxhash"]
    # verify and restore read the store's objects: nothing was cached on the way.
    assert not (tmp_path / "other-cache" / world.id).exists()


def test_a_commit_cut_short_leaves_no_visible_generation(
    s3_env: S3Server, tmp_path: Path, world: Generation
) -> None:
    crash = CrashAfter(objects=5)
    store = ObjectGenerationStore(s3_env.uri("cut"), tmp_path / "cache", open_object=crash)
    with pytest.raises(DatasetError) as info:
        store.publish(world)
    assert str(info.value).startswith(f"store {s3_env.uri('cut')}: cannot write generation 'world'")
    assert "connection lost" in str(info.value)
    assert len(_objects(store)) == 5
    assert not any(key.endswith("manifest.json") for key in _objects(store))
    assert store.list() == []
    assert store.broken() == []
    with pytest.raises(DatasetError, match="not found in"):
        store.resolve("world")
    # Committing again completes it; the manifest is the last object written.
    store = _store(s3_env, tmp_path, "cut")
    assert store.publish(world).id == world.id
    assert [g.id for g in store.list()] == [world.id]
    assert verify_generation(store.get(world.id)).problems == []


def test_verify_names_a_tampered_and_an_unlisted_object(
    s3_env: S3Server, tmp_path: Path, world: Generation
) -> None:
    store = _store(s3_env, tmp_path, "tampered")
    store.publish(world)
    victim = world.entry("t02", "customers")["files"][0]["path"]
    key = f"{store.base}/{world.id}/{victim}"
    with store.filesystem.open_input_stream(key) as handle:
        data = bytearray(handle.read())
    data[len(data) // 2] ^= 0xFF
    with store.filesystem.open_output_stream(key) as handle:
        handle.write(bytes(data))
    with store.filesystem.open_output_stream(f"{store.base}/{world.id}/tables/t01/extra.bin") as h:
        h.write(b"stray")
    problems = verify_generation(store.get(world.id)).problems
    assert any(p.startswith(f"{victim}: content hash differs") for p in problems), problems
    assert "tables/t01/extra.bin: file is not listed in the manifest" in problems
    assert all(p.startswith((victim, "t02/customers", "tables/t01/extra.bin")) for p in problems)


def test_node_cache_fetches_once_and_refetches_damaged_files(
    s3_env: S3Server, tmp_path: Path, world: Generation
) -> None:
    store = _store(s3_env, tmp_path, "cache")
    store.publish(world)
    generation = store.get(world.id)
    files = [f for t in world.tables("t01") for f in world.entry("t01", t)["files"]]
    first = fill_cache(generation, "t01")
    assert (first.fetched, first.reused, first.refetched) == (len(files), 0, 0)
    assert first.bytes_fetched == sum(f["bytes"] for f in files)
    assert not (generation.path / "tables" / "t02").exists()  # only what the tenant needs
    again = fill_cache(generation, "t01")
    assert (again.fetched, again.reused, again.refetched) == (0, len(files), 0)
    corrupted = generation.path / files[0]["path"]
    partial = generation.path / files[1]["path"]
    for path in (corrupted, partial):
        os.chmod(path, 0o644)
    data = bytearray(corrupted.read_bytes())
    data[100] ^= 0x01  # one bit, same size
    corrupted.write_bytes(bytes(data))
    partial.write_bytes(partial.read_bytes()[:50])
    repaired = fill_cache(generation, "t01")
    assert (repaired.fetched, repaired.reused, repaired.refetched) == (0, len(files) - 2, 2)
    for file in files:
        assert file_hash(generation.path / file["path"]) == (file["xxhash"], file["bytes"])
    # A damaged store object is refused by name and never lands in the cache.
    victim = world.entry("t02", "events")["files"][0]
    with store.filesystem.open_output_stream(f"{store.base}/{world.id}/{victim['path']}") as h:
        h.write(b"not parquet")
    with pytest.raises(DatasetError) as info:
        fill_cache(generation, "t02")
    assert str(info.value).startswith(
        f"{s3_env.uri('cache')}/{world.id}/{victim['path']}: content differs from the manifest"
    )
    assert not (generation.path / victim["path"]).exists()
    assert list((generation.path / victim["path"]).parent.iterdir()) == []


@pytest.mark.parametrize(
    ("uri", "env", "expected"),
    [
        (
            "s3://qsim/p",
            {"AWS_SECRET_ACCESS_KEY": "wrong"},
            "store s3://qsim/p: cannot list generations: SIGNATURE_DOES_NOT_MATCH during "
            "ListObjectsV2 operation: The request signature we calculated does not match the "
            "signature you provided. Check your key and signing method. "
            "(check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or AWS_PROFILE)",
        ),
        (
            "s3://no-such-bucket/p",
            {},
            "store s3://no-such-bucket/p: cannot list generations: "
            "bucket 'no-such-bucket' does not exist",
        ),
        (
            "s3://qsim/p",
            {"AWS_ENDPOINT_URL": "http://127.0.0.1:9"},
            "store s3://qsim/p: cannot list generations: NETWORK_CONNECTION during "
            "ListObjectsV2 operation: curlCode: 7, Could not connect to server "
            "(check the endpoint: endpoint_override in the URI or AWS_ENDPOINT_URL)",
        ),
        (
            "s3://key:secret@qsim/p",
            {},
            "store s3://.../p: credentials do not belong in the store URI "
            "(set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)",
        ),
        (
            "s3://qsim/p?endpoint=x",
            {},
            "store s3://qsim/p: unknown URI option 'endpoint' "
            "(known: endpoint_override, scheme, region)",
        ),
        ("s3:///p", {}, "store s3:///p: no bucket (expected s3://bucket/prefix)"),
    ],
    ids=["wrong-secret", "no-bucket", "no-server", "secret-in-uri", "bad-option", "no-bucket-name"],
)
def test_bad_store_uri_or_credentials_is_one_line_naming_the_store(
    s3_env: S3Server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    uri: str,
    env: dict[str, str],
    expected: str,
) -> None:
    for name, value in {**env, "QSIM_CACHE": str(tmp_path / "c")}.items():
        monkeypatch.setenv(name, value)
    assert main(["dataset", "list", "--store", uri]) == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", f"qsim: error: {expected}\n")


def test_open_store_keeps_local_folders_local(tmp_path: Path) -> None:
    store = open_store(tmp_path / "store")
    assert not isinstance(store, ObjectGenerationStore)
    assert store.root == tmp_path / "store"
