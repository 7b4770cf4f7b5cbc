import pytest

from simulator.workload.readers.trino_events import trino_duration_ms


@pytest.mark.parametrize(
    ("value", "ms"),
    [
        (1.5, 1500.0),
        (0, 0.0),
        ("PT1.5S", 1500.0),
        ("PT2M3S", 123000.0),
        ("PT1H", 3600000.0),
        ("1.50s", 1500.0),
        ("15.00ms", 15.0),
        ("250us", 0.25),
        ("2.00m", 120000.0),
    ],
)
def test_trino_durations_in_milliseconds(value, ms):
    assert trino_duration_ms(value) == pytest.approx(ms)


@pytest.mark.parametrize("value", ["PT", "fast", "", None, True, "1.5 parsecs"])
def test_unreadable_durations_raise(value):
    with pytest.raises(ValueError):
        trino_duration_ms(value)
