"""Dataset generation and verify throughput, each against a reference in the same run.

    .venv/bin/python -m benchmarks.bench_datasets [--scale 1.0] [--tenants 8]

Generation: rows/s of ``GenerationStore.generate`` (draw rows, write Parquet, hash files,
canonical table and partition checksums, commit), against drawing the same rows alone
(``synthetic.world``), so the ratio is the cost of everything but the data itself.
Verify: MB/s of ``verify_generation`` (xxh3_128 of every file, Parquet decode, canonical
checksums) against ``pyarrow.parquet.read_table`` of the same files alone.
A tiny warm-up generation first keeps the one-off JIT compile out of both figures.
If generating the requested scale takes more than ~3 minutes, rerun with ``--scale 0.2``.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

from simulator.datasets import synthetic
from simulator.datasets.store import GenerationStore
from simulator.datasets.verify import verify_generation


def main() -> None:
    """Run both measurements and print figures, references and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--tenants", type=int, default=8)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    started = time.perf_counter()
    drawn = sum(t.num_rows for _, _, t, _ in synthetic.world(args.scale, args.seed, args.tenants))
    draw_s = time.perf_counter() - started

    folder = Path(tempfile.mkdtemp(prefix="qsim-bench-datasets-"))
    try:
        store = GenerationStore(folder / "store")
        # Warm up: the canonical hashing kernels are JIT-compiled on first use per type.
        started = time.perf_counter()
        verify_generation(store.generate("warmup", 0.0005, args.seed, 2))
        warmup_s = time.perf_counter() - started
        started = time.perf_counter()
        generation = store.generate("bench", args.scale, args.seed, args.tenants)
        generate_s = time.perf_counter() - started
        rows = generation.row_count()
        megabytes = generation.byte_count() / 1e6
        assert rows == drawn

        files = sorted(generation.path.rglob("*.parquet"))
        started = time.perf_counter()
        for path in files:
            pq.read_table(path)
        read_s = time.perf_counter() - started

        started = time.perf_counter()
        report = verify_generation(generation)
        verify_s = time.perf_counter() - started
        assert report.ok, report.problems
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    print(
        f"scale {args.scale}, {args.tenants} tenants: {rows} rows, {len(files)} files, "
        f"{megabytes:.1f} MB Parquet (zstd)"
    )
    print(f"warm-up (JIT compile of hashing kernels, tiny generate + verify) {warmup_s:.2f} s")
    print(f"generate      {generate_s:7.2f} s  {rows / generate_s / 1e6:6.2f} M rows/s")
    print(
        f"draw rows only{draw_s:7.2f} s  {rows / draw_s / 1e6:6.2f} M rows/s "
        f"(reference; generate takes {generate_s / draw_s:.1f}x as long)"
    )
    print(
        f"verify        {verify_s:7.2f} s  {megabytes / verify_s:7.1f} MB/s  "
        f"{rows / verify_s / 1e6:6.2f} M rows/s"
    )
    print(
        f"pyarrow read  {read_s:7.2f} s  {megabytes / read_s:7.1f} MB/s "
        f"(reference; verify takes {verify_s / read_s:.1f}x as long)"
    )


if __name__ == "__main__":
    main()
