"""What checking the node cache costs at session start: a full hash of every cached file
against trusting the recorded stamps.

    .venv/bin/python -m benchmarks.bench_node_cache [--scales 0.1,1] [--rounds 5] [--work DIR]

For each scale it generates a synthetic world (8 tenants, outside every clock, kept in
``--work`` when given), publishes it to an S3-compatible server (moto, on the loopback),
and fetches every tenant into an empty node cache (``fetch``). Then, ``--rounds`` times
each, it checks the whole generation as the sessions of every tenant would at their start:

* ``hash``: the stamp index removed first, so every file is hashed against the manifest
  (what every session start cost before stamps, and what a missing index costs now);
* ``stamps``: the index in place, so every file is trusted by its stamp.

Prints the medians and hash / stamps. The files are in the page cache (they were just
fetched or hashed), so ``hash`` is the best case; after a reboot it reads from disk.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from simulator.datasets.node_cache import STAMPS_FILE, fill_cache
from simulator.datasets.object_store import ObjectGenerationStore
from simulator.datasets.store import Generation, GenerationStore

# The S3 server the tests use (tests/ is not a package).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "datasets"))
from s3_server import running_s3_server

TENANTS = 8
SEED = 42


def check_all(generation: Generation) -> float:
    """Seconds to check every tenant's cached files (nothing may need fetching)."""
    began = time.perf_counter()
    for tenant in generation.tenants():
        fill = fill_cache(generation, tenant)
        assert fill.fetched == fill.refetched == 0, fill
    return time.perf_counter() - began


def measure(generation: Generation, rounds: int) -> dict[str, float]:
    """Median seconds of a full hash check and of a stamp check of ``generation``."""
    times: dict[str, list[float]] = {"hash": [], "stamps": []}
    for _ in range(rounds):
        (generation.path / STAMPS_FILE).unlink()
        times["hash"].append(check_all(generation))  # records the stamps again
        times["stamps"].append(check_all(generation))
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    """Measure and print each scale."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="0.1,1")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--work", type=Path, help="keep the generated worlds here")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="qsim-bench-node-cache-"))
    with running_s3_server() as s3:
        os.environ.update(s3.env())
        print(
            f"{'scale':>6} {'files':>6} {'MB':>8} {'fetch s':>8} {'hash ms':>9} "
            f"{'stamps ms':>10} {'hash/stamps':>12}"
        )
        for scale in (float(s) for s in args.scales.split(",")):
            folder = work / f"s{scale:g}" / "store"
            local = GenerationStore(folder)
            found = [g for g in local.list() if g.name == f"s{scale:g}"] if folder.exists() else []
            world = found[0] if found else local.generate(f"s{scale:g}", scale, SEED, TENANTS)
            cache = work / f"s{scale:g}" / "cache"
            shutil.rmtree(cache, ignore_errors=True)
            store = ObjectGenerationStore(s3.uri(f"s{scale:g}"), cache)
            store.publish(world)
            generation = store.get(world.id)
            began = time.perf_counter()
            for tenant in generation.tenants():
                fill_cache(generation, tenant)
            fetch_s = time.perf_counter() - began
            files = [
                f
                for t in generation.tenants()
                for n in generation.tables(t)
                for f in generation.entry(t, n)["files"]
            ]
            figures = measure(generation, args.rounds)
            print(
                f"{scale:>6g} {len(files):>6} {sum(f['bytes'] for f in files) / 1e6:>8.1f} "
                f"{fetch_s:>8.2f} {figures['hash'] * 1e3:>9.1f} {figures['stamps'] * 1e3:>10.1f} "
                f"{figures['hash'] / figures['stamps']:>11.1f}x"
            )


if __name__ == "__main__":
    main()
