"""simulator/datasets/manifest.py: content ids, schema round trips, refusing bad manifests."""

from __future__ import annotations

import copy
import json

import pyarrow as pa
import pytest

from simulator.datasets.manifest import (
    decode_schema,
    encode_schema,
    manifest_id,
    read_manifest,
    validate_manifest,
)
from simulator.datasets.store import Generation
from simulator.errors import DatasetError


def test_id_ignores_created_at_and_id_but_not_content(world: Generation) -> None:
    manifest = copy.deepcopy(world.manifest)
    assert manifest_id(manifest) == world.id
    manifest["created_at"] = "1999-01-01T00:00:00Z"
    manifest["id"] = "0" * 32
    assert manifest_id(manifest) == world.id
    manifest["tenants"]["t01"]["orders"]["row_count"] += 1
    assert manifest_id(manifest) != world.id
    assert len(world.id) == 32 and int(world.id, 16) >= 0


def test_schema_round_trips_exactly() -> None:
    schema = pa.schema(
        [
            pa.field("id", pa.int64(), nullable=False),
            ("at", pa.timestamp("us", tz="America/New_York")),
            ("amount", pa.decimal128(18, 2)),
            ("tags", pa.list_(pa.string())),
            ("m", pa.map_(pa.string(), pa.struct([("x", pa.float32())]))),
        ],
        metadata={"origin": "test"},
    )
    back = decode_schema(encode_schema(schema), "m.json")
    assert back.equals(schema, check_metadata=True)


def test_decode_refuses_garbage() -> None:
    with pytest.raises(DatasetError, match=r"^m\.json: schema is not a base64 Arrow IPC schema"):
        decode_schema("not base64!", "m.json")


def test_read_manifest_refuses_invalid_json() -> None:
    with pytest.raises(DatasetError, match=r"^gen/manifest\.json: not valid JSON \("):
        read_manifest(b"{", "gen/manifest.json")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m.pop("tenants"), "m.json.tenants: missing"),
        (
            lambda m: m.update(format_version=9),
            "m.json: format_version 9 is not supported (this qsim reads 1)",
        ),
        (
            lambda m: m["tenants"]["t01"]["orders"].update(row_count="12"),
            "m.json.tenants.t01.orders.row_count: expected int, got '12'",
        ),
        (
            lambda m: m["tenants"]["t01"]["orders"]["files"][0].update(path="../../etc/passwd"),
            "m.json.tenants.t01.orders.files[0].path: '../../etc/passwd' leaves the folder",
        ),
        (lambda m: m.update(parent=5), "m.json.parent: expected an id or null, got 5"),
    ],
)
def test_validate_names_the_first_bad_key(world: Generation, edit, message: str) -> None:
    manifest = json.loads(json.dumps(world.manifest))
    edit(manifest)
    with pytest.raises(DatasetError) as info:
        validate_manifest(manifest, "m.json")
    assert str(info.value) == message
