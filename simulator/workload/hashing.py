"""Content hashes of files (xxh3-128), used for source-log, normalized-log and workload ids."""

from __future__ import annotations

from pathlib import Path

import xxhash

_CHUNK = 1 << 22


def file_hash(path: Path) -> str:
    """xxh3-128 hex digest of a file's bytes, read in 4 MiB chunks."""
    digest = xxhash.xxh3_128()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
