"""``restore``: export a table (or one partition) of a generation as Parquet files into a
folder, checking each file's content hash as it is copied: the recovery path the 2020
lost-writes incident asked for.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

import xxhash

from simulator.datasets.layout import HASH_CHUNK_BYTES
from simulator.datasets.store import Generation
from simulator.errors import DatasetError


def restore_table(
    generation: Generation, tenant: str, table: str, dest: Path, partition: str | None = None
) -> list[Path]:
    """Copy the files of ``tenant``'s ``table`` (only ``partition``, e.g. ``day=2024-03-01``,
    when given) to ``dest/<table>/`` keeping hive partition folders; returns the written
    paths. Refuses an unknown table or partition, an existing non-empty target folder, and
    a source file whose hash does not match the manifest (its partial copy is removed)."""
    entry = generation.entry(tenant, table)
    files = entry["files"]
    if partition is not None:
        files = [f for f in files if f["partition"] == partition]
        if not files:
            known = sorted({f["partition"] for f in entry["files"]})
            shown = ", ".join(known[:5]) or "none: the table is not partitioned"
            raise DatasetError(
                f"generation {generation.id[:12]}: {tenant}/{table} has no partition "
                f"{partition!r} (partitions: {shown})"
            )
    target = dest / table
    if target.exists() and any(target.iterdir()):
        raise DatasetError(f"{target}: already exists and is not empty; refusing to overwrite")
    written = []
    prefix = f"tables/{tenant}/{table}/"
    for file in files:
        source = generation.stored_name(file["path"])
        out = target / file["path"].removeprefix(prefix)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            with generation.open_stored(file["path"]) as reader:
                digest = _copy_hashing(reader, out)
        except FileNotFoundError:
            raise DatasetError(f"{source}: missing, cannot restore") from None
        except OSError as err:
            reason = err.strerror or str(err).strip().splitlines()[0]
            raise DatasetError(f"{err.filename or source}: cannot copy ({reason})") from None
        if digest != file["xxhash"]:
            out.unlink()
            raise DatasetError(
                f"{source}: content hash differs from the manifest; not restored "
                f"(run 'qsim dataset verify {generation.id[:12]}')"
            )
        written.append(out)
    return written


def _copy_hashing(reader: BinaryIO, out: Path) -> str:
    """Copy what ``reader`` holds to ``out`` and return the xxh3_128 hex of the bytes."""
    hasher = xxhash.xxh3_128()
    with open(out, "wb") as writer:
        while chunk := reader.read(HASH_CHUNK_BYTES):
            hasher.update(chunk)
            writer.write(chunk)
    os.chmod(out, 0o644)
    return hasher.hexdigest()
