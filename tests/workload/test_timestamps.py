import math
from datetime import UTC, datetime

import pytest

from simulator.workload.timestamps import iso_utc, parse_timestamp

EPOCH = 1709251200.0  # 2024-03-01T00:00:00Z


@pytest.mark.parametrize(
    "value",
    [
        "2024-03-01T00:00:00Z",
        "2024-03-01T00:00:00.000Z",
        "2024-03-01 00:00:00",
        "2024-03-01 00:00:00 UTC",
        "2024-03-01T01:00:00+01:00",
        "2024-02-29T19:00:00-05:00",
        "2024-03-01",
        "1709251200",
        "1709251200000",
        1709251200,
        1709251200000,
        1709251200000000,
        datetime(2024, 3, 1, tzinfo=UTC),
    ],
)
def test_every_accepted_form_is_the_same_instant(value):
    assert parse_timestamp(value) == EPOCH


@pytest.mark.parametrize("value", ["yesterday", "", "2024-13-01", None, True, math.nan, [1]])
def test_unreadable_timestamps_raise_value_error(value):
    with pytest.raises(ValueError):
        parse_timestamp(value)


def test_iso_utc_round_trips_milliseconds():
    assert iso_utc(EPOCH + 0.25) == "2024-03-01T00:00:00.250Z"
    assert parse_timestamp(iso_utc(EPOCH + 0.25)) == EPOCH + 0.25
