import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from simulator.config import IngestSection
from simulator.errors import WorkloadError
from simulator.workload.ingest import detect_format, ingest_log
from simulator.workload.normalized import LOG_SCHEMA, text_hash

EXAMPLES = Path(__file__).resolve().parents[2] / "workloads" / "examples"
GOOD = {"tenant": "t01", "submitted_at": "2024-03-01T00:00:00Z", "sql": "SELECT 1"}


def _jsonl(path: Path, rows: list[dict | str | bytes]) -> Path:
    with path.open("wb") as handle:
        for row in rows:
            if isinstance(row, dict):
                row = json.dumps(row)
            if isinstance(row, str):
                row = row.encode()
            handle.write(row + b"\n")
    return path


def _log(result) -> pa.Table:
    return pq.read_table(result.path / "log.parquet")


def _quarantine(result) -> list[dict]:
    lines = (result.path / "quarantine.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_jsonl_rows_are_normalized_with_text_hash(tmp_path):
    rows = [
        GOOD | {"query_id": "a", "duration_ms": 12.5, "user": "u", "pipeline": "p1"},
        GOOD | {"query_id": "b", "sql": "SELECT \n  1 ", "dialect": "DuckDB"},
    ]
    result = ingest_log(_jsonl(tmp_path / "log.jsonl", rows), tmp_path / "w", "demo")
    assert (result.kept, result.quarantined, result.format) == (2, 0, "jsonl")
    table = _log(result)
    assert table.schema == LOG_SCHEMA
    first, second = table.to_pylist()
    assert first["submitted_at"] == 1709251200.0
    assert first["duration_ms"] == 12.5 and first["pipeline"] == "p1" and first["user"] == "u"
    assert first["dialect"] == "trino" and second["dialect"] == "duckdb"
    # Whitespace-normalized text: both texts share one exact-text hash.
    assert first["text_hash"] == second["text_hash"] == text_hash("SELECT 1")
    meta = json.loads((result.path / "ingest.json").read_text())
    assert meta["kept"] == 2 and meta["source_hash"] == result.source_hash


def test_binary_garbage_is_quarantined_not_fatal(tmp_path):
    garbage = bytes(b for b in range(256) if b != ord("\n")) * 40
    path = _jsonl(tmp_path / "log.jsonl", [GOOD | {"query_id": "ok"}, garbage, b"\x00\xff\xfe"])
    result = ingest_log(path, tmp_path / "w", "g")
    assert result.kept == 1
    assert result.quarantined == 2
    assert result.quarantine_reasons == {"undecodable": 2}
    lines = [q["line"] for q in _quarantine(result)]
    assert lines == [2, 3]


def test_binary_file_without_newlines_is_bounded(tmp_path):
    path = tmp_path / "blob.jsonl"
    path.write_bytes(b"\x89PNG" + b"\x01" * (3 * 1024 * 1024) + b"\n" + json.dumps(GOOD).encode())
    mapping = IngestSection(max_sql_bytes=1024)
    result = ingest_log(path, tmp_path / "w", "blob", mapping=mapping)
    assert (result.kept, result.quarantined) == (1, 1)
    assert result.quarantine_reasons == {"sql_too_large": 1}
    assert len(_quarantine(result)[0]["raw"]) <= 2000


def test_ten_megabyte_sql_text_is_quarantined(tmp_path):
    huge = "SELECT " + ", ".join(["1"] * (10 * 1024 * 1024 // 3)) + " FROM events"
    assert len(huge) >= 10 * 1024 * 1024
    path = _jsonl(tmp_path / "log.jsonl", [GOOD | {"sql": huge}, GOOD | {"query_id": "next"}])
    result = ingest_log(path, tmp_path / "w", "big")
    assert (result.kept, result.quarantined) == (1, 1)
    assert result.quarantine_reasons == {"sql_too_large": 1}
    record = _quarantine(result)[0]
    assert record["line"] == 1 and record["raw_chars"] <= 2000


def test_sql_over_configured_limit_inside_a_short_line(tmp_path):
    path = _jsonl(tmp_path / "log.jsonl", [GOOD | {"sql": "SELECT " + "x" * 5000}, GOOD])
    result = ingest_log(path, tmp_path / "w", "lim", mapping=IngestSection(max_sql_bytes=4096))
    assert result.quarantine_reasons == {"sql_too_large": 1}


def test_mixed_encodings_keep_utf8_and_quarantine_latin1(tmp_path):
    utf8 = json.dumps(GOOD | {"query_id": "u", "sql": "SELECT 'Müller' AS n"}, ensure_ascii=False)
    latin1 = utf8.replace('"u"', '"l"').encode("latin-1")
    utf16 = json.dumps(GOOD | {"query_id": "w"}).encode("utf-16")
    path = _jsonl(tmp_path / "log.jsonl", [utf8.encode(), latin1, utf16])
    result = ingest_log(path, tmp_path / "w", "enc")
    assert result.kept == 1
    assert result.quarantine_reasons == {"undecodable": 2}
    assert _log(result).column("sql").to_pylist() == ["SELECT 'Müller' AS n"]


def test_csv_with_missing_required_column_is_one_clear_error(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("query_id,tenant,sql\n1,t01,SELECT 1\n")
    with pytest.raises(WorkloadError, match=r"log\.csv: CSV header has no column 'submitted_at'"):
        ingest_log(path, tmp_path / "w", "csv")
    assert not (tmp_path / "w" / "logs" / "csv").exists()


def test_csv_short_rows_bad_bytes_and_mapping(tmp_path):
    path = tmp_path / "log.csv"
    path.write_bytes(
        b"id,customer,ts,query_text\n"
        b"1,t01,2024-03-01 00:00:00,SELECT 1\n"
        b"2,t01,2024-03-01 00:00:01\n"
        b"3,t02,2024-03-01T00:00:02Z,\"SELECT 'a,b' AS x\"\n"
        b"4,t02,1709251203,SELECT '\xe9t\xe9'\n"
    )
    mapping = IngestSection(query_id="id", tenant="customer", submitted_at="ts", sql="query_text")
    result = ingest_log(path, tmp_path / "w", "csv", mapping=mapping)
    assert (result.kept, result.quarantined) == (2, 2)
    assert result.quarantine_reasons == {"short_row": 1, "undecodable": 1}
    table = _log(result).to_pylist()
    assert [r["query_id"] for r in table] == ["1", "3"]
    assert table[1]["sql"] == "SELECT 'a,b' AS x"
    assert [q["line"] for q in _quarantine(result)] == [3, 5]


def test_duplicate_query_ids_keep_the_first(tmp_path):
    rows = [GOOD | {"query_id": "q1"}, GOOD | {"query_id": "q2"}, GOOD | {"query_id": "q1"}]
    result = ingest_log(_jsonl(tmp_path / "log.jsonl", rows), tmp_path / "w", "dup")
    assert (result.kept, result.quarantined) == (2, 1)
    assert result.quarantine_reasons == {"duplicate_query_id": 1}
    assert _quarantine(result)[0]["line"] == 3


def test_timestamps_in_several_formats_and_zones(tmp_path):
    stamps = [
        "2024-03-01T00:00:00Z",
        "2024-03-01 01:00:00+01:00",
        "2024-02-29T19:00:00-05:00",
        "2024-03-01 00:00:00 UTC",
        1709251200000,
        "1709251200",
        "01/03/2024 00:00",
        "",
    ]
    rows = [GOOD | {"query_id": str(i), "submitted_at": s} for i, s in enumerate(stamps)]
    result = ingest_log(_jsonl(tmp_path / "log.jsonl", rows), tmp_path / "w", "ts")
    assert (result.kept, result.quarantined) == (6, 2)
    assert result.quarantine_reasons == {"bad_timestamp": 2}
    assert set(_log(result).column("submitted_at").to_pylist()) == {1709251200.0}


def test_unsupported_dialect_rows_are_quarantined_and_default_refused(tmp_path):
    rows = [GOOD | {"query_id": "a", "dialect": "cobolsql"}, GOOD | {"query_id": "b"}]
    path = _jsonl(tmp_path / "log.jsonl", rows)
    result = ingest_log(path, tmp_path / "w", "dia")
    assert (result.kept, result.quarantined) == (1, 1)
    assert result.quarantine_reasons == {"unsupported_dialect": 1}
    with pytest.raises(WorkloadError, match="unsupported SQL dialect 'cobolsql'"):
        ingest_log(path, tmp_path / "w", "dia2", mapping=IngestSection(default_dialect="cobolsql"))


def test_missing_fields_each_have_a_reason(tmp_path):
    rows = [
        {"tenant": "t01", "submitted_at": 1},
        GOOD | {"sql": "   "},
        {"sql": "SELECT 1", "submitted_at": 1},
        GOOD | {"tenant": "../etc"},
        [1, 2],
        "{not json",
    ]
    path = _jsonl(
        tmp_path / "log.jsonl", [json.dumps(r) if isinstance(r, list) else r for r in rows]
    )
    counts = "bad_tenant 1, no_sql 2, no_tenant 1, not_an_object 1, not_json 1"
    with pytest.raises(WorkloadError, match=f"no usable row \\(quarantined 6: {counts}\\)"):
        ingest_log(path, tmp_path / "w", "miss")
    assert not (tmp_path / "w" / "logs" / "miss").exists()


def test_empty_log_is_refused(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    with pytest.raises(WorkloadError, match=r"empty\.jsonl: log is empty"):
        ingest_log(path, tmp_path / "w", "empty")
    csv_path = tmp_path / "empty.csv"
    csv_path.write_text("")
    with pytest.raises(WorkloadError, match=r"empty\.csv: log is empty"):
        ingest_log(csv_path, tmp_path / "w", "empty_csv")
    with pytest.raises(WorkloadError, match="/dev/null: log is empty"):
        ingest_log("/dev/null", tmp_path / "w", "devnull", fmt="jsonl")


def test_parquet_log_with_mapping(tmp_path):
    path = tmp_path / "log.parquet"
    pq.write_table(
        pa.table(
            {
                "qid": ["a", "b", "c"],
                "account": ["t01", "t02", None],
                "ts": ["2024-03-01T00:00:00Z", "2024-03-01T00:00:01Z", "2024-03-01T00:00:02Z"],
                "text": ["SELECT 1", "SELECT 2", "SELECT 3"],
                "ms": [1.5, None, 3.0],
            }
        ),
        path,
    )
    mapping = IngestSection(
        query_id="qid", tenant="account", submitted_at="ts", sql="text", duration_ms="ms"
    )
    result = ingest_log(path, tmp_path / "w", "pq", mapping=mapping)
    assert (result.kept, result.quarantined, result.format) == (2, 1, "parquet")
    assert _log(result).column("duration_ms").to_pylist() == [1.5, None]
    assert json.loads(_quarantine(result)[0]["raw"])["qid"] == "c"
    with pytest.raises(WorkloadError, match="Parquet log has no column 'sql'"):
        ingest_log(path, tmp_path / "w", "pq2")


def test_not_a_parquet_file_is_one_error(tmp_path):
    path = tmp_path / "log.parquet"
    path.write_bytes(b"not parquet at all")
    with pytest.raises(WorkloadError, match="not a readable Parquet file"):
        ingest_log(path, tmp_path / "w", "bad")


def test_trino_event_file_is_detected_and_mapped(tmp_path):
    path = EXAMPLES / "trino-query-completed.jsonl"
    assert detect_format(path) == "trino"
    result = ingest_log(path, tmp_path / "w", "trino")
    assert (result.kept, result.quarantined, result.format) == (40, 0, "trino")
    rows = _log(result).to_pylist()
    events = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["query_id"] for r in rows] == [e["metadata"]["queryId"] for e in events]
    assert {r["tenant"] for r in rows} == {"t01", "t02", "t03"}
    assert sum(r["status"] == "FAILED" for r in rows) == 2
    # wallTime as seconds (number) and as ISO 8601 (PT...S) both become milliseconds.
    for row, event in zip(rows, events, strict=True):
        wall = event["statistics"]["wallTime"]
        seconds = float(wall[2:-1]) if isinstance(wall, str) else wall
        assert row["duration_ms"] == pytest.approx(seconds * 1000)
        assert row["user"] == event["context"]["user"]


def test_unknown_suffix_and_missing_file_are_errors(tmp_path):
    (tmp_path / "log.xml").write_text("<x/>")
    with pytest.raises(WorkloadError, match="pass --format"):
        ingest_log(tmp_path / "log.xml", tmp_path / "w", "x")
    with pytest.raises(WorkloadError, match="no such log file"):
        ingest_log(tmp_path / "nope.jsonl", tmp_path / "w", "x")
    with pytest.raises(WorkloadError, match="not a valid name"):
        ingest_log(EXAMPLES / "tiny.jsonl", tmp_path / "w", "../x")


def test_unwritable_destination_is_one_error_and_leaves_nothing(tmp_path):
    blocker = tmp_path / "w"
    blocker.write_text("a file where the workloads folder should be")
    with pytest.raises(WorkloadError, match="ingest failed"):
        ingest_log(EXAMPLES / "tiny.jsonl", blocker, "tiny")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w"]


def test_reingest_replaces_the_log(tmp_path):
    first = ingest_log(EXAMPLES / "tiny.jsonl", tmp_path, "same")
    second = ingest_log(EXAMPLES / "trino-query-completed.jsonl", tmp_path, "same")
    assert (first.kept, second.kept) == (60, 40)
    assert _log(second).num_rows == 40
    assert sorted(p.name for p in (tmp_path / "logs").iterdir()) == ["same"]


def test_json_array_file_is_one_clear_error(tmp_path):
    path = tmp_path / "events.json"
    path.write_text(json.dumps([GOOD, GOOD]))
    with pytest.raises(WorkloadError, match="is one JSON array, not JSON Lines"):
        ingest_log(path, tmp_path / "w", "arr")
