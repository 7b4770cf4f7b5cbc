"""Canonical checksum throughput against pandas.util.hash_pandas_object, in the same run.

    .venv/bin/python -m benchmarks.bench_checksum [--rows 5000000] [--memory-rows 10000000]

Prints rows/s for qsim's ``checksum_table`` and for pandas on the same 5M-row table
(int64, float64, ~20-char string, UTC timestamp), their ratio (target >= 20x), the
raw-buffer xxh3_64 rate over the same column buffers (the ceiling for any hash of this
data), and the peak RSS of a fresh process checksumming a 10M-row Parquet file batch by
batch (target < 1 GB). Everything is single-threaded.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import xxhash

from simulator.canonical import checksum_table

TARGET_RATIO = 20.0
TARGET_PEAK_MB = 1024.0


def make_table(rows: int, seed: int = 0) -> pa.Table:
    """int64, float64, a 15-25 character ASCII string and a UTC timestamp per row."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(15, 26, rows)
    offsets = np.zeros(rows + 1, np.int32)
    np.cumsum(lengths, out=offsets[1:])
    chars = rng.integers(ord("a"), ord("z") + 1, int(offsets[-1]), dtype=np.uint8)
    strings = pa.Array.from_buffers(
        pa.string(), rows, [None, pa.py_buffer(offsets), pa.py_buffer(chars)]
    )
    return pa.table(
        {
            "id": pa.array(rng.integers(-(2**62), 2**62, rows)),
            "amount": pa.array(rng.normal(100.0, 50.0, rows)),
            "name": strings,
            "time": pa.array(
                rng.integers(1_500_000_000, 1_800_000_000, rows) * 1_000_000,
                pa.timestamp("us", tz="UTC"),
            ),
        }
    )


def best_of(repeats: int, fn) -> tuple[float, float]:
    """Best wall-clock and best CPU seconds of `repeats` runs of `fn`.

    CPU time is the steadier figure on a shared machine: every step here is single-threaded.
    """
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus)


def raw_xxhash_seconds(table: pa.Table) -> tuple[float, float, int]:
    """(best wall s, best CPU s, bytes) of xxh3_64 over every buffer of the table's columns."""
    buffers = [
        buf
        for column in table.columns
        for chunk in column.chunks
        for buf in chunk.buffers()
        if buf is not None
    ]
    size = sum(buf.size for buf in buffers)

    def run() -> None:
        for buf in buffers:
            xxhash.xxh3_64(memoryview(buf)).intdigest()

    return (*best_of(5, run), size)


MEMORY_CHILD = """
import resource, sys
import pyarrow.parquet as pq
from simulator.canonical import ChecksumAccumulator
source = pq.ParquetFile(sys.argv[1])
acc = ChecksumAccumulator(source.schema_arrow)
rows = 0
# Row group by row group: pyarrow's iter_batches holds ~450 MB of read buffers on this file.
for i in range(source.num_row_groups):
    for batch in source.read_row_group(i, use_threads=False).to_batches(max_chunksize=65536):
        rows += batch.num_rows
        if sys.argv[2] == "checksum":
            acc.update(batch)
assert sys.argv[2] == "read" or acc.finish().row_count == rows
print(rows, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

WRITER_CHILD = """
import sys
import pyarrow.parquet as pq
from benchmarks.bench_checksum import make_table
rows = int(sys.argv[2])
with pq.ParquetWriter(sys.argv[1], make_table(1).schema) as writer:
    for start in range(0, rows, 1_000_000):
        writer.write_table(make_table(min(1_000_000, rows - start), seed=start))
"""


def peak_memory(rows: int) -> tuple[int, float, float]:
    """(rows, peak RSS in MB of a fresh process checksumming them, of one only reading them).

    Run before this process holds any large table: Linux carries a parent's peak RSS
    into a child's ru_maxrss across fork and exec, so a big parent would inflate the
    child's figure. The Parquet file is written by another child for the same reason.
    """
    root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": root}
    peaks = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "table.parquet")
        subprocess.run([sys.executable, "-c", WRITER_CHILD, path, str(rows)], check=True, env=env)
        for mode in ("checksum", "read"):
            out = subprocess.run(
                [sys.executable, "-c", MEMORY_CHILD, path, mode],
                capture_output=True,
                text=True,
                check=True,
                env=env,
            ).stdout.split()
            count, peaks[mode] = int(out[0]), int(out[1]) / 1024
    return count, peaks["checksum"], peaks["read"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--memory-rows", type=int, default=10_000_000)
    args = parser.parse_args()
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)

    count, peak_mb, read_mb = peak_memory(args.memory_rows)

    table = make_table(args.rows)
    frame = table.to_pandas()
    compile_start = time.perf_counter()
    checksum_table(make_table(1000))
    print(f"numba warm-up (compile or cache load): {time.perf_counter() - compile_start:.2f} s")

    qsim_wall, qsim_cpu = best_of(5, lambda: checksum_table(table))
    pandas_wall, pandas_cpu = best_of(2, lambda: pd.util.hash_pandas_object(frame, index=False))
    raw_wall, raw_cpu, raw_bytes = raw_xxhash_seconds(table)
    rows = args.rows
    print(f"rows: {rows:,}  columns: int64, float64, string (15-25 chars), timestamp[us, UTC]")
    print(f"{'':28}{'wall s':>8}{'M rows/s':>10}{'CPU s':>8}{'M rows/s':>10}")
    for name, wall, cpu in (
        ("qsim checksum_table", qsim_wall, qsim_cpu),
        ("pandas hash_pandas_object", pandas_wall, pandas_cpu),
    ):
        print(f"{name:28}{wall:8.3f}{rows / wall / 1e6:10.1f}{cpu:8.3f}{rows / cpu / 1e6:10.1f}")
    wall_ratio, cpu_ratio = pandas_wall / qsim_wall, pandas_cpu / qsim_cpu
    verdict = "meets" if min(wall_ratio, cpu_ratio) >= TARGET_RATIO else "MISSES"
    print(
        f"ratio pandas/qsim time: {wall_ratio:.1f}x wall, {cpu_ratio:.1f}x CPU"
        f"  ({verdict} the {TARGET_RATIO:.0f}x target)"
    )
    print(
        f"xxh3_64 raw-buffer ceiling: {raw_wall:.3f} s wall, {raw_cpu:.3f} s CPU,"
        f" {rows / raw_cpu / 1e6:.0f} M rows/s ({raw_bytes / raw_cpu / 1e9:.1f} GB/s over"
        f" {raw_bytes / 1e6:.0f} MB of column buffers); qsim runs at {raw_cpu / qsim_cpu:.0%}"
        " of it (CPU)"
    )

    verdict = "meets" if peak_mb < TARGET_PEAK_MB else "MISSES"
    print(
        f"peak RSS checksumming {count:,} rows from Parquet in 65,536-row batches:"
        f" {peak_mb:.0f} MB ({verdict} the {TARGET_PEAK_MB:.0f} MB target);"
        f" reading the same batches without checksumming: {read_mb:.0f} MB"
    )


if __name__ == "__main__":
    main()
