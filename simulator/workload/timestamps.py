"""Timestamp parsing for query logs: every accepted form becomes UTC epoch seconds."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

# Epoch numbers above this are milliseconds (year 2286 in seconds), above MICROS microseconds.
_MILLIS = 1e10
_MICROS = 1e13
_ZONE_SUFFIX = re.compile(r"\s*(?:UTC|GMT|Z)$", re.IGNORECASE)
_NUMERIC = re.compile(r"^-?\d+(?:\.\d+)?$")


def parse_timestamp(value: object) -> float:
    """Return ``value`` as UTC epoch seconds.

    Accepts epoch seconds, milliseconds or microseconds (number or numeric string), ISO 8601
    with ``T`` or a space, with ``Z``/``UTC``/``GMT`` or a ``+hh:mm`` offset (naive means
    UTC), and ``datetime`` objects. Raises ValueError for anything else, including NaN.
    """
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not a timestamp: {value!r}")
    if isinstance(value, int | float):
        return _from_number(float(value))
    if isinstance(value, datetime):
        return _from_datetime(value)
    if not isinstance(value, str):
        raise ValueError(f"not a timestamp: {type(value).__name__}")
    text = value.strip()
    try:
        # Fast path: ISO 8601 as most logs write it (Python 3.11 accepts a trailing Z).
        return _from_datetime(datetime.fromisoformat(text))
    except ValueError:
        pass
    if _NUMERIC.match(text):
        return _from_number(float(text))
    has_zone_word = bool(_ZONE_SUFFIX.search(text))
    text = _ZONE_SUFFIX.sub("", text)
    if has_zone_word:
        text += "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"unrecognized timestamp {value[:60]!r}") from None
    return _from_datetime(parsed)


def _from_number(number: float) -> float:
    if not math.isfinite(number):
        raise ValueError(f"not a finite timestamp: {number}")
    if abs(number) >= _MICROS:
        return number / 1e6
    if abs(number) >= _MILLIS:
        return number / 1e3
    return number


def _from_datetime(moment: datetime) -> float:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def iso_utc(epoch_s: float) -> str:
    """Return epoch seconds as an ISO 8601 UTC string with milliseconds and ``Z``."""
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"
