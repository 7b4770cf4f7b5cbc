"""The masking rules every output writer applies (simulator/results/masking.py): engine
error messages keep their class and shape but lose every value, DSN passwords never
survive, bidirectional controls are shown, not obeyed."""

from __future__ import annotations

import pytest

from simulator.results.masking import (
    mask_dsn,
    mask_error,
    mask_literals,
    mask_secrets,
    neutralize_bidi,
)

# Real messages: DuckDB 1.1.3 (captured from the runtime) and PostgreSQL 16.
MESSAGES = [
    (
        "Conversion Error: Could not convert string 'zq.mark@ex.com' to INT32\n"
        "LINE 1: select email::int + 1 from t where name = 'ZQXMARK7...\n"
        "                    ^",
        ("zq.mark", "ZQXMARK7"),
        "Conversion Error: Could not convert string '?' to INT32\n"
        "LINE 1: (statement text masked)",
    ),
    (
        'Conversion Error: date field value out of range: "ZQXMARK77", expected format is '
        "(YYYY-MM-DD)",
        ("ZQXMARK77",),
        'Conversion Error: date field value out of range: "?", expected format is (YYYY-MM-DD)',
    ),
    (
        'Constraint Error: Duplicate key "id: 918273" violates primary key constraint.',
        ("918273",),
        'Constraint Error: Duplicate key "?" violates primary key constraint.',
    ),
    (
        "Conversion Error: Type INT32 with value 918273 can't be cast because the value is "
        "out of range for the destination type INT8",
        ("918273",),
        "Conversion Error: Type INT32 with value ? can't be cast because the value is "
        "out of range for the destination type INT8",
    ),
    (
        'duplicate key value violates unique constraint "users_email_key"\n'
        "DETAIL:  Key (email)=(x.y@corp.example) already exists.",
        ("x.y@corp.example",),
        'duplicate key value violates unique constraint "users_email_key"\n'
        "DETAIL:  Key (email)=(?) already exists.",
    ),
    (
        'new row for relation "t" violates check constraint "c"\n'
        "DETAIL:  Failing row contains (7, secretname, 2024-01-02).",
        ("secretname", "2024-01-02"),
        'new row for relation "t" violates check constraint "c"\n'
        "DETAIL:  Failing row contains (?).",
    ),
    (
        'invalid input syntax for type integer: "zqx" (SQLSTATE 22P02)',
        ("zqx",),
        'invalid input syntax for type integer: "?" (SQLSTATE 22P02)',
    ),
    (
        "can't parse 'ab''c' near 3.25 at 2021-03-04 12:30:01 for "
        "0f8fad5b-d9cb-469f-a165-70867728950e and bob@x.org",
        ("ab", "3.25", "2021-03-04", "12:30", "0f8fad5b", "bob@x.org"),
        "can't parse '?' near ? at ? for ? and ?",
    ),
]


@pytest.mark.parametrize(("message", "values", "masked"), MESSAGES)
def test_error_messages_keep_their_shape_and_lose_every_value(
    message: str, values: tuple[str, ...], masked: str
) -> None:
    out = mask_error(message)
    assert out == masked
    for value in values:
        assert value not in out


def test_identifiers_and_error_words_stay() -> None:
    message = 'Binder Error: Referenced column "amount" not found in FROM clause! LINE 1'
    assert mask_error(message) == message
    assert mask_error("") == ""


@pytest.mark.parametrize(
    ("dsn", "secret"),
    [
        ("postgresql://qsim:s3cr3t-Pw@db.local:5432/app", "s3cr3t-Pw"),
        ("host=db user=qsim password=s3cr3t dbname=app", "s3cr3t"),
        ("host=db password = 'two words' dbname=app", "two words"),
        ("mysql://root:hunter2@10.0.0.1/x?sslmode=require", "hunter2"),
    ],
)
def test_dsn_passwords_are_masked(dsn: str, secret: str) -> None:
    out = mask_dsn(dsn)
    assert secret not in out
    assert "***" in out


def test_secrets_are_masked_in_nested_settings() -> None:
    settings = {
        "engines": {
            "pg": {"settings": {"dsn": "postgres://u:pw1@h/db", "password": "pw2", "port": 5}},
        },
        "list": ["password=pw3", {"api_key": "pw4"}],
    }
    text = repr(mask_secrets(settings))
    for secret in ("pw1", "pw2", "pw3", "pw4"):
        assert secret not in text
    assert mask_secrets(settings)["engines"]["pg"]["settings"]["port"] == 5


def test_bidi_controls_become_visible_markers() -> None:
    spoof = "accepted until \u202e2202-10-01\u202c by ops \u2066x\u2069\u200e\u200f\u061c"
    out = neutralize_bidi(spoof)
    assert not any(ch in out for ch in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
    assert "[U+202E]" in out
    assert "\u200e" not in out and "\u061c" not in out


def test_sql_literals_are_masked() -> None:
    assert mask_literals("SELECT a FROM t WHERE b = 'x' AND c > 3") == (
        "SELECT a FROM t WHERE b = ? AND c > ?"
    )


def test_an_error_naming_a_dsn_loses_its_password() -> None:
    message = 'connection to "postgresql://qsim:Zq-pw@db:5432/app" failed: password=Zq-pw'
    assert "Zq-pw" not in mask_error(message)
