"""JSON Lines logs: one JSON object per line, UTF-8. Lines are read with a byte limit so a
binary file without newlines cannot exhaust memory."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from simulator.errors import WorkloadError
from simulator.workload.readers import Record

_CHUNK = 1 << 20


def read_jsonl(path: Path, max_line_bytes: int) -> Iterator[Record]:
    """Yield one Record per non-blank line; over-long, non-UTF-8 or non-object lines carry
    an error instead of fields. Raises WorkloadError if the file cannot be opened."""
    try:
        handle = path.open("rb")
    except OSError as err:
        raise WorkloadError(f"{path}: cannot read log ({err.strerror})") from None
    with handle:
        if handle.read(64).lstrip().startswith(b"["):
            raise WorkloadError(
                f"{path}: is one JSON array, not JSON Lines; write one object per line "
                "(for example: jq -c '.[]')"
            )
        handle.seek(0)
        line_no = 0
        while True:
            line = handle.readline(max_line_bytes + 1)
            if not line:
                return
            line_no += 1
            if len(line) > max_line_bytes and not line.endswith(b"\n"):
                size = len(line) + _skip_rest_of_line(handle)
                yield Record(
                    line_no,
                    line[:2000],
                    error=f"sql_too_large: line of {size} bytes is over the "
                    f"{max_line_bytes}-byte limit",
                )
                continue
            if not line.strip():
                continue
            yield _decode(line_no, line)


def _skip_rest_of_line(handle) -> int:  # type: ignore[no-untyped-def]
    skipped = 0
    while True:
        chunk = handle.readline(_CHUNK)
        skipped += len(chunk)
        if not chunk or chunk.endswith(b"\n"):
            return skipped


def _decode(line_no: int, line: bytes) -> Record:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as err:
        return Record(
            line_no, line, error=f"undecodable: not UTF-8 ({err.reason} at byte {err.start})"
        )
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        return Record(line_no, text, error=f"not_json: {err.msg} at column {err.colno}")
    if not isinstance(value, dict):
        return Record(line_no, text, error=f"not_an_object: JSON {type(value).__name__}")
    return Record(line_no, text, fields=value)
