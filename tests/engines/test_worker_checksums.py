"""Canonical checksums are bit-identical wherever they are computed: in qsim's process and
inside real engine workers (each DuckDB runtime, SQLite, and a runtime on another pyarrow
release), over a broad type matrix with NULLs everywhere, empty and multi-batch results."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from engine_fixtures import DUCKDB_NEW, DUCKDB_OLD, duckdb_spec

from simulator.canonical import ChecksumAccumulator, PartitionAccumulator, row_hashes
from simulator.config import EngineSpec
from simulator.engines.contract import TableSpec
from simulator.engines.protocol import WORKER_HASH_ROWS, ResultRequest
from simulator.engines.worker import EngineWorker

ARROW_FILES = "tests.engines.arrow_file_adapter:ArrowFileAdapter"
OLD_PYARROW = "pyarrow==20.0.0"
UTC = dt.UTC
PARIS = "Europe/Paris"
LONG = "🙂" * 70  # past XXH3's 240-byte short path

# Every column holds a NULL; values chosen at the edges canonical hashing names.
SCALARS: dict[str, pa.Array] = {
    "i8": pa.array([1, -1, None, 127, -128, 0, 5], pa.int8()),
    "u64": pa.array([0, 2**64 - 1, None, 2**63, 1, 2, 3], pa.uint64()),
    "i64": pa.array([-(2**63), 2**63 - 1, None, 0, 7, -7, 1], pa.int64()),
    "f64": pa.array([float("nan"), -0.0, 0.0, float("inf"), float("-inf"), None, 1e-300]),
    "f32": pa.array([1.5, float("nan"), None, -0.0, 3.4e38, 1e-45, 2.0], pa.float32()),
    "dec": pa.array(
        [
            Decimal("1.50"),
            None,
            Decimal("-0.01"),
            Decimal("0"),
            Decimal("99999999.99"),
            Decimal("1"),
            Decimal("-5.00"),
        ],
        pa.decimal128(10, 2),
    ),
    "s": pa.array(["", "é", "日本語", LONG, None, "a/b=c%", "__NULL__"]),
    "b": pa.array([True, False, None, True, True, False, False]),
    "d32": pa.array(
        [
            dt.date(2024, 3, 1),
            dt.date(1970, 1, 1),
            None,
            dt.date(2024, 3, 1),
            dt.date(1, 1, 1),
            dt.date(9999, 12, 31),
            dt.date(2024, 2, 29),
        ]
    ),
    "ts": pa.array(
        [
            dt.datetime(2024, 3, 1, 12, 30, 15, 123456),
            None,
            dt.datetime(1970, 1, 1),
            dt.datetime(2024, 3, 1),
            dt.datetime(1900, 1, 1),
            dt.datetime(2262, 1, 1),
            dt.datetime(2024, 3, 1, 0, 0, 0, 1),
        ],
        pa.timestamp("us"),
    ),
    "tstz": pa.array(
        [
            dt.datetime(2024, 3, 1, 12, tzinfo=UTC),
            None,
            dt.datetime(2024, 10, 27, 1, tzinfo=UTC),
            dt.datetime(1970, 1, 1, tzinfo=UTC),
            dt.datetime(2024, 3, 1, 12, tzinfo=UTC),
            dt.datetime(2000, 6, 1, tzinfo=UTC),
            dt.datetime(2024, 3, 31, 1, tzinfo=UTC),
        ],
        pa.timestamp("us", tz=PARIS),
    ),
}
NESTED: dict[str, pa.Array] = {
    "l": pa.array([[1, 2], [], None, [None], [3], [1, 2], [2, 1]], pa.list_(pa.int64())),
    "st": pa.array(
        [
            {"a": 1, "b": "x"},
            None,
            {"a": None, "b": None},
            {"a": 2, "b": "é"},
            {"a": 1, "b": "x"},
            {"a": 0, "b": ""},
            {"a": -1, "b": LONG},
        ],
        pa.struct([("a", pa.int64()), ("b", pa.string())]),
    ),
    "m": pa.array(
        [[("a", 1), ("b", None)], [], None, [("b", 2), ("a", 1)], [("z", 0)], [("a", 1)], []],
        pa.map_(pa.string(), pa.int64()),
    ),
}
# Types only an Arrow producer (not a SQL engine reading Parquet) hands the worker as is.
ARROW_ONLY: dict[str, pa.Array] = {
    "f16": pa.array(np.array([0.5, -0.0, np.nan, np.inf, 1.0, 2.0, 65504.0], np.float16)),
    "dec256": pa.array(
        [
            Decimal("1234567890123456789012345678901234567.891"),
            None,
            Decimal("1.5"),
            Decimal("-0.001"),
            Decimal("0"),
            Decimal("1e30"),
            Decimal("-1e36"),
        ],
        pa.decimal256(40, 3),
    ),
    "ls": pa.array(["", "é", None, LONG, "x", "y", "z"], pa.large_string()),
    "sv": pa.array(["", "é", None, LONG, "x", "y", "z"], pa.string_view()),
    "bin": pa.array([b"", b"\x00\xff", None, b"ab", LONG.encode(), b"x", b"y"]),
    "fsb": pa.array([b"ab", None, b"\x00\x00", b"zz", b"ab", b"ba", b"!!"], pa.binary(2)),
    "d64": pa.array(
        [
            dt.date(2024, 3, 1),
            None,
            dt.date(1970, 1, 1),
            dt.date(1, 1, 1),
            dt.date(2024, 3, 2),
            dt.date(2000, 1, 1),
            dt.date(9999, 12, 31),
        ],
        pa.date64(),
    ),
    "ts_s_far": pa.array(
        [
            dt.datetime(3000, 1, 1),
            None,
            dt.datetime(1, 1, 1),
            dt.datetime(2024, 3, 1),
            dt.datetime(9999, 12, 31),
            dt.datetime(1677, 1, 1),
            dt.datetime(2262, 4, 12),
        ],
        pa.timestamp("s"),
    ),
    "ts_ns": pa.array(
        [0, 1, None, -1, 10**18, -(10**18), 1_709_294_400_000_000_001], pa.timestamp("ns")
    ),
    "t64": pa.array([0, 1, None, 86_399_999_999, 5, 6, 7], pa.time64("us")),
    "t32": pa.array([0, 1, None, 86_399, 5, 6, 7], pa.time32("s")),
    "dur": pa.array([0, -1, None, 10**15, 5, 6, 7], pa.duration("ms")),
    "mdn": pa.array(
        [(1, 2, 3), (0, 0, 0), None, (-1, -2, -3), (0, 0, 10**15), (12, 0, 0), (0, 31, 0)],
        pa.month_day_nano_interval(),
    ),
    "ll": pa.array(
        [["a"], [], None, [None, "b"], ["é"], [LONG], ["a"]], pa.large_list(pa.string())
    ),
    "fsl": pa.array(
        [[1, 2], None, [None, 3], [0, 0], [1, 2], [2, 1], [9, 9]], pa.list_(pa.int32(), 2)
    ),
    "dict": pa.array(["x", None, "y", "x", "é", "", "x"]).dictionary_encode(),
    "u": pa.UnionArray.from_sparse(
        pa.array([0, 1, 0, 1, 0, 1, 0], pa.int8()),
        [pa.array([1, 2, None, 4, 5, 6, 7]), pa.array(["a", "b", "c", None, "e", "f", "g"])],
    ),
    "nul": pa.nulls(7),
}


def _table(columns: dict[str, pa.Array]) -> pa.Table:
    """The columns as three batches: rows 0-2, an empty batch, rows 3-6."""
    whole = pa.RecordBatch.from_pydict(columns)
    return pa.Table.from_batches([whole.slice(0, 3), whole.slice(3, 0), whole.slice(3)])


def _expected(table: pa.Table, partitions: list[str]) -> tuple[dict, np.ndarray, dict]:
    """qsim's own process: result checksum, exact-column row hashes, partition checksums."""
    accumulator = ChecksumAccumulator(table.schema)
    exact = [i for i, f in enumerate(table.schema) if not pa.types.is_floating(f.type)]
    hashes = []
    state = PartitionAccumulator(partitions)
    for batch in table.to_batches():
        accumulator.update(batch)
        hashes.append(row_hashes(batch.select(exact)))
        state.update(batch)
    finished = {key: [count, multiset] for key, (count, multiset) in state.finish().items()}
    return (
        accumulator.finish().to_dict(),
        np.concatenate([np.empty(0, np.uint64), *hashes]),
        finished,
    )


def _in_worker(worker: EngineWorker, sql: str, table: str, partitions: list[str]):
    """The same three, through a ``ResultRequest`` and ``table_state`` (in the worker or, for
    small work, in qsim from the rows), nothing but kept rows reaching the sink."""
    crossed: list[pa.RecordBatch] = []
    checked = worker.execute(sql, 60.0, crossed.append, ResultRequest(checksum=True))
    assert checked.status == "ok", checked.error_message
    assert crossed == []  # a result that is only checksummed never crosses
    hashed = worker.execute(sql, 60.0, crossed.append, ResultRequest(row_hash_cap=10**6))
    state = worker.table_state(table, partitions)
    assert (hashed.status, state.status) == ("ok", "ok"), state.error_message
    assert crossed == []
    hashes = np.frombuffer(hashed.row_hashes, dtype="<u8")
    return checked.checksums["checksum"], hashes, state.checksums["partitions"]


def _arrow_worker(
    tmp_path: Path, requirements: tuple[str, ...], runtime_for, hash_rows: int
) -> EngineWorker:
    spec = EngineSpec(name="arrow", adapter=ARROW_FILES, requirements=requirements)
    return EngineWorker(spec, runtime_for(spec), tmp_path / "ws", [], hash_rows, hash_rows)


@pytest.mark.slow
@pytest.mark.parametrize("hashed_in", ["parent", "worker"])
def test_the_type_matrix_hashes_alike_in_qsim_and_in_a_worker_on_another_pyarrow(
    tmp_path, runtime_for, hashed_in
):
    matrix = _table({**SCALARS, **NESTED, **ARROW_ONLY})
    empty = pa.Table.from_batches([], schema=matrix.schema)  # a result with no batch
    # The parent runs qsim's pyarrow (26 here); the worker's runtime pins an older release.
    # A zero threshold has the worker hash every non-empty result; the default leaves these
    # small ones to the parent.
    hash_rows = 0 if hashed_in == "worker" else WORKER_HASH_ROWS
    with _arrow_worker(tmp_path, (OLD_PYARROW,), runtime_for, hash_rows) as worker:
        assert worker.version == "pyarrow 20.0.0" != f"pyarrow {pa.__version__}"
        for name, table, partitions in (
            ("matrix", matrix, ["d32", "s"]),
            ("by_instant", matrix, ["tstz", "f64", "dec", "b"]),
            ("empty", empty, ["d32"]),
        ):
            path = worker.workspace / f"{name}.arrow"
            with pa.ipc.new_file(str(path), table.schema) as writer:
                for batch in table.to_batches():
                    writer.write_batch(batch)
            checksum, hashes, states = _in_worker(worker, str(path), name, partitions)
            expected_checksum, expected_hashes, expected_states = _expected(table, partitions)
            assert checksum == expected_checksum, name
            assert hashes.tolist() == expected_hashes.tolist(), name
            assert states == expected_states, name
        assert checksum["row_count"] == 0 and states == {}
        # A partition column the rows lack: both sides fold to one whole-table state.
        folded = worker.table_state("matrix", ["no_such_column"])
        assert folded.checksums["partition_columns"] == []
        assert folded.checksums["partitions"] == _expected(matrix, [])[2]
        assert worker.hashing_loaded() == (hashed_in == "worker")


def _engine_table(root: Path, name: str, table: pa.Table, writable: bool) -> TableSpec:
    path = root / f"{name}.parquet"
    pq.write_table(table, path, row_group_size=3)
    return TableSpec(name, (str(path),), table.schema, (), writable=writable)


def _parent_hashes(worker: EngineWorker, sql: str, table: str, partitions: list[str]):
    """The old path: every row crosses the protocol and qsim's process hashes it."""
    rows: list[pa.RecordBatch] = []
    outcome = worker.execute(sql, 60.0, rows.append)
    assert outcome.status == "ok", outcome.error_message
    result = pa.Table.from_batches(rows, schema=outcome.arrow_schema)
    read: list[pa.RecordBatch] = []
    assert worker.read_table(table, read.append).status == "ok"
    checksum, hashes, _ = _expected(result, partitions)
    _, _, states = _expected(pa.Table.from_batches(read), partitions)
    return checksum, hashes, states


ENGINES = {
    "duckdb-1.1.3": (duckdb_spec(DUCKDB_OLD), {**SCALARS, **NESTED}),
    "duckdb-2.0.1": (duckdb_spec(DUCKDB_NEW), {**SCALARS, **NESTED}),
    # SQLite's INTEGER is int64: uint64 values past it cannot be stored.
    "sqlite": (
        EngineSpec(name="sqlite", adapter="sqlite"),
        {name: array for name, array in SCALARS.items() if name != "u64"},
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("engine", list(ENGINES))
def test_each_engine_runtime_hashes_its_results_and_tables_as_qsim_does(
    tmp_path, runtime_for, engine
):
    spec, columns = ENGINES[engine]
    matrix = _table(columns)
    tables = [
        _engine_table(tmp_path, "matrix", matrix, writable=False),
        _engine_table(tmp_path, "written", matrix, writable=True),
    ]
    queries = [
        "SELECT * FROM matrix",
        "SELECT * FROM matrix WHERE 1 = 0",  # empty, typed
        # Multi-batch: more rows than one engine batch, strings of every length class.
        "SELECT i64, s, d32 FROM matrix, (SELECT 1 FROM written LIMIT 5) AS a, "
        "(SELECT 1 FROM written LIMIT 7) AS b, (SELECT 1 FROM written LIMIT 7) AS c, "
        "(SELECT 1 FROM written LIMIT 7) AS d, (SELECT 1 FROM written LIMIT 7) AS e, "
        "(SELECT 1 FROM written LIMIT 2) AS f",
    ]
    with EngineWorker(spec, runtime_for(spec), tmp_path / "ws", tables) as worker:
        for sql in queries:
            in_worker = _in_worker(worker, sql, "written", ["d32", "s"])
            in_qsim = _parent_hashes(worker, sql, "written", ["d32", "s"])
            assert in_worker[0] == in_qsim[0], sql
            assert in_worker[1].tolist() == in_qsim[1].tolist(), sql
            assert in_worker[2] == in_qsim[2], sql
            # The small results were hashed by qsim; the 168,070-row one by the worker.
            assert worker.hashing_loaded() == (sql == queries[-1]), sql
        assert in_worker[0]["row_count"] == 7 * 5 * 7**4 * 2 > WORKER_HASH_ROWS  # several batches
        # What crossed for that result: a checksum, against every row on the old path.
        sent = worker.bytes_received
        worker.execute(queries[-1], 60.0, None, ResultRequest(checksum=True))
        checksum_only = worker.bytes_received - sent
        worker.execute(queries[-1], 60.0, lambda batch: None)
        every_row = worker.bytes_received - sent - checksum_only
        assert checksum_only < 2_000 and every_row > 168_070 * 8 * 3


@pytest.mark.slow
def test_a_worker_under_an_address_space_cap_still_checksums(tmp_path, runtime_for):
    # LLVM and OpenBLAS reserve address space as they load: under a 512 MB cap they failed
    # to load until the worker loaded them before the cap and added them to it.
    spec = duckdb_spec(DUCKDB_NEW, max_memory_mb=512, threads=1, memory_limit="100MB")
    with EngineWorker(spec, runtime_for(spec), tmp_path / "ws", []) as worker:
        sql = "SELECT x, x::VARCHAR AS s FROM range(100000) t(x)"
        outcome = worker.execute(sql, 60.0, None, ResultRequest(checksum=True))
        assert outcome.status == "ok", outcome.error_message
        assert outcome.checksums["checksum"]["row_count"] == 100_000


def test_small_results_are_hashed_by_qsim_and_never_load_hashing_in_the_worker(
    tmp_path, runtime_for
):
    table = pa.table({"day": pa.array([1, 1, 2], pa.int64()), "v": ["a", "b", "c"]})
    spec = EngineSpec(name="sqlite", adapter="sqlite")
    tables = [_engine_table(tmp_path, "t", table, writable=True)]
    # A 10-row threshold: the 3-row results stay below it, the 20-row one passes it.
    with EngineWorker(spec, runtime_for(spec), tmp_path / "ws", tables, 10, 1 << 20) as worker:
        sent: list[pa.RecordBatch] = []
        whole = worker.execute("SELECT * FROM t", 60.0, sent.append, ResultRequest(checksum=True))
        assert whole.checksums["checksum"] == _expected(table, [])[0]
        assert sent == []  # checksummed by qsim from the rows, which are not kept
        ordered = ResultRequest(checksum=True, keep_rows=100, ordered=True)
        worker.execute("SELECT v FROM t ORDER BY v", 60.0, sent.append, ordered)
        assert pa.Table.from_batches(sent).column("v").to_pylist() == ["a", "b", "c"]
        state = worker.table_state("t", ["day"])
        assert state.checksums["partitions"] == _expected(table, ["day"])[2]
        assert state.checksums["rows_read"] == 3
        assert not worker.hashing_loaded()
        large = worker.execute(
            "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r WHERE x < 20) "
            "SELECT x FROM r",
            60.0,
            None,
            ResultRequest(checksum=True),
        )
        assert large.checksums["checksum"]["row_count"] == 20
        assert worker.hashing_loaded()
