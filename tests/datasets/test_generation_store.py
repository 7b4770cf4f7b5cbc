"""simulator/datasets/store.py: atomic commit, content ids, read-only files, resolve."""

from __future__ import annotations

import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pytest

from simulator.datasets.layout import file_hash
from simulator.datasets.manifest import MANIFEST_FILE, manifest_id
from simulator.datasets.store import Generation, GenerationStore, local_root
from simulator.errors import DatasetError


def _file_hashes(generation: Generation) -> dict[str, str]:
    return {
        p.relative_to(generation.path).as_posix(): file_hash(p)[0]
        for p in sorted(generation.path.rglob("*.parquet"))
    }


def _params(world: Generation) -> tuple[float, int, int]:
    source = world.manifest["source"]
    return source["params"]["scale"], source["seed"], source["params"]["tenants"]


def test_same_seed_and_params_give_same_id_and_identical_bytes(
    tmp_path: Path, world: Generation
) -> None:
    scale, seed, tenants = _params(world)
    again = GenerationStore(tmp_path / "other").generate("world", scale, seed, tenants)
    assert again.id == world.id
    assert again.id == manifest_id(again.manifest)
    hashes = _file_hashes(again)
    assert len(hashes) == len(_file_hashes(world)) > 3 * 4
    assert hashes == _file_hashes(world)
    manifest = dict(again.manifest)
    original = dict(world.manifest)
    manifest.pop("created_at")
    original.pop("created_at")
    assert manifest == original


def test_other_seed_or_name_gives_other_id(tmp_path: Path, world: Generation) -> None:
    scale, seed, tenants = _params(world)
    store = GenerationStore(tmp_path / "s")
    assert store.generate("world", scale, seed + 1, tenants).id != world.id
    assert store.generate("other-name", scale, seed, tenants).id != world.id


def test_regenerating_an_existing_generation_keeps_the_original(
    store_copy: GenerationStore, world: Generation
) -> None:
    scale, seed, tenants = _params(world)
    again = store_copy.generate("world", scale, seed, tenants)
    assert again.id == world.id
    assert again.created_at == world.created_at
    assert [g.id for g in store_copy.list()] == [world.id]


def test_layout_and_read_only_files(world: Generation) -> None:
    assert world.tenants() == ["t01", "t02", "t03"]
    for tenant in world.tenants():
        assert world.tables(tenant) == ["customers", "events", "orders", "products"]
    events = world.files("t01", "events")
    assert all(p.parent.name.startswith("day=2024-03-") for p in events)
    assert world.files("t01", "customers") == [
        world.path / "tables" / "t01" / "customers" / "part-0.parquet"
    ]
    for path in [*world.path.rglob("*.parquet"), world.path / MANIFEST_FILE]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o444, path


def test_table_specs_carry_the_full_schema(world: Generation) -> None:
    specs = {s.name: s for s in world.table_specs("t02")}
    events = specs["events"]
    assert events.partition_columns == ("day",)
    assert events.schema.names[-1] == "day"
    assert events.schema.field("time").type == pa.timestamp("us", tz="UTC")
    assert not events.writable
    assert all(Path(f).is_absolute() and Path(f).is_file() for f in events.files)
    assert specs["customers"].partition_columns == ()


def test_interrupted_generate_leaves_nothing_and_next_generate_succeeds(
    store_copy: GenerationStore, world: Generation, interrupt_after: type
) -> None:
    scale, seed, tenants = _params(world)
    broken = GenerationStore(store_copy.root, output=interrupt_after(5))
    with pytest.raises(KeyboardInterrupt):
        broken.generate("half", scale, seed + 5, tenants)
    assert [g.name for g in store_copy.list()] == ["world"]
    assert not list(store_copy.root.glob(".tmp-*"))
    done = store_copy.generate("half", scale, seed + 5, tenants)
    assert [g.name for g in store_copy.list()] == ["world", "half"]
    assert store_copy.resolve("half").id == done.id


def test_full_disk_is_one_line_and_nothing_is_listed(
    store_copy: GenerationStore, world: Generation, fake_full_disk: type
) -> None:
    scale, seed, tenants = _params(world)
    full = GenerationStore(store_copy.root, output=fake_full_disk(files=3))
    with pytest.raises(DatasetError) as info:
        full.generate("big", scale, seed + 9, tenants)
    message = str(info.value)
    assert message.startswith(
        f"store {store_copy.root}: cannot write generation 'big': No space left on device ("
    )
    assert message.endswith("/part-0.parquet)") and "\n" not in message
    assert [g.name for g in store_copy.list()] == ["world"]
    assert not list(store_copy.root.glob(".tmp-*"))


def test_leftover_temp_folder_of_dead_process_is_ignored_then_cleaned(
    store_copy: GenerationStore, world: Generation
) -> None:
    dead = store_copy.root / ".tmp-4194303-deadbeef"  # pid above the kernel's pid_max
    (dead / "tables").mkdir(parents=True)
    (dead / MANIFEST_FILE).write_text("{}")
    alive = store_copy.root / f".tmp-{os.getpid()}-cafe"
    alive.mkdir()
    assert [g.id for g in store_copy.list()] == [world.id]
    assert store_copy.broken() == []
    store_copy.generate("next", 0.0005, 1, 1)
    assert not dead.exists()
    assert alive.exists()  # a live writer's folder is left alone


def test_resolve_by_id_prefix_and_newest_name(
    store_copy: GenerationStore, world: Generation
) -> None:
    newer = store_copy.generate("world", 0.0005, 3, 1)
    assert store_copy.resolve(world.id).id == world.id
    assert store_copy.resolve(world.id[:6]).id == world.id
    assert store_copy.resolve("world").id == newer.id


def test_resolve_unknown_lists_close_matches(store_copy: GenerationStore) -> None:
    with pytest.raises(DatasetError) as info:
        store_copy.resolve("wrld")
    assert (
        str(info.value)
        == f"generation 'wrld' not found in {store_copy.root} (close matches: world)"
    )
    with pytest.raises(DatasetError) as info:
        store_copy.resolve("zzzzzz")
    assert str(info.value) == f"generation 'zzzzzz' not found in {store_copy.root} (known: world)"


@pytest.mark.parametrize("name", ["a/b", "..", "x..y", "/abs", ""])
def test_names_with_separators_or_dotdot_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(DatasetError) as info:
        GenerationStore(tmp_path).generate(name, 0.001, 1, 1)
    assert str(info.value) == (
        f"generation name: {name!r} is not a valid name "
        "(letters, digits, '_', '-', '.'; no '/' or '..')"
    )
    assert not any(tmp_path.iterdir())


def test_unreadable_manifest_is_reported_not_listed(
    store_copy: GenerationStore, world: Generation
) -> None:
    (world_copy := store_copy.root / world.id / MANIFEST_FILE).write_text("{not json")
    assert store_copy.list() == []
    broken = store_copy.broken()
    assert len(broken) == 1
    assert broken[0].startswith(f"{world_copy}: not valid JSON (")
    with pytest.raises(DatasetError, match="not valid JSON"):
        store_copy.get(world.id)


def test_store_root_accepts_file_uri_and_refuses_other_file_systems(tmp_path: Path) -> None:
    assert local_root(f"file://{tmp_path}/s") == tmp_path / "s"
    with pytest.raises(DatasetError) as info:
        GenerationStore("mock:///bucket/store")
    assert str(info.value) == (
        "store mock:///bucket/store: mock stores are not supported "
        "(a local folder or an s3:// URI is)"
    )


def test_store_under_a_file_is_unwritable(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("x")
    with pytest.raises(DatasetError) as info:
        GenerationStore(tmp_path / "plain" / "store").generate("n", 0.001, 1, 1)
    assert str(info.value) == f"store {tmp_path}/plain/store: cannot create (Not a directory)"


def test_bad_parameters_are_refused_before_writing(tmp_path: Path) -> None:
    store = GenerationStore(tmp_path / "s")
    with pytest.raises(DatasetError, match=r"^scale: must be positive, got 0.0$"):
        store.generate("n", 0.0, 1, 1)
    with pytest.raises(DatasetError, match=r"^tenants: must be between 1 and 99, got 100$"):
        store.generate("n", 0.1, 1, 100)
    assert not (tmp_path / "s").exists()


def test_concurrent_identical_generates_commit_once(tmp_path: Path) -> None:
    store = GenerationStore(tmp_path / "s")
    with ThreadPoolExecutor(max_workers=3) as pool:
        ids = list(pool.map(lambda _: store.generate("same", 0.0005, 4, 2).id, range(3)))
    assert len(set(ids)) == 1
    assert [g.id for g in store.list()] == ids[:1]
    assert not list(store.root.glob(".tmp-*"))


def test_relative_store_root_gives_absolute_table_paths(tmp_path, monkeypatch):
    """Workers run in their workspace folder, so a spec's files must not be relative."""
    monkeypatch.chdir(tmp_path)
    store = GenerationStore("store")
    generation = store.generate("rel", scale=0.001, seed=1, tenants=1)
    specs = store.resolve("rel").table_specs(generation.tenants()[0])
    assert store.root == tmp_path / "store"
    assert specs and all(Path(f).is_absolute() for spec in specs for f in spec.files)
