"""Literal masking for SQL shown in reports (``report.mask_literals``): every string,
number and date literal becomes ``?`` so a reader sees the query's shape, not customer
values."""

from __future__ import annotations

import re

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

# Fallback for SQL sqlglot cannot parse: quoted strings, then standalone numbers.
_STRING = re.compile(r"'(?:[^']|'')*'")
_NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w.])")


def mask_literals(sql: str, dialect: str = "") -> str:
    """Return ``sql`` with literals replaced by ``?``; never raises on unparseable SQL."""
    try:
        statements = sqlglot.parse(sql, read=dialect or None)
        masked = [
            s.transform(lambda n: exp.Placeholder() if isinstance(n, exp.Literal) else n).sql(
                dialect=dialect or None
            )
            for s in statements
            if s is not None
        ]
        return ";\n".join(masked)
    except (SqlglotError, ValueError):
        return _NUMBER.sub("?", _STRING.sub("?", sql))
