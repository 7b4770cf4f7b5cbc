"""The seeded synthetic multi-tenant world.

Every tenant (``t01``..``tNN``) has the same four tables: ``events`` (an event log with a
``time`` column, hive-partitioned by ``day``), ``customers`` and ``products`` (dimensions)
and ``orders`` (facts). Volumes are skewed across tenants (``t01`` is the largest) and
keys are skewed inside tables (zipf), every nullable column holds NULLs, strings include
unicode and empty values, numbers include extremes (±1e308, subnormals, NaN, ±inf, -0.0),
decimals reach their precision, and timestamps crowd around DST changes.

Everything is drawn with ``numpy.random.default_rng([seed, tenant, table])`` and built with
vectorized numpy/pyarrow calls, so a table depends only on (seed, scale, tenants, tenant,
table) and the same inputs give the same rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from simulator.errors import DatasetError

GENERATOR = "synthetic-world"
GENERATOR_VERSION = 1
TABLES = ("events", "customers", "products", "orders")
PARTITION_COLUMNS = {"events": ["day"]}
# Rows per table at scale 1 across all tenants: about 10M in total.
ROWS_AT_SCALE_1 = {
    "events": 7_000_000,
    "orders": 2_000_000,
    "customers": 700_000,
    "products": 300_000,
}
MIN_ROWS = {"events": 60, "orders": 30, "customers": 12, "products": 8}
TENANT_SKEW = 1.3  # tenant i gets weight i**-TENANT_SKEW: a few tenants dominate
MAX_TENANTS = 99
EVENT_START = datetime(2024, 3, 1, tzinfo=UTC)  # covers the US (03-10) and EU (03-31) DST changes
MAX_EVENT_DAYS = 31
US = 1_000_000  # microseconds per second
DAY_US = 86_400 * US
# DST transitions (UTC instants) that customers.created_at and orders.ordered_at crowd around.
DST_CHANGES = [
    datetime(2023, 3, 12, 7, tzinfo=UTC),
    datetime(2023, 11, 5, 6, tzinfo=UTC),
    datetime(2024, 3, 10, 7, tzinfo=UTC),
    datetime(2024, 3, 31, 1, tzinfo=UTC),
    datetime(2024, 11, 3, 6, tzinfo=UTC),
]
EXTREME_FLOATS = np.array(
    [0.0, -0.0, 1e308, -1e308, 5e-324, -5e-324, np.nan, np.inf, -np.inf, 1 / 3, 0.1, 2.0**53 + 1]
)
FIRST_NAMES = [
    "Anna",
    "José",
    "Zoë",
    "Björn",
    "Łukasz",
    "Søren",
    "Ana María",
    "Иван",
    "王芳",
    "さくら",
    "محمد",
    "Ngozi",
    "O'Brien",
    "e\u0301lodie",
    "Élodie",
    "",
    "🙂 Sam",
]
LAST_NAMES = [
    "Smith",
    "Müller",
    "García",
    "Nguyễn",
    "Kowalski",
    "Андреев",
    "李",
    "佐藤",
    "Ó Súilleabháin",
    "d'Arc",
    "van der Berg",
    "",
    "Straße",
    "Ωmega",
    "🚀",
]
COUNTRIES = ["US", "DE", "JP", "BR", "IN", "FR", "GB", "NG", "CN", "MX", "SE", "PL"]
SEGMENTS = ["enterprise", "smb", "consumer", "", "gövernment"]
# The demo world's vocabulary. The PLAIN_ values are the ones the synthetic workload's
# queries filter on (simulator/workload/synth.py); the rest are edge cases in the data.
PLAIN_CATEGORIES = ["books", "electronics", "garden", "toys", "food"]
CATEGORIES = [*PLAIN_CATEGORIES, "", "mode & beauté", "家電"]
TAGS = ["new", "sale", "eco", "", "bestseller", "limited", "日本製", "🔥", 'b"quoted"']
PLAIN_EVENT_TYPES = ["page_view", "click", "search", "add_to_cart", "purchase", "signup", "logout"]
EVENT_TYPES = [
    *PLAIN_EVENT_TYPES,
    "",
    "ÉVÉNEMENT_spécial",
    "イベント",
    "🚀launch",
]
EVENT_TYPE_WEIGHTS = [0.45, 0.2, 0.12, 0.08, 0.05, 0.03, 0.03, 0.01, 0.01, 0.01, 0.01]
PAYLOAD_VALUES = [
    "ok",
    "",
    "naïve",
    "日本語",
    "emoji 🎉",
    'quote \\"x\\"',
    "line\\nbreak",
    "tab\\t",
    "Ω≈ç√",
    "a" * 40,
]
PLAIN_STATUSES = ["placed", "shipped", "delivered", "cancelled", "returned"]
STATUSES = [*PLAIN_STATUSES, "", "已发货", "geöffnet"]


def tenant_ids(tenants: int) -> list[str]:
    """Tenant ids ``t01``..``tNN``; refuses counts outside 1..99."""
    if not 1 <= tenants <= MAX_TENANTS:
        raise DatasetError(f"tenants: must be between 1 and {MAX_TENANTS}, got {tenants}")
    return [f"t{i:02d}" for i in range(1, tenants + 1)]


def table_rows(scale: float, tenants: int) -> dict[str, list[int]]:
    """Rows per table per tenant (index 0 is ``t01``) for ``scale``."""
    if not scale > 0:
        raise DatasetError(f"scale: must be positive, got {scale}")
    weights = np.arange(1, tenants + 1, dtype=np.float64) ** -TENANT_SKEW
    weights /= weights.sum()
    return {
        table: [max(MIN_ROWS[table], round(total * scale * w)) for w in weights]
        for table, total in ROWS_AT_SCALE_1.items()
    }


def check_params(scale: float, seed: int, tenants: int) -> None:
    """Refuse a non-positive scale, a negative seed, or a tenant count outside 1..99."""
    if seed < 0:
        raise DatasetError(f"seed: must not be negative, got {seed}")
    tenant_ids(tenants)
    table_rows(scale, tenants)


def world(scale: float, seed: int, tenants: int) -> Iterator[tuple[str, str, pa.Table, list[str]]]:
    """Yield (tenant, table name, rows, partition columns) for the whole world, tenant by
    tenant, one table at a time (so memory holds one table)."""
    check_params(scale, seed, tenants)
    rows = table_rows(scale, tenants)
    for index, tenant in enumerate(tenant_ids(tenants)):
        sizes = {table: rows[table][index] for table in TABLES}
        for table_index, table in enumerate(TABLES):
            rng = np.random.default_rng([seed, index, table_index])
            yield tenant, table, _BUILDERS[table](rng, sizes), PARTITION_COLUMNS.get(table, [])


def _valid(rng: np.random.Generator, n: int, null_rate: float) -> np.ndarray:
    valid = rng.random(n) >= null_rate
    valid[rng.integers(n)] = False  # every nullable column holds a NULL, even when tiny
    return valid


def _nulls(array: pa.Array, valid: np.ndarray) -> pa.Array:
    return pc.if_else(pa.array(valid), array, pa.scalar(None, array.type))


def _pick(
    rng: np.random.Generator,
    vocab: list[str],
    n: int,
    valid: np.ndarray,
    weights: list[float] | None = None,
) -> pa.Array:
    index = rng.choice(len(vocab), size=n, p=weights)
    return pa.array(vocab, pa.string()).take(pa.array(index, mask=~valid))


def _zipf_ids(rng: np.random.Generator, n: int, upper: int, a: float = 1.3) -> np.ndarray:
    """Skewed ids in 1..upper: id 1 is the hottest key."""
    return (rng.zipf(a, n) - 1) % upper + 1


def _decimal(cents: np.ndarray, valid: np.ndarray, precision: int) -> pa.Array:
    """Exact decimal128(precision, 2) from int64 cents (two's complement, little-endian)."""
    words = np.empty((len(cents), 2), dtype=np.int64)
    words[:, 0] = cents
    words[:, 1] = cents >> 63
    array = pa.Array.from_buffers(
        pa.decimal128(precision, 2), len(cents), [None, pa.py_buffer(words.tobytes())]
    )
    return _nulls(array, valid)


def _sprinkle(
    rng: np.random.Generator, values: np.ndarray, extremes: np.ndarray, rate: float
) -> np.ndarray:
    """Replace a fraction ``rate`` of ``values`` with draws from ``extremes``; every extreme
    appears at least once when the table has room for them all twice over."""
    hit = rng.random(len(values)) < rate
    values[hit] = rng.choice(extremes, size=int(hit.sum()))
    if len(values) >= 2 * len(extremes):
        values[rng.choice(len(values), size=len(extremes), replace=False)] = extremes
    return values


def _timestamps_near_dst(rng: np.random.Generator, n: int) -> np.ndarray:
    """Microsecond UTC instants: half within 3 hours of a DST change, half spread over 2 years."""
    anchors = np.array([int(d.timestamp()) * US for d in DST_CHANGES], dtype=np.int64)
    near = anchors[rng.integers(0, len(anchors), n)] + rng.integers(
        -3 * 3600 * US, 3 * 3600 * US, n
    )
    spread = int(DST_CHANGES[0].timestamp()) * US + rng.integers(0, 730 * DAY_US, n)
    return np.where(rng.random(n) < 0.5, near, spread)


def _events(rng: np.random.Generator, sizes: dict[str, int]) -> pa.Table:
    n = sizes["events"]
    days = int(np.clip(n // 4000, 2, MAX_EVENT_DAYS))
    start = int(EVENT_START.timestamp()) * US
    # Busy hours: a triangular profile peaking mid-day, sorted because logs arrive in order.
    offsets = np.sort(
        rng.integers(0, days, n) * DAY_US
        + (rng.triangular(0, 0.55, 1, n) * DAY_US).astype(np.int64)
    )
    micros = start + offsets
    day_names = pa.array([str(np.datetime64(start // DAY_US + d, "D")) for d in range(days)])
    day = day_names.take(pa.array(offsets // DAY_US))
    amount = np.round(rng.lognormal(3, 1.5, n), 2) * np.where(rng.random(n) < 0.1, -1, 1)
    amount = _sprinkle(rng, amount, EXTREME_FLOATS, 0.005)
    payload = pc.binary_join_element_wise(
        '{"k":',
        pc.cast(pa.array(rng.integers(-(2**40), 2**40, n)), pa.string()),
        ',"v":"',
        _pick(rng, PAYLOAD_VALUES, n, np.ones(n, bool)),
        '"}',
        "",
    )
    payload = pc.if_else(pa.array(rng.random(n) < 0.03), "", payload)
    return pa.table(
        {
            "event_id": pa.array(np.arange(1, n + 1, dtype=np.int64)),
            "time": pa.array(micros, pa.timestamp("us", tz="UTC")),
            "user_id": pa.array(
                _zipf_ids(rng, n, max(sizes["customers"] * 3, 1)), mask=~_valid(rng, n, 0.02)
            ),
            "event_type": _pick(rng, EVENT_TYPES, n, _valid(rng, n, 0.01), EVENT_TYPE_WEIGHTS),
            "amount": pa.array(amount, mask=~_valid(rng, n, 0.03)),
            "is_mobile": pa.array(rng.random(n) < 0.4, mask=~_valid(rng, n, 0.05)),
            "payload": _nulls(payload, _valid(rng, n, 0.02)),
            "day": day,
        },
        schema=SCHEMAS["events"],
    )


def _customers(rng: np.random.Generator, sizes: dict[str, int]) -> pa.Table:
    n = sizes["customers"]
    all_valid = np.ones(n, bool)
    name = pc.binary_join_element_wise(
        _pick(rng, FIRST_NAMES, n, all_valid), _pick(rng, LAST_NAMES, n, all_valid), " "
    )
    name = pc.if_else(pa.array(rng.random(n) < 0.02), "", name)
    cents = rng.normal(0, 5e6, n).astype(np.int64)
    cents = _sprinkle(rng, cents, np.array([0, 1, -1, 10**18 - 1, -(10**18 - 1)]), 0.002)
    return pa.table(
        {
            "customer_id": pa.array(np.arange(1, n + 1, dtype=np.int64)),
            "name": _nulls(name, _valid(rng, n, 0.02)),
            "country": _pick(rng, COUNTRIES, n, _valid(rng, n, 0.03)),
            "segment": _pick(rng, SEGMENTS, n, _valid(rng, n, 0.02)),
            "created_at": pa.array(
                _timestamps_near_dst(rng, n),
                pa.timestamp("us", tz="America/New_York"),
                mask=~_valid(rng, n, 0.02),
            ),
            "balance": _decimal(cents, _valid(rng, n, 0.03), 18),
        },
        schema=SCHEMAS["customers"],
    )


def _products(rng: np.random.Generator, sizes: dict[str, int]) -> pa.Table:
    n = sizes["products"]
    all_valid = np.ones(n, bool)
    name = pc.binary_join_element_wise(
        _pick(rng, CATEGORIES, n, all_valid),
        pc.cast(pa.array(np.arange(1, n + 1)), pa.string()),
        "#",
    )
    cents = rng.integers(1, 10**7, n)
    cents = _sprinkle(rng, cents, np.array([0, 10**12 - 1]), 0.002)
    lengths = rng.integers(0, 5, n)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    tag_valid = rng.random(int(offsets[-1])) >= 0.03
    tags = pa.ListArray.from_arrays(
        pa.array(offsets),
        _pick(rng, TAGS, int(offsets[-1]), tag_valid),
        mask=pa.array(~_valid(rng, n, 0.05)),
    )
    return pa.table(
        {
            "product_id": pa.array(np.arange(1, n + 1, dtype=np.int64)),
            "name": _nulls(name, _valid(rng, n, 0.01)),
            "category": _pick(rng, CATEGORIES, n, _valid(rng, n, 0.02)),
            "price": _decimal(cents, _valid(rng, n, 0.02), 12),
            "tags": tags,
        },
        schema=SCHEMAS["products"],
    )


def _orders(rng: np.random.Generator, sizes: dict[str, int]) -> pa.Table:
    n = sizes["orders"]
    # A few orders name customers that do not exist: joins must cope with orphans.
    customer = _zipf_ids(rng, n, sizes["customers"] + max(1, sizes["customers"] // 200))
    qty = rng.integers(1, 11, n).astype(np.int32)
    qty = _sprinkle(rng, qty, np.array([0, -1, -5, 2**31 - 1, -(2**31)], dtype=np.int32), 0.003)
    cents = rng.integers(1, 10**8, n)
    cents = _sprinkle(rng, cents, np.array([0, -1999, 10**18 - 1]), 0.002)
    start = int(EVENT_START.timestamp()) * US
    ordered = np.where(
        rng.random(n) < 0.8,
        start + rng.integers(0, MAX_EVENT_DAYS * DAY_US, n),
        _timestamps_near_dst(rng, n),
    )
    return pa.table(
        {
            "order_id": pa.array(np.arange(1, n + 1, dtype=np.int64)),
            "customer_id": pa.array(customer, mask=~_valid(rng, n, 0.01)),
            "product_id": pa.array(
                _zipf_ids(rng, n, sizes["products"], 1.1), mask=~_valid(rng, n, 0.01)
            ),
            "qty": pa.array(qty, pa.int32(), mask=~_valid(rng, n, 0.01)),
            "total": _decimal(cents, _valid(rng, n, 0.02), 18),
            "ordered_at": pa.array(
                ordered, pa.timestamp("us", tz="UTC"), mask=~_valid(rng, n, 0.01)
            ),
            "status": _pick(rng, STATUSES, n, _valid(rng, n, 0.02)),
        },
        schema=SCHEMAS["orders"],
    )


SCHEMAS = {
    "events": pa.schema(
        [
            pa.field("event_id", pa.int64(), nullable=False),
            pa.field("time", pa.timestamp("us", tz="UTC"), nullable=False),
            ("user_id", pa.int64()),
            ("event_type", pa.string()),
            ("amount", pa.float64()),
            ("is_mobile", pa.bool_()),
            ("payload", pa.string()),
            pa.field("day", pa.string(), nullable=False),
        ]
    ),
    "customers": pa.schema(
        [
            pa.field("customer_id", pa.int64(), nullable=False),
            ("name", pa.string()),
            ("country", pa.string()),
            ("segment", pa.string()),
            ("created_at", pa.timestamp("us", tz="America/New_York")),
            ("balance", pa.decimal128(18, 2)),
        ]
    ),
    "products": pa.schema(
        [
            pa.field("product_id", pa.int64(), nullable=False),
            ("name", pa.string()),
            ("category", pa.string()),
            ("price", pa.decimal128(12, 2)),
            ("tags", pa.list_(pa.string())),
        ]
    ),
    "orders": pa.schema(
        [
            pa.field("order_id", pa.int64(), nullable=False),
            ("customer_id", pa.int64()),
            ("product_id", pa.int64()),
            ("qty", pa.int32()),
            ("total", pa.decimal128(18, 2)),
            ("ordered_at", pa.timestamp("us", tz="UTC")),
            ("status", pa.string()),
        ]
    ),
}
_BUILDERS = {"events": _events, "customers": _customers, "products": _products, "orders": _orders}
