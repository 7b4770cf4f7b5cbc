"""simulator/datasets/diff.py: table-by-table differences between generations."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from simulator.datasets.diff import diff_generations
from simulator.datasets.restore import restore_table
from simulator.datasets.store import Generation, GenerationStore


def test_identical_generations_have_no_differences(world: Generation) -> None:
    assert diff_generations(world, world) == []


def test_other_seed_differs_in_every_table(tmp_path: Path, world: Generation) -> None:
    other = GenerationStore(tmp_path / "s").generate("world", 0.002, 8, 3)
    lines = diff_generations(world, other)
    checksum_lines = [line for line in lines if ": checksum differs (" in line]
    assert len(checksum_lines) == 12
    assert any(line.startswith("t01/events: partitions changed: day=2024-03-01") for line in lines)
    assert not any("schema differs" in line for line in lines)


def test_lost_partition_schema_change_and_missing_table_are_named(
    tmp_path: Path, world: Generation
) -> None:
    src = tmp_path / "src"
    for table in ("events", "orders", "customers", "products"):
        restore_table(world, "t01", table, src / "t01")
    base = GenerationStore(tmp_path / "s").import_folder(src, "base")
    # Lose the second day of events, add a column to orders, drop products.
    lost_day = world.entry("t01", "events")["files"][1]["partition"]
    for path in (src / "t01" / "events" / lost_day).iterdir():
        path.unlink()
    (src / "t01" / "events" / lost_day).rmdir()
    orders = src / "t01" / "orders" / "part-0.parquet"
    table = pq.read_table(orders)
    pq.write_table(table.append_column("note", pa.nulls(table.num_rows, pa.string())), orders)
    for path in (src / "t01" / "products").iterdir():
        path.unlink()
    (src / "t01" / "products").rmdir()
    changed = GenerationStore(tmp_path / "s").import_folder(src, "changed", parent=base.id)
    assert changed.parent == base.id
    lost_rows = world.entry("t01", "events")["files"][1]["rows"]
    events_rows = world.entry("t01", "events")["row_count"]
    products_rows = world.entry("t01", "products")["row_count"]
    assert diff_generations(base, changed) == [
        f"t01/events: rows {events_rows} -> {events_rows - lost_rows} ({-lost_rows:+d})",
        "t01/events: checksum differs (columns differing: event_id, time, user_id, event_type, "
        "amount, is_mobile, payload, day)",
        f"t01/events: partitions removed: {lost_day}",
        "t01/orders: schema differs (+note)",
        "t01/orders: checksum differs (shared columns equal)",
        f"t01/products: only in {base.id[:12]} ({products_rows} rows)",
    ]
