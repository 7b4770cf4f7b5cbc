import json
from collections import Counter, defaultdict
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from simulator.errors import WorkloadError
from simulator.workload.fingerprint import Analyzer
from simulator.workload.ingest import ingest_log
from simulator.workload.sample import SampleParams, sample_workload
from simulator.workload.store import OPTIONAL_COLUMNS, load_workload
from simulator.workload.synth import synthesize_log

EXAMPLES = Path(__file__).resolve().parents[2] / "workloads" / "examples"
DAYS = [f"2024-03-{d:02d}" for d in range(1, 11)]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A 4000-row synthetic log of 4 tenants, ingested, with every row's analysis."""
    root = tmp_path_factory.mktemp("sample")
    synthesize_log(None, 4000, 11, root / "log.jsonl", tenants=4, days=DAYS)
    ingest_log(root / "log.jsonl", root / "w", "log")
    rows = pq.read_table(root / "w" / "logs" / "log" / "log.parquet").to_pylist()
    analyzer = Analyzer()
    for row in rows:
        analysis = analyzer.analyze(row["sql"], row["dialect"])
        row["pattern_id"] = analysis.pattern_id
        row["kind"] = analysis.classification.kind
    return root / "w", rows


def _pairs(rows):
    return {(r["tenant"], r["pattern_id"]) for r in rows}


def test_full_budget_keeps_every_tenant_pattern_and_weights_sum_to_the_log(world):
    workloads, rows = world
    workload = sample_workload(workloads, "log", "full", SampleParams(budget=1000, seed=3))
    queries = workload.queries
    coverage = workload.manifest["coverage"]
    assert len(queries) <= 1000
    assert {(q.tenant, q.pattern_id) for q in queries} == _pairs(rows)
    assert coverage["patterns_total"] == coverage["patterns_kept"] == len(_pairs(rows))
    assert sum(q.weight for q in queries) == pytest.approx(len(rows))
    assert coverage["log_queries_represented"] == pytest.approx(len(rows))
    assert coverage["represented_share"] == pytest.approx(1.0)
    assert coverage["tenants"] == 4 and coverage["log_queries"] == len(rows)
    # A standalone pattern's weights add up to its number of log queries.
    log_counts = Counter((r["tenant"], r["pattern_id"]) for r in rows if not r["pipeline"])
    sampled = defaultdict(float)
    for q in queries:
        if not q.pipeline:
            sampled[(q.tenant, q.pattern_id)] += q.weight
    for pair, weight in sampled.items():
        assert weight == pytest.approx(log_counts[pair])
    assert len(queries) < len(rows) / 3


def test_small_budget_still_has_every_kind_of_every_tenant(world):
    workloads, rows = world
    kinds = {(r["tenant"], r["kind"]) for r in rows}
    # Two pipelines (5 statements each) and one SELECT per tenant cover every kind.
    workload = sample_workload(workloads, "log", "small", SampleParams(budget=44, seed=3))
    queries = workload.queries
    assert len(queries) <= 44
    assert {(q.tenant, q.kind) for q in queries} == kinds
    assert workload.manifest["coverage"]["kinds_missing"] == []
    tiny = sample_workload(workloads, "log", "tiny", SampleParams(budget=3, seed=3))
    assert len(tiny.manifest["coverage"]["kinds_missing"]) == len(kinds) - 3
    assert workload.manifest["coverage"]["patterns_kept"] < len(_pairs(rows))


def test_pipelines_are_kept_whole_and_in_log_order(world):
    workloads, rows = world
    workload = sample_workload(workloads, "log", "pipes", SampleParams(budget=300, seed=5))
    by_pipeline = defaultdict(list)
    for q in workload.queries:
        if q.pipeline:
            by_pipeline[q.pipeline].append(q)
    assert by_pipeline
    log_pipelines = defaultdict(list)
    for r in rows:
        if r["pipeline"]:
            log_pipelines[f"{r['tenant']}:{r['pipeline']}"].append(r["query_id"])
    for pipeline, members in by_pipeline.items():
        assert [q.query_id for q in members] == log_pipelines[pipeline]
        seqs = [q.seq for q in members]
        assert seqs == sorted(seqs)
        assert members[0].kind == "ddl" and members[1].kind == "ctas"
        if len(members) == 5:  # the log may end in the middle of a pipeline
            assert members[-1].kind == "select"
        assert len({q.weight for q in members}) == 1


def test_seq_is_log_order_within_tenant(world):
    workloads, rows = world
    workload = sample_workload(workloads, "log", "seq", SampleParams(budget=200, seed=1))
    order = defaultdict(list)
    for r in sorted(rows, key=lambda r: (r["tenant"], r["submitted_at"])):
        order[r["tenant"]].append(r["query_id"])
    for q in workload.queries:
        assert order[q.tenant][q.seq] == q.query_id
    keys = [(q.tenant, q.seq) for q in workload.queries]
    assert keys == sorted(keys)


def test_heavy_patterns_get_several_parameterizations(world):
    workloads, rows = world
    diversity = 3
    workload = sample_workload(
        workloads, "log", "div", SampleParams(budget=700, seed=2, diversity=diversity)
    )
    texts = defaultdict(set)
    for r in rows:
        if not r["pipeline"]:
            texts[(r["tenant"], r["pattern_id"])].add(r["sql"])
    sampled = defaultdict(set)
    for q in workload.queries:
        if not q.pipeline:
            sampled[(q.tenant, q.pattern_id)].add(q.sql)
    heavy = [pair for pair, found in texts.items() if len(found) >= diversity]
    assert len(heavy) > 20
    for pair in heavy:
        assert len(sampled[pair]) >= diversity


def test_same_seed_same_workload_other_seed_other_choice(world):
    workloads, _ = world
    first = sample_workload(workloads, "log", "a", SampleParams(budget=150, seed=9))
    again = sample_workload(workloads, "log", "b", SampleParams(budget=150, seed=9))
    other = sample_workload(workloads, "log", "c", SampleParams(budget=150, seed=10))
    assert first.id == again.id
    assert [q.query_id for q in first.queries] == [q.query_id for q in again.queries]
    assert [q.query_id for q in first.queries] != [q.query_id for q in other.queries]


def test_engine_time_budget(world):
    workloads, rows = world
    total_ms = sum(r["duration_ms"] for r in rows)
    budget_ms = total_ms / 50
    workload = sample_workload(
        workloads, "log", "timed", SampleParams(budget=1, budget_ms=budget_ms, seed=4)
    )
    spent = sum(q.duration_ms for q in workload.queries)
    assert 0 < spent <= budget_ms
    coverage = workload.manifest["coverage"]
    assert coverage["log_engine_ms"] == pytest.approx(total_ms, rel=1e-6)
    assert 0 < coverage["represented_time_share"] <= 1


def test_manifest_and_round_trip(world):
    workloads, _ = world
    workload = sample_workload(workloads, "log", "rt", SampleParams(budget=120, seed=8))
    loaded = load_workload(workloads, "rt")
    assert loaded.id == workload.id and len(loaded.id) == 16
    assert loaded.queries == workload.queries
    manifest = json.loads((workloads / "rt" / "manifest.json").read_text())
    assert manifest["params"] == {"budget": 120, "budget_ms": 0.0, "seed": 8, "diversity": 3}
    assert len(manifest["source"]["log_hash"]) == 32
    assert len(manifest["source"]["source_hash"]) == 32
    assert set(manifest["coverage"]["kinds"]) == {"select", "ctas", "insert", "delete"} | {
        "update",
        "ddl",
    }


def test_inferred_pipelines_from_trino_events(tmp_path):
    ingest_log(EXAMPLES / "trino-query-completed.jsonl", tmp_path, "trino")
    workload = sample_workload(tmp_path, "trino", "tr", SampleParams(budget=40, seed=1))
    pipelines = defaultdict(list)
    for q in workload.queries:
        if q.pipeline:
            pipelines[q.pipeline].append(q.kind)
    # The example log ends before t03's pipeline issued its final SELECT.
    assert pipelines == {
        "t01:stage_daily_activity:1": ["ddl", "ctas", "insert", "delete", "select"],
        "t03:stage_order_rollup:1": ["ddl", "ctas", "update", "delete"],
    }


def test_unparseable_queries_are_kept_and_marked(tmp_path):
    log = tmp_path / "log.jsonl"
    rows = [
        {"tenant": "t01", "submitted_at": i, "sql": sql}
        for i, sql in enumerate(
            ["SELECT 1 AS one", "SELEKT broken FROM", "SELECT TOP 5 [x] FROM t"]
        )
    ]
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ingest_log(log, tmp_path, "bad")
    workload = sample_workload(tmp_path, "bad", "w", SampleParams(budget=10))
    kinds = Counter(q.kind for q in workload.queries)
    assert kinds == {"select": 1, "unparseable": 2}
    assert all(q.parse_error for q in workload.queries if q.kind == "unparseable")
    assert workload.manifest["coverage"]["unparseable"] == 2


def test_refusals(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(WorkloadError, match="log is empty"):
        ingest_log(empty, tmp_path, "empty")
    with pytest.raises(WorkloadError, match="no normalized log named 'nope'"):
        sample_workload(tmp_path, "nope", "w", SampleParams())
    ingest_log(EXAMPLES / "tiny.jsonl", tmp_path, "tiny")
    with pytest.raises(WorkloadError, match=r"a budget of 0\.001 ms of engine time keeps no query"):
        sample_workload(tmp_path, "tiny", "w", SampleParams(budget_ms=0.001))
    with pytest.raises(WorkloadError, match="budget must be at least 1"):
        sample_workload(tmp_path, "tiny", "w", SampleParams(budget=0))
    with pytest.raises(WorkloadError, match="reserved"):
        load_workload(tmp_path, "logs")
    with pytest.raises(WorkloadError, match="no workload named 'missing'"):
        load_workload(tmp_path, "missing")


def test_damaged_normalized_log_is_one_error(tmp_path):
    folder = tmp_path / "logs" / "broken"
    folder.mkdir(parents=True)
    (folder / "log.parquet").write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(WorkloadError, match="unreadable normalized log"):
        sample_workload(tmp_path, "broken", "w", SampleParams())


def test_reach_facts_are_stored_and_an_older_workload_loads_with_unknown_reach(world, tmp_path):
    workloads, _ = world
    workload = sample_workload(workloads, "log", "reach", SampleParams(budget=120, seed=8))
    selects = [q for q in workload.queries if q.kind == "select" and not q.nondeterministic]
    assert selects and all(q.row_set_fixed and q.nondeterministic_columns == [] for q in selects)
    assert any(q.derived_names for q in selects)
    path = workloads / "reach" / "queries.parquet"
    table = pq.read_table(path)
    old = [c for c in table.column_names if c not in OPTIONAL_COLUMNS]
    pq.write_table(table.select(old), path)
    loaded = load_workload(workloads, "reach").queries
    assert [q.query_id for q in loaded] == [q.query_id for q in workload.queries]
    assert all(q.nondeterministic_columns is None and not q.row_set_fixed for q in loaded)
    assert not any(q.row_set_estimate_only for q in loaded)
    assert all(q.derived_names == [] and q.estimate_columns == [] for q in loaded)
