import pytest

from simulator.engines.sql_names import check_table, quote_identifier


@pytest.mark.parametrize(
    ("name", "quoted"),
    [("events", '"events"'), ('we"ird', '"we""ird"'), ("Mixed Case", '"Mixed Case"')],
)
def test_quote_identifier(name, quoted):
    assert quote_identifier(name) == quoted


def test_check_table_accepts_a_known_table():
    check_table("sqlite", "events", ["customers", "events"])


def test_check_table_names_the_adapter_and_where():
    with pytest.raises(ValueError, match=r"^postgres adapter: no table 'x' in schema 's'$"):
        check_table("postgres", "x", ["events"], " in schema 's'")
