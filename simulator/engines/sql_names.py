"""Table names as the adapters spell them in SQL: a quoted identifier, and the one refusal
of a table the engine does not have.

Imported inside engine runtimes: standard library only.
"""

from __future__ import annotations

from collections.abc import Iterable


def quote_identifier(name: str) -> str:
    """``name`` as a standard SQL delimited identifier: in double quotes, inner quotes doubled."""
    return '"' + name.replace('"', '""') + '"'


def check_table(adapter: str, name: str, tables: Iterable[str], where: str = "") -> None:
    """Refuse (ValueError naming the adapter) a table ``name`` that is not in ``tables``.

    ``where`` ends the message, e.g. ``" in schema 'qsim_1'"``.
    """
    if name not in tables:
        raise ValueError(f"{adapter} adapter: no table {name!r}{where}")
