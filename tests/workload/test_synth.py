import json
import re
from collections import Counter, defaultdict

import duckdb
import pytest

from simulator.config import EngineSpec
from simulator.datasets.store import GenerationStore
from simulator.datasets.synthetic import world
from simulator.errors import WorkloadError
from simulator.workload.fingerprint import Analyzer
from simulator.workload.synth import synthesize_log, world_from_generation
from simulator.workload.transpile import transpile

DUCKDB = EngineSpec(name="local", adapter="duckdb", dialect="duckdb", version=duckdb.__version__)
DAYS = [f"2024-03-{d:02d}" for d in range(1, 8)]


def _read(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def log(tmp_path_factory):
    path = tmp_path_factory.mktemp("synth") / "log.jsonl"
    result = synthesize_log(None, 6000, 5, path, tenants=6, days=DAYS)
    return result, _read(path)


def test_exact_row_count_tenants_and_fields(log):
    result, rows = log
    assert result.rows == len(rows) == 6000
    assert {r["tenant"] for r in rows} == {f"t0{i}" for i in range(1, 7)}
    assert len({r["query_id"] for r in rows}) == 6000
    assert {r["dialect"] for r in rows} == {"trino"}
    assert all(r["sql"] and r["duration_ms"] > 0 for r in rows)


def test_volume_is_skewed_across_tenants(log):
    _, rows = log
    counts = Counter(r["tenant"] for r in rows)
    assert counts["t01"] > 3 * counts["t06"]
    assert counts["t01"] > counts["t02"] > counts["t04"]


def test_daily_cycle_and_time_order(log):
    _, rows = log
    stamps = [r["submitted_at"] for r in rows]
    assert stamps == sorted(stamps)
    hours = Counter(int(s[11:13]) for s in stamps)
    assert hours[14] > 3 * hours[3]


def test_pipelines_are_tagged_and_ordered(log):
    result, rows = log
    pipelines = defaultdict(list)
    for r in rows:
        if r["pipeline"]:
            pipelines[r["pipeline"]].append(r)
    assert len(pipelines) == result.pipelines > 10
    analyzer = Analyzer()
    shapes = Counter()
    for members in pipelines.values():
        assert len({m["tenant"] for m in members}) == 1
        kinds = [analyzer.analyze(m["sql"], "trino").classification.kind for m in members]
        if len(kinds) == 5:
            shapes[tuple(kinds)] += 1
            written = analyzer.analyze(members[1]["sql"], "trino").classification.tables_written
            assert written[0].startswith("stage_")
    assert set(shapes) == {
        ("ddl", "ctas", "insert", "delete", "select"),
        ("ddl", "ctas", "update", "delete", "select"),
    }


def test_mix_covers_the_features_that_differ_between_engine_releases(log):
    _, rows = log
    text = "\n".join(r["sql"] for r in rows)
    for feature in [
        "x -> upper(x)",
        "filter(tags",
        "regexp_like",
        "json_extract_scalar",
        "date_trunc",
        "date_add",
        "ROWS BETWEEN",
        "approx_distinct",
        "/ 24",
        "CAST(price AS decimal",
        "UNNEST(tags)",
        "TABLESAMPLE",
        "now()",
        "rand()",
        "array_agg(product_id)",
        "WITH spend AS",
        "UNION ALL",
    ]:
        assert feature in text, feature
    reasons = Counter()
    analyzer = Analyzer()
    for r in rows:
        reasons.update(analyzer.analyze(r["sql"], "trino").classification.nondeterministic)
    assert {"limit_without_order_by", "approx_distinct", "tablesample", "rand"} <= set(reasons)
    assert analyzer.parsed < analyzer.tokenized / 3


def test_same_seed_same_bytes_other_seed_other_log(tmp_path):
    a = synthesize_log(None, 500, 1, tmp_path / "a.jsonl", tenants=2, days=DAYS)
    b = synthesize_log(None, 500, 1, tmp_path / "b.jsonl", tenants=2, days=DAYS)
    c = synthesize_log(None, 500, 2, tmp_path / "c.jsonl", tenants=2, days=DAYS)
    assert a.path.read_bytes() == b.path.read_bytes()
    assert a.path.read_bytes() != c.path.read_bytes()


def test_refusals(tmp_path):
    with pytest.raises(WorkloadError, match="rows must be at least 1"):
        synthesize_log(None, 0, 1, tmp_path / "x.jsonl")
    with pytest.raises(WorkloadError, match="not YYYY-MM-DD"):
        synthesize_log(None, 5, 1, tmp_path / "x.jsonl", days=["March 1st"])


def test_world_comes_from_the_generation_manifest(tmp_path):
    generation = GenerationStore(tmp_path / "store").generate("demo", 0.0005, 1, 2)
    tenants, tables, days = world_from_generation(generation)
    assert tenants == ["t01", "t02"]
    assert tables["t01"] == {"events", "customers", "products", "orders"}
    partitions = generation.manifest["tenants"]["t01"]["events"]["partitions"]
    assert days == sorted(key.removeprefix("day=") for key in partitions)
    result = synthesize_log(generation, 400, 3, tmp_path / "g.jsonl")
    rows = _read(result.path)
    assert {r["tenant"] for r in rows} == {"t01", "t02"}
    literal_days = set()
    for r in rows:
        literal_days.update(d for d in re.findall(r"'(\d{4}-\d{2}-\d{2})", r["sql"]))
    assert literal_days and literal_days <= set(days)


@pytest.mark.slow
def test_synthesized_queries_run_on_duckdb_after_transpilation(log):
    """Every pattern (two texts each) and one whole pipeline of each kind, transpiled for the
    local DuckDB, run against a tiny real synthetic world."""
    _, rows = log
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    for tenant, table, data, _ in world(0.0005, 1, 1):
        assert tenant == "t01"
        connection.register(f"src_{table}", data)
        connection.execute(f"CREATE TABLE {table} AS SELECT * FROM src_{table}")
    analyzer = Analyzer()
    texts = defaultdict(list)
    pipelines = defaultdict(list)
    for r in rows:
        if r["pipeline"]:
            pipelines[r["pipeline"]].append(r["sql"])
        else:
            texts[analyzer.analyze(r["sql"], "trino").pattern_id].append(r["sql"])
    failures = []
    ran = 0
    for pattern_texts in texts.values():
        for sql in pattern_texts[:2]:
            rendered = transpile(sql, "trino", DUCKDB, tenant="t01")
            assert rendered.sql, rendered.skip_reason
            try:
                connection.execute(rendered.sql).fetchall()
                ran += 1
            except duckdb.Error as err:
                failures.append(f"{sql}\n  -> {rendered.sql}\n  !! {err}")
    complete = [p for p in pipelines.values() if len(p) == 5]
    first_of_each = {p[1].split(" AS ")[0]: p for p in complete}
    assert len(first_of_each) == 2
    for statements in first_of_each.values():
        for sql in statements:
            rendered = transpile(sql, "trino", DUCKDB, tenant="t01")
            try:
                connection.execute(rendered.sql).fetchall()
                ran += 1
            except duckdb.Error as err:
                failures.append(f"{sql}\n  -> {rendered.sql}\n  !! {err}")
    assert not failures, "\n".join(failures)
    assert ran >= 60


def test_cached_analysis_of_the_synthetic_mix_equals_fresh_analysis(log):
    _, rows = log
    texts = [r["sql"] for r in rows[::20]]
    cached = Analyzer()
    for sql in texts:
        assert cached.analyze(sql, "trino") == Analyzer().analyze(sql, "trino"), sql
    assert cached.parsed < len(set(texts)) / 2


def test_large_writes_adds_events_rewrite_per_tenant_and_only_when_asked(tmp_path):
    """Opt-in: off, the log has no stage_events and is byte-identical to the default call;
    on, every tenant has whole events_rewrite pipelines (CTAS of every day but the one its
    INSERT adds, so a lost partition of one write is short by that write's rows alone)."""
    plain, default, large = (tmp_path / n for n in ("plain.jsonl", "default.jsonl", "l.jsonl"))
    synthesize_log(None, 1500, 3, plain, tenants=3, days=DAYS, large_writes=False)
    synthesize_log(None, 1500, 3, default, tenants=3, days=DAYS)
    synthesize_log(None, 1500, 3, large, tenants=3, days=DAYS, large_writes=True)
    assert plain.read_bytes() == default.read_bytes()
    assert "stage_events" not in plain.read_text()
    rewrites = defaultdict(list)
    for r in _read(large):
        if r["pipeline"].startswith("events_rewrite-"):
            rewrites[r["pipeline"]].append(r)
    # The log ends where its row count does, maybe inside a pipeline: judge whole ones.
    complete = [rows for rows in rewrites.values() if len(rows) == 6]
    assert {rows[0]["tenant"] for rows in complete} == {"t01", "t02", "t03"}
    for rows in complete:
        sqls = [r["sql"] for r in rows]
        assert sqls[0] == "DROP TABLE IF EXISTS stage_events"
        day = re.search(r"day <> '([0-9-]+)'", sqls[1]).group(1)
        assert sqls[1] == f"CREATE TABLE stage_events AS SELECT * FROM events WHERE day <> '{day}'"
        assert sqls[2] == f"INSERT INTO stage_events SELECT * FROM events WHERE day = '{day}'"
        assert sqls[3].startswith("UPDATE stage_events") and sqls[4].startswith("DELETE")
        assert f"'{day}'" not in sqls[4]  # the DELETE removes another day than the INSERT's
