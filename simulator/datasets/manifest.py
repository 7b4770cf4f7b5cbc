"""The ``manifest.json`` of a generation: its schema, its content-derived id, and the checks
that refuse a manifest damaged or edited by hand.

A manifest is a plain dict (it crosses stage boundaries as JSON)::

    {
      "format_version": 1,
      "id": "<32 hex: xxh3_128 of the canonical JSON of everything but id and created_at>",
      "name": "demo", "parent": null | "<id>", "created_at": "2026-11-25T09:00:00Z",
      "source": {"generator": "synthetic-world", "seed": 42, "params": {...}}
                | {"import": "/abs/path"},
      "tenants": {"t01": {"events": {
          "schema": "<base64 Arrow IPC schema, partition columns included>",
          "columns": ["event_id: int64 not null", ...],        # readable copy of schema
          "partition_columns": ["day"],
          "files": [{"path": "tables/t01/events/day=2024-03-01/part-0.parquet",
                     "partition": "day=2024-03-01", "rows": 10, "bytes": 999,
                     "xxhash": "<xxh3_128 hex of the file bytes>"}],
          "row_count": 10, "bytes": 999,
          "checksum": "<canonical multiset hex>",
          "column_checksums": {"event_id": "<hex>", ...},
          "partitions": {"day=2024-03-01": {"rows": 10, "checksum": "<hex>"}}}}}
    }
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pyarrow as pa
import xxhash

from simulator.errors import DatasetError

FORMAT_VERSION = 1
MANIFEST_FILE = "manifest.json"
# Fields left out of the id: the id itself, and when it was made (same inputs, same id).
_NOT_HASHED = ("id", "created_at")
_TOP_KEYS = {
    "format_version": int,
    "id": str,
    "name": str,
    "created_at": str,
    "source": dict,
    "tenants": dict,
}
_TABLE_KEYS = {
    "schema": str,
    "partition_columns": list,
    "files": list,
    "row_count": int,
    "bytes": int,
    "checksum": str,
    "column_checksums": dict,
    "partitions": dict,
}
_FILE_KEYS = {"path": str, "partition": str, "rows": int, "bytes": int, "xxhash": str}


def canonical_json(manifest: dict[str, Any]) -> bytes:
    """The manifest as canonical JSON bytes (sorted keys, no whitespace, UTF-8)."""
    return json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def manifest_id(manifest: dict[str, Any]) -> str:
    """The generation id for ``manifest``: xxh3_128 hex of its canonical JSON without the
    ``id`` and ``created_at`` fields, so equal content always gives an equal id."""
    content = {k: v for k, v in manifest.items() if k not in _NOT_HASHED}
    return xxhash.xxh3_128_hexdigest(canonical_json(content))


def encode_schema(schema: pa.Schema) -> str:
    """Serialize an Arrow schema as base64 IPC (round-trips exactly, metadata included)."""
    return base64.b64encode(schema.serialize().to_pybytes()).decode("ascii")


def decode_schema(text: str, where: str) -> pa.Schema:
    """Inverse of :func:`encode_schema`; refuses text that is not a serialized schema."""
    try:
        return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(text, validate=True)))
    except (ValueError, pa.ArrowInvalid) as err:
        raise DatasetError(f"{where}: schema is not a base64 Arrow IPC schema ({err})") from None


def describe_columns(schema: pa.Schema) -> list[str]:
    """A readable ``name: type`` line per column, for people reading the manifest."""
    return [f"{f.name}: {f.type}{'' if f.nullable else ' not null'}" for f in schema]


def _check_keys(data: Any, keys: dict[str, type], where: str) -> None:
    if not isinstance(data, dict):
        raise DatasetError(f"{where}: expected an object, got {type(data).__name__}")
    for key, kind in keys.items():
        if key not in data:
            raise DatasetError(f"{where}.{key}: missing")
        value = data[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise DatasetError(f"{where}.{key}: expected {kind.__name__}, got {value!r:.60}")


def validate_manifest(manifest: Any, where: str) -> None:
    """Check the structure of a loaded manifest; raise DatasetError naming ``where`` (the
    manifest path) and the first bad key. Content (hashes, id) is checked by verify."""
    _check_keys(manifest, _TOP_KEYS, where)
    if manifest["format_version"] != FORMAT_VERSION:
        raise DatasetError(
            f"{where}: format_version {manifest['format_version']} is not supported "
            f"(this qsim reads {FORMAT_VERSION})"
        )
    parent = manifest.get("parent")
    if parent is not None and not isinstance(parent, str):
        raise DatasetError(f"{where}.parent: expected an id or null, got {parent!r:.60}")
    for tenant, tables in manifest["tenants"].items():
        if not isinstance(tables, dict):
            raise DatasetError(f"{where}.tenants.{tenant}: expected an object")
        for table, entry in tables.items():
            at = f"{where}.tenants.{tenant}.{table}"
            _check_keys(entry, _TABLE_KEYS, at)
            for i, file in enumerate(entry["files"]):
                _check_keys(file, _FILE_KEYS, f"{at}.files[{i}]")
                if file["path"].startswith("/") or ".." in file["path"].split("/"):
                    raise DatasetError(f"{at}.files[{i}].path: {file['path']!r} leaves the folder")


def read_manifest(text: bytes, where: str) -> dict[str, Any]:
    """Parse and validate manifest bytes read from ``where``."""
    try:
        manifest = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DatasetError(f"{where}: not valid JSON ({err})") from None
    validate_manifest(manifest, where)
    return manifest
