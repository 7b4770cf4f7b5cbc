"""What qsim may write about customer data: the one masking module of every output.

qsim promises that its outputs (the run folder's records, report.html, summary.json,
junit.xml, the history database, the CLI) never show customer values unless the operator
asks for a bounded diff sample (``report.diff_sample_rows > 0``), and then says so. This
module holds the rules every writer applies:

- :func:`mask_error`: an engine error message with every quoted literal and every
  value-bearing fragment (numbers, dates, e-mail addresses, UUIDs, PostgreSQL ``Key
  (col)=(value)`` details, DuckDB ``LINE 1: ...`` statement context) replaced by ``?``;
  the error's words, identifiers and shape stay so a reader still recognizes the error.
- :func:`mask_secrets`: passwords in DSNs (``user:password@host`` URLs, ``password=``
  keywords) and values of secret-named keys, in any JSON-like value, become ``***``.
- :func:`neutralize_bidi`: bidirectional-control characters (which reorder the text
  after them on screen, a display spoof) become a visible ``[U+202E]`` marker.
- :func:`mask_literals`: SQL with its literals replaced by ``?`` (``report.mask_literals``).

It lives in ``results`` (the run folder's owner) so the store, the comparison, the runner
and the report all reach it without importing a later stage.
"""

from __future__ import annotations

import re
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

MASK = "?"
SECRET_MASK = "***"

# U+061C, U+200E/F, U+202A-202E, U+2066-2069: the characters that reorder displayed text.
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_BIDI = re.compile(f"[{BIDI_CONTROLS}]")

# Fallback for SQL sqlglot cannot parse: quoted strings, then standalone numbers.
_SQL_STRING = re.compile(r"'(?:[^']|'')*'")
_SQL_NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w.])")

# Engine error messages. Order matters: statement context first (it may hold anything),
# then fragments that contain digits or quotes themselves, then quotes, then numbers.
_CONTEXT = re.compile(r"(?m)^(\s*LINE \d+:).*$")
_CARET = re.compile(r"\n[ \t]*\^[ \t]*(?=\n|$)")
_KEY_DETAIL = re.compile(r"=\((?:[^()]|\([^()]*\))*\)")
_FAILING_ROW = re.compile(r"(Failing row contains )\((?:[^()]|\([^()]*\))*\)")
_EMAIL = re.compile(r"[\w.%+-]+@[\w-]+(?:\.[\w-]+)+")
_UUID = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")
_DATETIME = re.compile(
    r"\b\d{4}-\d{1,2}-\d{1,2}(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[+-]\d{2}(?::?\d{2})?)?)?"
)
_TIME = re.compile(r"\b\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\b")
# An opening quote never follows a letter: "can't" is a contraction, not a literal.
_SINGLE = re.compile(r"(?<![A-Za-z])'(?:[^'\\]|\\.|'')*'")
_IDENTIFIER = re.compile(r"[A-Za-z_][\w$]*(?:\.[A-Za-z_][\w$]*)*")
_DOUBLE = re.compile(r'(:\s*)?"((?:[^"\\]|\\.|"")*)"')
# Numbers that name the error, not the data: SQLSTATE codes, line and position markers.
_KEPT_NUMBER = re.compile(
    r"(?i)\b(?:sqlstate|code|errno|line|position|character|col(?:umn)?)\s*[:=]?\s*$"
)
_NUMBER = re.compile(r"(?<![\w.?])[-+]?\d+(?:[.,]\d+)*(?:[eE][-+]?\d+)?(?![\w])")

# DSNs and connection settings.
_URL_PASSWORD = re.compile(r"(?i)([a-z][a-z0-9+.-]*://[^:/@\s]*:)([^@\s]*)(@)")
_KEYWORD_PASSWORD = re.compile(
    r"(?i)\b((?:password|passwd|pwd|secret|token|api_key|apikey)\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)"
)
_SECRET_KEYS = re.compile(r"(?i)(password|passwd|pwd|secret|token|api_?key|credential)")


def neutralize_bidi(text: str) -> str:
    """``text`` with every bidirectional-control character shown by its code point, e.g.
    U+202E as ``[U+202E]``, so it cannot reverse the text after it."""
    return _BIDI.sub(lambda m: f"[U+{ord(m.group()):04X}]", text)


def _double_quoted(match: re.Match[str]) -> str:
    """Keep a double-quoted identifier (a column or table name); mask a quoted value,
    which PostgreSQL writes after a colon and DuckDB writes with spaces or digits in it."""
    colon, inner = match.group(1) or "", match.group(2)
    if not colon and _IDENTIFIER.fullmatch(inner):
        return match.group()
    return f'{colon}"{MASK}"'


def _number(text: str, match: re.Match[str]) -> str:
    if _KEPT_NUMBER.search(text[max(0, match.start() - 24) : match.start()]):
        return match.group()
    return MASK


def mask_error(message: str) -> str:
    """An engine error message with customer values masked (see the module docstring).

    The class and shape of the message stay: "Could not convert string 'x@y.z' to INT32"
    becomes "Could not convert string '?' to INT32". Never raises.
    """
    if not message:
        return message
    text = mask_dsn(message)
    text = _CONTEXT.sub(r"\1 (statement text masked)", text)
    text = _CARET.sub("", text)
    text = _FAILING_ROW.sub(rf"\1({MASK})", text)
    text = _KEY_DETAIL.sub(f"=({MASK})", text)
    text = _SINGLE.sub(f"'{MASK}'", text)
    text = _DOUBLE.sub(_double_quoted, text)
    for pattern in (_EMAIL, _UUID, _DATETIME, _TIME):
        text = pattern.sub(MASK, text)
    text = _NUMBER.sub(lambda m: _number(text, m), text)
    return neutralize_bidi(text)


# Keys of run-folder records whose text may quote customer values (engine messages and
# the verdict reasons and notes built from them), at any depth.
VALUE_TEXT_KEYS = frozenset({"error_message", "reason", "engine_notes", "message"})


def mask_record(record: Any) -> Any:
    """A copy of a JSON-like run-folder record with :func:`mask_error` applied to the text
    under every key of :data:`VALUE_TEXT_KEYS` (strings, or lists of strings), at any depth."""
    if isinstance(record, dict):
        return {
            k: _mask_text_value(v) if k in VALUE_TEXT_KEYS else mask_record(v)
            for k, v in record.items()
        }
    if isinstance(record, list):
        return [mask_record(v) for v in record]
    return record


def _mask_text_value(value: Any) -> Any:
    if isinstance(value, str):
        return mask_error(value)
    if isinstance(value, list):
        return [_mask_text_value(v) for v in value]
    return mask_record(value)


def raw_values_allowed(config: dict[str, Any]) -> bool:
    """True when the run's raw config opted in to customer values in its outputs
    (``report.diff_sample_rows > 0``); only then is engine text written unmasked."""
    report = config.get("report") if isinstance(config, dict) else None
    rows = report.get("diff_sample_rows", 0) if isinstance(report, dict) else 0
    return isinstance(rows, int) and rows > 0


def mask_dsn(text: str) -> str:
    """``text`` with the password of every DSN in it replaced by ``***``: the
    ``user:password@host`` part of URLs and ``password=...`` keywords."""
    text = _URL_PASSWORD.sub(rf"\g<1>{SECRET_MASK}\g<3>", text)
    return _KEYWORD_PASSWORD.sub(rf"\g<1>{SECRET_MASK}", text)


def mask_secrets(value: Any) -> Any:
    """A copy of a JSON-like ``value`` with DSN passwords masked in every string and the
    value of every secret-named key (password, token, secret, api_key ...) replaced."""
    if isinstance(value, str):
        return mask_dsn(value)
    if isinstance(value, dict):
        return {
            k: SECRET_MASK
            if isinstance(k, str) and _SECRET_KEYS.search(k) and v not in (None, "")
            else mask_secrets(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [mask_secrets(v) for v in value]
    return value


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
        return _SQL_NUMBER.sub(MASK, _SQL_STRING.sub(MASK, sql))
