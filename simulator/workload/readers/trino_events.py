"""Trino query-completed events (the event listener's JSON, one event per line).

The reader is the JSON Lines reader; this module supplies the default field mapping onto
the event's nested keys and the conversion of Trino duration values.
"""

from __future__ import annotations

import re

TRINO_MAPPING = {
    "query_id": "metadata.queryId",
    "sql": "metadata.query",
    "tenant": "context.schema",
    "submitted_at": "createTime",
    "duration_ms": "statistics.wallTime",
    "user": "context.user",
    "source": "context.source",
    "status": "metadata.queryState",
    "dialect": "",
    "pipeline": "",
}

_ISO_DURATION = re.compile(
    r"^PT(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?$"
)
_AIRLIFT_DURATION = re.compile(r"^(?P<v>\d+(?:\.\d+)?)\s*(?P<u>ns|us|ms|s|m|h|d)$")
_UNIT_MS = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4, "h": 3.6e6, "d": 8.64e7}


def trino_duration_ms(value: object) -> float:
    """Return a Trino duration in milliseconds: a number of seconds (Jackson's default for
    ``java.time.Duration``), an ISO 8601 ``PT1.5S`` string or an airlift ``1.50s`` string.
    Raises ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        return float(value) * 1e3
    if isinstance(value, str):
        text = value.strip()
        match = _ISO_DURATION.match(text)
        if match and any(match.groupdict().values()):
            parts = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
            return (parts["h"] * 3600 + parts["m"] * 60 + parts["s"]) * 1e3
        match = _AIRLIFT_DURATION.match(text)
        if match:
            return float(match["v"]) * _UNIT_MS[match["u"]]
    raise ValueError(f"not a duration: {str(value)[:40]!r}")
