"""``ResultChecksum``: the value qsim stores and compares for a result or a table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from simulator.canonical.spec import CANONICAL_VERSION, ChecksumInputError


@dataclass(frozen=True)
class ResultChecksum:
    """qsim's checksum of a result or table: compare two of them field by field."""

    row_count: int
    multiset: str
    ordered: str
    columns: tuple[str, ...]
    column_names: tuple[str, ...]
    column_types: tuple[str, ...]
    version: int = CANONICAL_VERSION

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; ``from_dict`` reads it back."""
        return {
            "version": self.version,
            "row_count": self.row_count,
            "multiset": self.multiset,
            "ordered": self.ordered,
            "columns": list(self.columns),
            "column_names": list(self.column_names),
            "column_types": list(self.column_types),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ResultChecksum:
        """Read back ``to_dict`` output; refuses (``ChecksumInputError``) a missing or
        mistyped field, naming it."""
        fields: dict[str, Any] = {}
        for key, kind in (("row_count", int), ("multiset", str), ("ordered", str)):
            if not isinstance(d.get(key), kind):
                raise ChecksumInputError(
                    f"checksum field {key!r} is missing or not {kind.__name__}"
                )
            fields[key] = d[key]
        for key in ("columns", "column_names", "column_types"):
            value = d.get(key)
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
                raise ChecksumInputError(
                    f"checksum field {key!r} is missing or not a list of strings"
                )
            fields[key] = tuple(value)
        version = d.get("version", CANONICAL_VERSION)
        if not isinstance(version, int):
            raise ChecksumInputError("checksum field 'version' is not int")
        return cls(version=version, **fields)


def _hex64(value: int | np.uint64) -> str:
    return f"{int(value) & 0xFFFFFFFFFFFFFFFF:016x}"
