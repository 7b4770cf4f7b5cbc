"""The query templates of the synthetic log (:mod:`simulator.workload.synth`): dashboards,
ad-hoc exploration and ETL pipelines, each with the tables it needs and how its literals are
drawn (from the tenant's own event days and the world's vocabulary, so queries find rows).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from simulator.datasets import synthetic as world_data

# The world's vocabulary is the dataset generator's (one definition); queries filter on its
# plain values.

EVENT_TYPES = world_data.PLAIN_EVENT_TYPES
STATUSES = world_data.PLAIN_STATUSES
COUNTRIES = world_data.COUNTRIES
CATEGORIES = world_data.PLAIN_CATEGORIES
NAME_PATTERNS = ["^A", "^[JL]", "ü", "^\\w+ \\w+$", "[0-9]", "e$", "^.{3,5} ", "(?i)sm"]
LETTERS = ["A", "B", "J", "L", "M", "S", "Z", "É", "И"]

Params = dict[str, Any]
_Draw = Callable[[random.Random, list[str]], Params]


def _window(rng: random.Random, days: list[str], longest: int = 7) -> tuple[str, str]:
    start = rng.randrange(len(days))
    end = min(len(days) - 1, start + rng.randrange(longest))
    return days[start], days[end]


def _in_list(rng: random.Random, values: list[str], most: int = 4) -> str:
    chosen = rng.sample(values, rng.randint(1, min(most, len(values))))
    return ", ".join(f"'{v}'" for v in chosen)


# Dashboards: (name, panels). One refresh draws the literals once for all panels.
DASHBOARDS: list[tuple[str, set[str], list[str]]] = [
    (
        "traffic",
        {"events"},
        [
            "SELECT event_type, count(*) AS events, sum(amount) AS revenue FROM events "
            "WHERE day = '{day}' GROUP BY event_type ORDER BY events DESC, event_type",
            "SELECT date_trunc('hour', time) AS hour, count(*) AS events, "
            "approx_distinct(user_id) AS users FROM events "
            "WHERE day BETWEEN '{d0}' AND '{d1}' GROUP BY 1 ORDER BY 1",
            "SELECT day, count(*) / 24 AS per_hour, count(DISTINCT user_id) AS users "
            "FROM events WHERE day >= '{d0}' GROUP BY day ORDER BY day",
            "SELECT is_mobile, round(avg(amount), 2) AS avg_amount, max(amount) AS max_amount "
            "FROM events WHERE day = '{day}' AND event_type IN ({types}) "
            "GROUP BY is_mobile ORDER BY is_mobile NULLS FIRST",
        ],
    ),
    (
        "sales",
        {"orders", "customers", "products"},
        [
            "SELECT c.country, sum(o.total) AS revenue, count(*) AS orders FROM orders o "
            "JOIN customers c ON o.customer_id = c.customer_id "
            "WHERE o.ordered_at >= TIMESTAMP '{d0} 00:00:00 UTC' "
            "AND o.ordered_at < TIMESTAMP '{d1} 00:00:00 UTC' "
            "GROUP BY c.country ORDER BY revenue DESC LIMIT 10",
            "SELECT status, count(*) AS n, CAST(avg(total) AS decimal(18,2)) AS avg_total "
            "FROM orders WHERE status IN ({statuses}) GROUP BY status ORDER BY n DESC, status",
            "SELECT p.category, sum(o.qty) AS units, sum(o.total) AS revenue FROM orders o "
            "JOIN products p ON o.product_id = p.product_id WHERE o.status = '{status}' "
            "GROUP BY p.category ORDER BY revenue DESC NULLS LAST, p.category",
        ],
    ),
]


def dashboard_params(rng: random.Random, days: list[str]) -> Params:
    """One dashboard refresh's literals: a day, a window, event types and statuses."""
    d0, d1 = _window(rng, days, 3)
    return {
        "day": rng.choice(days),
        "d0": d0,
        "d1": d1,
        "types": _in_list(rng, EVENT_TYPES[:3], 2),
        "statuses": _in_list(rng, STATUSES[:3], 2),
        "status": rng.choice(STATUSES[:3]),
    }


# Ids below this exist in every tenant of a demo-sized world (the smallest has ~200
# customers), so a query naming one finds rows.
SMALL_ID_RANGE = 200

# Ad-hoc exploration: (template, tables, parameter draw).
ADHOC: list[tuple[str, set[str], _Draw]] = [
    (
        "SELECT event_type, count(amount) AS priced, count(payload) AS with_payload, "
        "count(*) AS events, min(time) AS first_at FROM events WHERE day = '{day}' "
        "GROUP BY event_type ORDER BY event_type NULLS FIRST",
        {"events"},
        lambda rng, days: {"day": rng.choice(days)},
    ),
    (
        "SELECT segment, country, count(*) AS n, count(segment) AS named, "
        "min(created_at) AS first_created, sum(balance) AS balance FROM customers "
        "WHERE customer_id <= {cid} GROUP BY segment, country "
        "ORDER BY segment NULLS FIRST, country NULLS FIRST",
        {"customers"},
        lambda rng, days: {"cid": rng.randint(20, SMALL_ID_RANGE)},
    ),
    (
        "SELECT order_id, customer_id, status, ordered_at, total, qty FROM orders "
        "WHERE customer_id <= {k} ORDER BY order_id",
        {"orders"},
        lambda rng, days: {"k": rng.randint(2, 12)},
    ),
    (
        "SELECT user_id, event_type, payload, amount FROM events WHERE day = '{day}' "
        "AND user_id % {k} = 0 ORDER BY event_id LIMIT {limit}",
        {"events"},
        lambda rng, days: {
            "day": rng.choice(days),
            "k": rng.randint(3, 9),
            "limit": rng.choice([20, 50]),
        },
    ),
    (
        "SELECT o.status, c.segment, count(*) AS orders, sum(o.total) AS revenue, "
        "max(o.ordered_at) AS last_order FROM orders o JOIN customers c "
        "ON o.customer_id = c.customer_id WHERE c.customer_id <= {cid} "
        "GROUP BY o.status, c.segment ORDER BY o.status NULLS FIRST, c.segment NULLS FIRST",
        {"orders", "customers"},
        lambda rng, days: {"cid": rng.randint(20, SMALL_ID_RANGE)},
    ),
    (
        "SELECT user_id, time, amount, sum(amount) OVER (PARTITION BY user_id ORDER BY time "
        "ROWS BETWEEN {k} PRECEDING AND CURRENT ROW) AS rolling FROM events "
        "WHERE day = '{day}' AND user_id % {m} = {r} AND user_id < {uid} "
        "ORDER BY user_id, time, event_id LIMIT {limit}",
        {"events"},
        lambda rng, days: {
            "day": rng.choice(days),
            "k": rng.randint(1, 3),
            "m": 7,
            "r": rng.randrange(7),
            "uid": rng.randint(1, 3000),
            "limit": rng.choice([50, 100]),
        },
    ),
    (
        "WITH spend AS (SELECT customer_id, sum(total) AS spent FROM orders "
        "WHERE status <> '{status}' GROUP BY customer_id) "
        "SELECT c.segment, s.customer_id, s.spent, rank() OVER (PARTITION BY c.segment "
        "ORDER BY s.spent DESC) AS r FROM spend s JOIN customers c "
        "ON c.customer_id = s.customer_id ORDER BY c.segment, r, s.customer_id LIMIT {limit}",
        {"orders", "customers"},
        lambda rng, days: {"status": rng.choice(STATUSES), "limit": rng.choice([20, 50, 100])},
    ),
    (
        "SELECT t.tag, count(*) AS n FROM products CROSS JOIN UNNEST(tags) AS t(tag) "
        "WHERE price > {price} GROUP BY t.tag ORDER BY n DESC, t.tag",
        {"products"},
        lambda rng, days: {"price": rng.randrange(0, 50000, 5)},
    ),
    (
        "SELECT product_id, transform(tags, x -> upper(x)) AS upper_tags, "
        "filter(tags, x -> length(x) > {k}) AS long_tags, cardinality(tags) AS n_tags "
        "FROM products WHERE category = '{category}' ORDER BY product_id LIMIT {limit}",
        {"products"},
        lambda rng, days: {
            "k": rng.randint(1, 5),
            "category": rng.choice(CATEGORIES),
            "limit": rng.choice([10, 25, 50, 100]),
        },
    ),
    (
        "SELECT json_extract_scalar(payload, '$.v') AS v, count(*) AS n, "
        "max(CAST(json_extract_scalar(payload, '$.k') AS bigint)) AS max_k FROM events "
        "WHERE day = '{day}' AND event_type = '{etype}' AND payload LIKE '{{%' "
        "GROUP BY 1 ORDER BY n DESC, v LIMIT 20",
        {"events"},
        lambda rng, days: {"day": rng.choice(days), "etype": rng.choice(EVENT_TYPES)},
    ),
    (
        "SELECT regexp_extract(name, '^(\\w+)', 1) AS first_word, count(*) AS n "
        "FROM customers WHERE regexp_like(name, '{pattern}') "
        "GROUP BY 1 ORDER BY n DESC, first_word NULLS FIRST LIMIT 20",
        {"customers"},
        lambda rng, days: {"pattern": rng.choice(NAME_PATTERNS)},
    ),
    (
        "SELECT customer_id, lower(country) AS country, substr(name, 1, {k}) AS prefix, "
        "length(name) AS len, concat(name, ' / ', segment) AS label, upper(segment) AS seg "
        "FROM customers WHERE name LIKE '{letter}%' ORDER BY customer_id LIMIT {limit}",
        {"customers"},
        lambda rng, days: {
            "k": rng.randint(1, 6),
            "letter": rng.choice(LETTERS),
            "limit": rng.choice([20, 50]),
        },
    ),
    (
        "SELECT customer_id, date_trunc('month', created_at) AS month, "
        "date_add('day', {k}, created_at) AS later, "
        "date_diff('day', created_at, TIMESTAMP '{day} 00:00:00 UTC') AS age_days FROM customers "
        "WHERE created_at < TIMESTAMP '{day} 00:00:00 UTC' ORDER BY customer_id LIMIT {limit}",
        {"customers"},
        lambda rng, days: {
            "k": rng.randint(1, 30),
            "day": rng.choice(days),
            "limit": rng.choice([50, 100]),
        },
    ),
    (
        "SELECT order_id, status, total FROM orders WHERE status = '{status}' LIMIT {limit}",
        {"orders"},
        lambda rng, days: {"status": rng.choice(STATUSES), "limit": rng.choice([5, 10, 20])},
    ),
    (
        "SELECT product_id, CAST(price AS decimal(14,1)) AS p1, "
        "CAST(price * 1.1 AS decimal(18,4)) AS p2, CAST(price AS double) / 3 AS third "
        "FROM products WHERE product_id <= {n} ORDER BY product_id",
        {"products"},
        lambda rng, days: {"n": rng.randint(10, 2000)},
    ),
    (
        "SELECT customer_id, array_agg(product_id) AS products, count(*) AS n FROM orders "
        "WHERE qty > {k} GROUP BY customer_id ORDER BY n DESC, customer_id LIMIT {limit}",
        {"orders"},
        lambda rng, days: {"k": rng.randint(0, 8), "limit": rng.choice([10, 20])},
    ),
    (
        "SELECT country, segment, balance FROM customers WHERE balance > {amount} "
        "ORDER BY country LIMIT {limit}",
        {"customers"},
        lambda rng, days: {
            "amount": rng.randrange(-50000, 50000, 10),
            "limit": rng.choice([10, 25]),
        },
    ),
    (
        "SELECT count(*) AS n, avg(amount) AS avg_amount FROM events "
        "TABLESAMPLE BERNOULLI ({pct}) WHERE day = '{day}'",
        {"events"},
        lambda rng, days: {"pct": rng.choice([1, 5, 10, 20]), "day": rng.choice(days)},
    ),
    (
        "SELECT count(*) AS recent FROM orders WHERE ordered_at > now() - INTERVAL '{k}' DAY",
        {"orders"},
        lambda rng, days: {"k": rng.randint(1, 90)},
    ),
    (
        "SELECT qty / {k} AS bucket, qty % {k} AS rest, count(*) AS n FROM orders "
        "WHERE qty BETWEEN 0 AND 100 GROUP BY 1, 2 ORDER BY 1, 2",
        {"orders"},
        lambda rng, days: {"k": rng.randint(2, 5)},
    ),
    (
        "SELECT day, sum(amount) AS total, avg(sum(amount)) OVER (ORDER BY day "
        "ROWS BETWEEN {k} PRECEDING AND CURRENT ROW) AS moving_avg FROM events "
        "WHERE day BETWEEN '{d0}' AND '{d1}' GROUP BY day ORDER BY day",
        {"events"},
        lambda rng, days: (
            dict(zip(("d0", "d1"), _window(rng, days, 14), strict=True)) | {"k": rng.randint(2, 6)}
        ),
    ),
    (
        "SELECT order_id, ordered_at, total, lag(total) OVER (PARTITION BY customer_id "
        "ORDER BY ordered_at, order_id) AS previous_total FROM orders "
        "WHERE customer_id = {cid} ORDER BY ordered_at, order_id",
        {"orders"},
        lambda rng, days: {"cid": rng.randint(1, SMALL_ID_RANGE)},
    ),
    (
        "SELECT category, count(*) AS n, array_join(array_sort(array_agg(name)), '|') AS names "
        "FROM products WHERE price < {price} GROUP BY category ORDER BY category",
        {"products"},
        lambda rng, days: {"price": rng.randrange(1000, 100000, 10)},
    ),
    (
        "SELECT c.customer_id, c.name FROM customers c WHERE EXISTS (SELECT 1 FROM orders o "
        "WHERE o.customer_id = c.customer_id AND o.status = '{status}') "
        "AND c.country = '{country}' ORDER BY c.customer_id LIMIT {limit}",
        {"customers", "orders"},
        lambda rng, days: {
            "status": rng.choice(STATUSES),
            "country": rng.choice(COUNTRIES),
            "limit": rng.choice([10, 50]),
        },
    ),
    (
        "SELECT 'orders' AS source, count(*) AS n FROM orders WHERE status = '{status}' "
        "UNION ALL SELECT 'events', count(*) FROM events WHERE day = '{day}' ORDER BY source",
        {"orders", "events"},
        lambda rng, days: {"status": rng.choice(STATUSES), "day": rng.choice(days)},
    ),
    (
        "SELECT customer_id, name FROM customers ORDER BY rand() LIMIT {limit}",
        {"customers"},
        lambda rng, days: {"limit": rng.choice([5, 10])},
    ),
    (
        "SELECT CASE WHEN amount IS NULL THEN 'null' WHEN amount < 0 THEN 'refund' "
        "WHEN amount > {k} THEN 'big' ELSE 'small' END AS bucket, count(*) AS n "
        "FROM events WHERE day = '{day}' GROUP BY 1 ORDER BY 1",
        {"events"},
        lambda rng, days: {"k": rng.choice([10, 50, 100, 500]), "day": rng.choice(days)},
    ),
    (
        "SELECT split_part(name, ' ', 1) AS first, strpos(name, '{ch}') AS pos, count(*) AS n "
        "FROM customers GROUP BY 1, 2 ORDER BY n DESC, first, pos LIMIT 30",
        {"customers"},
        lambda rng, days: {"ch": rng.choice(["a", "e", "ö", " ", "'"]).replace("'", "''")},
    ),
]


# ETL pipelines: statement templates in order; one parameter draw per instance.
PIPELINES: list[tuple[str, set[str], list[str], _Draw]] = [
    (
        "daily_activity",
        {"events"},
        [
            "DROP TABLE IF EXISTS stage_daily_activity",
            "CREATE TABLE stage_daily_activity AS SELECT day, user_id, event_type, "
            "count(*) AS events, sum(amount) AS amount FROM events "
            "WHERE day BETWEEN '{d0}' AND '{d1}' GROUP BY day, user_id, event_type",
            "INSERT INTO stage_daily_activity SELECT day, user_id, event_type, count(*), "
            "sum(amount) FROM events WHERE day = '{d2}' GROUP BY day, user_id, event_type",
            "DELETE FROM stage_daily_activity WHERE day < '{d1}'",
            "SELECT day, count(DISTINCT user_id) AS users, sum(events) AS events "
            "FROM stage_daily_activity GROUP BY day ORDER BY day",
        ],
        lambda rng, days: _pipeline_days(rng, days),
    ),
    (
        "order_rollup",
        {"orders"},
        [
            "DROP TABLE IF EXISTS stage_order_rollup",
            "CREATE TABLE stage_order_rollup AS SELECT CAST(ordered_at AS date) AS order_day, "
            "status, count(*) AS orders, sum(total) AS revenue FROM orders "
            "WHERE ordered_at < TIMESTAMP '{d1} 00:00:00 UTC' GROUP BY 1, 2",
            "UPDATE stage_order_rollup SET status = 'closed' WHERE status IN ({statuses})",
            "DELETE FROM stage_order_rollup WHERE orders < {k}",
            "SELECT status, sum(orders) AS orders, sum(revenue) AS revenue "
            "FROM stage_order_rollup GROUP BY status ORDER BY status",
        ],
        lambda rng, days: (
            _pipeline_days(rng, days)
            | {"statuses": _in_list(rng, STATUSES, 2), "k": rng.randint(1, 3)}
        ),
    ),
]


# Opt-in (``[workload.synth] large_writes``): a pipeline whose written table is as large as
# the tenant's events (millions of rows at scale 1), partitioned by ``day`` like them. The
# CTAS leaves out the day the INSERT adds, so each write changes partitions no other
# statement of the pipeline wrote, and a lost one is short by exactly its own rows.
EVENTS_REWRITE: tuple[str, set[str], list[str], _Draw] = (
    "events_rewrite",
    {"events"},
    [
        "DROP TABLE IF EXISTS stage_events",
        "CREATE TABLE stage_events AS SELECT * FROM events WHERE day <> '{d}'",
        "INSERT INTO stage_events SELECT * FROM events WHERE day = '{d}'",
        "UPDATE stage_events SET amount = amount + 1 WHERE day = '{d1}'",
        "DELETE FROM stage_events WHERE day = '{d0}'",
        "SELECT day, count(*) AS events, count(DISTINCT user_id) AS users "
        "FROM stage_events GROUP BY day ORDER BY day",
    ],
    lambda rng, days: _rewrite_days(rng, days),
)


def _rewrite_days(rng: random.Random, days: list[str]) -> Params:
    d = rng.choice(days)
    others = [day for day in days if day != d] or days
    return {"d": d, "d0": rng.choice(others), "d1": rng.choice(others)}


def _pipeline_days(rng: random.Random, days: list[str]) -> Params:
    d0, d1 = _window(rng, days[:-1] or days, 5)
    d2 = days[min(len(days) - 1, days.index(d1) + 1)]
    return {"d0": d0, "d1": d1, "d2": d2}
