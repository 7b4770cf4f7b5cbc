"""simulator/datasets/verify.py: every kind of damage is named, one line each."""

from __future__ import annotations

import json
import os

import pyarrow as pa
import pyarrow.parquet as pq

from simulator.datasets.layout import WRITER_OPTIONS
from simulator.datasets.manifest import MANIFEST_FILE
from simulator.datasets.store import Generation, GenerationStore
from simulator.datasets.verify import verify_generation


def _file(generation: Generation, tenant: str, table: str, index: int = 0) -> dict:
    return generation.entry(tenant, table)["files"][index]


def test_intact_generation_passes(world: Generation) -> None:
    report = verify_generation(world)
    assert report.ok, report.problems
    files = sum(len(world.entry(t, n)["files"]) for t in world.tenants() for n in world.tables(t))
    assert report.files_checked == files
    assert report.tables_checked == 12
    assert report.bytes_checked == world.byte_count()


def test_flipped_byte_is_named(store_copy: GenerationStore, world: Generation) -> None:
    generation = store_copy.get(world.id)
    file = _file(generation, "t02", "orders")
    path = generation.path / file["path"]
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0xFF
    path.write_bytes(bytes(data))
    problems = verify_generation(generation).problems
    assert problems
    assert problems[0].startswith(f"{file['path']}: content hash differs (manifest ")
    assert all("\n" not in p for p in problems)


def test_truncated_parquet_is_corrupt_not_a_traceback(
    store_copy: GenerationStore, world: Generation
) -> None:
    generation = store_copy.get(world.id)
    file = _file(generation, "t01", "events", 1)
    path = generation.path / file["path"]
    os.truncate(path, file["bytes"] // 2)
    problems = verify_generation(generation).problems
    assert len(problems) == 2
    assert problems[0].startswith(
        f"{file['path']}: corrupt Parquet: content hash differs (manifest {file['xxhash'][:12]} "
        f"{file['bytes']} bytes, file "
    )
    assert f" {file['bytes'] // 2} bytes); cannot read (" in problems[0]
    assert problems[1] == "t01/events: table checksum not recomputed (1 missing or unreadable file)"


def test_missing_file_is_named(store_copy: GenerationStore, world: Generation) -> None:
    generation = store_copy.get(world.id)
    file = _file(generation, "t03", "products")
    (generation.path / file["path"]).unlink()
    assert verify_generation(generation).problems == [
        f"{file['path']}: missing",
        "t03/products: table checksum not recomputed (1 missing or unreadable file)",
    ]


def test_hand_edited_manifest_is_reported(store_copy: GenerationStore, world: Generation) -> None:
    path = store_copy.root / world.id / MANIFEST_FILE
    manifest = json.loads(path.read_bytes())
    manifest["tenants"]["t01"]["customers"]["row_count"] += 1
    path.write_text(json.dumps(manifest))
    problems = verify_generation(store_copy.get(world.id)).problems
    assert len(problems) == 2
    assert problems[0].startswith(
        f"{MANIFEST_FILE}: content does not match generation id {world.id}"
    )
    assert problems[0].endswith(f"recorded {world.id}): edited or damaged")
    rows = manifest["tenants"]["t01"]["customers"]["row_count"]
    assert problems[1] == f"t01/customers: {rows - 1} rows, the manifest says {rows}"


def test_replaced_file_names_columns_and_partition(
    store_copy: GenerationStore, world: Generation
) -> None:
    generation = store_copy.get(world.id)
    file = _file(generation, "t01", "events", 0)
    path = generation.path / file["path"]
    rows = pq.read_table(path)
    amount = pa.array([1.5] * rows.num_rows, pa.float64())
    changed = rows.set_column(rows.schema.get_field_index("amount"), "amount", amount)
    pq.write_table(changed, path, **WRITER_OPTIONS)
    problems = verify_generation(generation).problems
    assert problems[0].startswith(f"{file['path']}: content hash differs")
    assert problems[1].startswith("t01/events: table checksum differs (manifest ")
    assert problems[1].endswith("columns differing: amount)")
    assert problems[2].startswith(f"t01/events/{file['partition']}: partition differs ")
    assert len(problems) == 3


def test_unlisted_file_is_reported(store_copy: GenerationStore, world: Generation) -> None:
    generation = store_copy.get(world.id)
    extra = generation.path / "tables" / "t01" / "orders" / "part-1.parquet"
    extra.write_bytes(b"x")
    assert verify_generation(generation).problems == [
        "tables/t01/orders/part-1.parquet: file is not listed in the manifest"
    ]
