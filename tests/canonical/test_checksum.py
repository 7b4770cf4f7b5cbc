"""The ``ResultChecksum`` value (``simulator.canonical.checksum``): its fields and its
dict round trip."""

from __future__ import annotations

import pytest
from canonical_helpers import mixed_table

from simulator.canonical import (
    CANONICAL_VERSION,
    ChecksumInputError,
    ResultChecksum,
    checksum_table,
)

# --- result checksums -------------------------------------------------------------------


def test_checksum_fields_and_round_trip():
    table = mixed_table(100)
    result = checksum_table(table)
    assert result.row_count == 100
    assert len(result.multiset) == 32 and len(result.ordered) == 32
    assert len(result.columns) == 4
    assert result.column_names == ("i", "f", "s", "t")
    assert result.column_types == ("int", "float", "string", "timestamptz")
    assert result.version == CANONICAL_VERSION
    assert ResultChecksum.from_dict(result.to_dict()) == result


def test_from_dict_refuses_a_bad_field_naming_it():
    bad = checksum_table(mixed_table(3)).to_dict()
    del bad["multiset"]
    with pytest.raises(ChecksumInputError, match="'multiset'"):
        ResultChecksum.from_dict(bad)
