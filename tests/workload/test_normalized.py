import pyarrow.parquet as pq

from simulator.workload.normalized import LOG_SCHEMA, ROW_COLUMNS, LogWriter, text_hash


def test_writer_streams_row_groups_in_order(tmp_path):
    path = tmp_path / "log.parquet"
    writer = LogWriter(path)
    rows = 120_001
    for i in range(rows):
        writer.write(
            (f"q{i}", "t01", float(i), f"SELECT {i % 7}", "trino", None, None, None, None, "")
        )
    writer.close()
    parquet = pq.ParquetFile(path)
    assert parquet.metadata.num_row_groups == 3
    table = parquet.read()
    assert table.schema == LOG_SCHEMA and table.num_rows == rows == writer.rows
    assert table.column("query_id")[rows - 1].as_py() == f"q{rows - 1}"
    assert table.column("text_hash")[8].as_py() == text_hash("SELECT 1")
    assert len(ROW_COLUMNS) == len(LOG_SCHEMA) - 1


def test_empty_log_is_a_valid_file(tmp_path):
    writer = LogWriter(tmp_path / "log.parquet")
    writer.close()
    assert pq.read_table(tmp_path / "log.parquet").num_rows == 0


def test_text_hash_ignores_whitespace_only():
    assert text_hash("SELECT  a\n FROM t ") == text_hash("SELECT a FROM t")
    assert text_hash("SELECT a FROM t") != text_hash("select a from t")
