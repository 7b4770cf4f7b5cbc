"""simulator/datasets/workspace.py: writes through a workspace never reach the generation."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from simulator.datasets.store import Generation
from simulator.datasets.verify import verify_generation
from simulator.datasets.workspace import make_workspace
from simulator.errors import DatasetError


def test_writable_tables_are_private_copies(tmp_path: Path, world: Generation) -> None:
    specs = {s.name: s for s in make_workspace(world, "t01", tmp_path, {"events", "orders"})}
    assert set(specs) == {"customers", "events", "orders", "products"}
    for name in ("events", "orders"):
        spec = specs[name]
        assert spec.writable
        assert all(f.startswith(str(tmp_path / "tables" / name)) for f in spec.files)
        assert all(os.access(f, os.W_OK) for f in spec.files)
        assert spec.schema.equals(world.schema("t01", name))
        assert len(spec.files) == len(world.files("t01", name))
    assert specs["events"].partition_columns == ("day",)
    assert specs["customers"].files == tuple(str(p) for p in world.files("t01", "customers"))
    assert not specs["customers"].writable


def test_writes_through_a_workspace_leave_the_generation_intact(
    tmp_path: Path, world: Generation
) -> None:
    specs = {s.name: s for s in make_workspace(world, "t02", tmp_path, {"events", "orders"})}
    events = [Path(f) for f in specs["events"].files]
    # Overwrite one partition file, append a new one, delete another, and chmod the rest.
    first = pq.read_table(events[0])
    pq.write_table(first.slice(0, 1), events[0])
    appended = events[0].parent.parent / "day=2030-01-01" / "part-0.parquet"
    appended.parent.mkdir()
    pq.write_table(first, appended)
    events[-1].unlink()
    orders = Path(specs["orders"].files[0])
    with open(orders, "r+b") as handle:  # in-place byte edit, as an engine might do
        handle.seek(8)
        handle.write(b"\xff" * 16)
    os.chmod(orders, 0o777)
    pq.write_table(pa.table({"x": [1]}), orders)
    assert verify_generation(world).ok
    generation_file = world.files("t02", "orders")[0]
    assert stat.S_IMODE(generation_file.stat().st_mode) == 0o444


def test_unknown_table_and_used_folder_are_refused(tmp_path: Path, world: Generation) -> None:
    with pytest.raises(DatasetError) as info:
        make_workspace(world, "t01", tmp_path, {"events", "ghosts"})
    assert str(info.value) == (
        f"generation {world.id[:12]}: tenant t01 has no table 'ghosts' to make writable "
        "(tables: customers, events, orders, products)"
    )
    make_workspace(world, "t01", tmp_path, {"orders"})
    with pytest.raises(DatasetError, match="workspace folder is not empty"):
        make_workspace(world, "t01", tmp_path, {"orders"})
    with pytest.raises(DatasetError, match=r"no tenant 't99' \(tenants: t01, t02, t03\)"):
        make_workspace(world, "t99", tmp_path / "w2", set())
