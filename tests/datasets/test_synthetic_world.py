"""simulator/datasets/synthetic.py: the multi-tenant world's shape, skew, nulls and extremes."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from simulator.datasets import synthetic
from simulator.datasets.store import Generation
from simulator.errors import DatasetError


def _read(world: Generation, tenant: str, table: str) -> pa.Table:
    """A table of the generation with its hive partition column, as the layout stores it."""
    spec = next(s for s in world.table_specs(tenant) if s.name == table)
    parts = []
    for path in spec.files:
        rows = pq.read_table(path)
        for column in spec.partition_columns:
            value = next(p.split("=", 1)[1] for p in path.split("/") if p.startswith(f"{column}="))
            rows = rows.append_column(spec.schema.field(column), pa.repeat(value, rows.num_rows))
        parts.append(rows)
    return pa.concat_tables(parts)


def _ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def test_scale_one_is_about_ten_million_rows_with_dominant_tenants() -> None:
    rows = synthetic.table_rows(1.0, 8)
    total = sum(sum(per_tenant) for per_tenant in rows.values())
    assert 9_900_000 <= total <= 10_100_000
    per_tenant = [sum(rows[t][i] for t in rows) for i in range(8)]
    assert per_tenant == sorted(per_tenant, reverse=True)
    assert (per_tenant[0] + per_tenant[1]) / total > 0.5  # two of eight tenants hold most rows
    assert per_tenant[0] / per_tenant[-1] > 10
    tiny = synthetic.table_rows(0.01, 8)
    assert 95_000 <= sum(sum(v) for v in tiny.values()) <= 105_000


def test_every_nullable_column_has_nulls_and_required_ones_none(world: Generation) -> None:
    for tenant in world.tenants():
        for table in world.tables(tenant):
            data = _read(world, tenant, table)
            assert data.schema.equals(world.schema(tenant, table))
            for field in data.schema:
                nulls = data.column(field.name).null_count
                assert (nulls > 0) == field.nullable, (tenant, table, field.name, nulls)


def test_strings_numbers_and_timestamps_hit_the_edges(world: Generation) -> None:
    events = _read(world, "t01", "events")
    amount = events.column("amount").to_numpy(zero_copy_only=False)
    assert np.isnan(amount).any() and np.isinf(amount).any()
    assert (np.abs(amount[np.isfinite(amount)]) >= 1e300).any()
    finite = amount[np.isfinite(amount)]
    assert (finite % 1 != 0).sum() > len(finite) / 2  # mostly fractional
    assert np.signbit(finite[finite == 0]).any()  # -0.0
    assert "" in events.column("event_type").to_pylist()
    payloads = [p for p in events.column("payload").to_pylist() if p]
    assert any(p.startswith('{"k":') and not p.isascii() for p in payloads)
    customers = _read(world, "t01", "customers")
    names = [n for n in customers.column("name").to_pylist() if n is not None]
    assert "" in names and any(not n.isascii() for n in names)
    balance = customers.column("balance")
    assert balance.type == pa.decimal128(18, 2)
    assert pc.max(balance).as_py() == Decimal("9999999999999999.99")
    assert pc.min(balance).as_py() == Decimal("-9999999999999999.99")
    created = customers.column("created_at").cast(pa.int64()).to_numpy(zero_copy_only=False)
    dst = int(synthetic.DST_CHANGES[2].timestamp()) * 10**6
    assert (np.abs(created - dst) < 3 * 3600 * 10**6).sum() > 0
    tags = _read(world, "t01", "products").column("tags").to_pylist()
    assert [] in tags and None in tags
    assert any(t and None in t for t in tags)


def test_event_day_partition_matches_time(world: Generation) -> None:
    events = _read(world, "t01", "events")
    days = pc.strftime(events.column("time"), "%Y-%m-%d").to_pylist()
    assert days == events.column("day").to_pylist()
    assert len(set(days)) >= 2


def test_same_inputs_same_tables_and_other_seed_other_tables() -> None:
    first = list(synthetic.world(0.0005, 11, 2))
    second = list(synthetic.world(0.0005, 11, 2))
    other = list(synthetic.world(0.0005, 12, 2))
    assert [t[:2] for t in first] == [(f"t0{i}", n) for i in (1, 2) for n in synthetic.TABLES]
    # Compare bytes, not values: NaN != NaN would make equal tables unequal.
    assert [_ipc(t[2]) for t in first] == [_ipc(t[2]) for t in second]
    assert _ipc(first[0][2]) != _ipc(other[0][2])


def test_user_ids_are_skewed(world: Generation) -> None:
    users = _read(world, "t01", "events").column("user_id").drop_null().to_numpy()
    counts = np.bincount(users)
    assert counts.max() > 20 * math.ceil(len(users) / max(len(np.unique(users)), 1))


@pytest.mark.parametrize(
    ("scale", "seed", "tenants", "message"),
    [
        (0, 1, 1, "scale: must be positive, got 0"),
        (0.1, -1, 1, "seed: must not be negative, got -1"),
        (0.1, 1, 0, "tenants: must be between 1 and 99, got 0"),
    ],
)
def test_bad_parameters(scale: float, seed: int, tenants: int, message: str) -> None:
    with pytest.raises(DatasetError) as info:
        synthetic.check_params(scale, seed, tenants)
    assert str(info.value) == message
