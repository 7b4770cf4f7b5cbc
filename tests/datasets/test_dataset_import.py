"""simulator/datasets/importer.py: Parquet/CSV folders with hive partitions become generations."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from simulator.datasets.restore import restore_table
from simulator.datasets.store import Generation, GenerationStore
from simulator.datasets.verify import verify_generation
from simulator.errors import DatasetError


def _source(root: Path) -> Path:
    """acme/sales: hive-partitioned Parquet by region/day; acme/people: two CSV files."""
    sales = root / "acme" / "sales"
    for region, day, rows in (
        ("eu", "2024-01-01", 3),
        ("eu", "2024-01-02", 2),
        ("us", "2024-01-01", 4),
    ):
        folder = sales / f"region={region}" / f"day={day}"
        folder.mkdir(parents=True)
        table = pa.table({"id": pa.array(range(rows), pa.int64()), "amount": [1.25] * rows})
        pq.write_table(table, folder / "part-0.parquet")
    (sales / "_SUCCESS").write_text("")
    people = root / "acme" / "people"
    people.mkdir(parents=True)
    (people / "a.csv").write_text("id,name\n1,Zoë\n2,\n")
    (people / "b.csv").write_text("id,name\n3,李\n")
    return root


def test_import_keeps_hive_partitions_as_string_columns(tmp_path: Path) -> None:
    store = GenerationStore(tmp_path / "store")
    generation = store.import_folder(_source(tmp_path / "src"), "imported")
    assert generation.tenants() == ["acme"]
    assert generation.tables("acme") == ["people", "sales"]
    assert generation.partition_columns("acme", "sales") == ["region", "day"]
    schema = generation.schema("acme", "sales")
    assert schema.names == ["id", "amount", "region", "day"]
    assert schema.field("day").type == pa.string()
    entry = generation.entry("acme", "sales")
    assert entry["row_count"] == 9
    assert sorted(entry["partitions"]) == [
        "region=eu/day=2024-01-01",
        "region=eu/day=2024-01-02",
        "region=us/day=2024-01-01",
    ]
    assert entry["partitions"]["region=us/day=2024-01-01"]["rows"] == 4
    assert generation.entry("acme", "people")["row_count"] == 3
    assert generation.manifest["source"] == {"import": str((tmp_path / "src").resolve())}
    assert verify_generation(generation).ok


def test_restored_table_imports_back_to_the_same_checksum(
    tmp_path: Path, world: Generation
) -> None:
    restore_table(world, "t02", "events", tmp_path / "src" / "t02")
    restore_table(world, "t02", "orders", tmp_path / "src" / "t02")
    imported = GenerationStore(tmp_path / "store").import_folder(tmp_path / "src", "back")
    for table in ("events", "orders"):
        assert imported.entry("t02", table)["checksum"] == world.entry("t02", table)["checksum"]
        assert imported.entry("t02", table)["partitions"] == world.entry("t02", table)["partitions"]


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (
            lambda r: (r / "acme").mkdir(parents=True) or (r / "acme" / "x.parquet").write_text(""),
            "{r}/acme/x.parquet: expected a table folder, found a file",
        ),
        (
            lambda r: (r / "acme" / "t" / "oops").mkdir(parents=True),
            "{r}/acme/t/oops: folder inside a table must be a hive partition 'column=value'",
        ),
        (
            lambda r: (r / "acme" / "t").mkdir(parents=True),
            "{r}/acme/t: table folder holds no Parquet or CSV files",
        ),
        (
            lambda r: (
                (r / "acme" / "t").mkdir(parents=True)
                or (r / "acme" / "t" / "a.txt").write_text("")
            ),
            "{r}/acme/t/a.txt: not a Parquet or CSV file",
        ),
        (
            lambda r: (r / "a b" / "t").mkdir(parents=True),
            "{r}/a b: 'a b' is not a valid tenant name",
        ),
        (lambda r: r.mkdir(), "{r}: no tenant folders to import (expected <tenant>/<table>/)"),
    ],
)
def test_bad_layouts_name_the_path(tmp_path: Path, make, problem: str) -> None:
    root = tmp_path / "src"
    make(root)
    with pytest.raises(DatasetError) as info:
        GenerationStore(tmp_path / "store").import_folder(root, "x")
    assert str(info.value) == problem.format(r=root)
    assert GenerationStore(tmp_path / "store").list() == []


def test_corrupt_parquet_and_mismatched_partitions_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "src"
    table = root / "acme" / "t"
    table.mkdir(parents=True)
    (table / "a.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(DatasetError) as info:
        GenerationStore(tmp_path / "store").import_folder(root, "x")
    assert str(info.value).startswith(f"{table}/a.parquet: cannot read (")
    (table / "a.parquet").unlink()
    for folder in ("d=1", "e=2"):
        (table / folder).mkdir()
        pq.write_table(pa.table({"v": [1]}), table / folder / "p.parquet")
    with pytest.raises(DatasetError) as info:
        GenerationStore(tmp_path / "store").import_folder(root, "x")
    assert str(info.value) == (
        f"{table}/e=2/p.parquet: partition columns ['e'] differ from ['d'] of {table}/d=1/p.parquet"
    )


def test_missing_source_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DatasetError) as info:
        GenerationStore(tmp_path / "store").import_folder(tmp_path / "nope", "x")
    assert str(info.value) == f"{tmp_path}/nope: import source is not a folder"
