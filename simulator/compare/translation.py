"""Is a candidate's error a translation problem? Parse and binder failures, as data.

When the candidate ran SQL that sqlglot rendered differently from the baseline's (another
dialect) and the engine refused it while parsing or binding it (a syntax error, an unknown
function, column or table), the cause may be qsim's translation rather than the engine: the
``candidate_error`` gets the reason ``translation_suspect`` and the engine's error class in
its evidence. Other errors (a division by zero, a cast failure at run time, a crash) and
errors on the same SQL text the baseline ran keep their error class as the reason.
"""

from __future__ import annotations

import re

# Error classes (``type(err).__name__`` in the worker) that only parsing or binding raises.
PARSE_OR_BIND_CLASSES = frozenset(
    {
        # DuckDB
        "ParserException",
        "BinderException",
        "CatalogException",
        # PostgreSQL (psycopg)
        "SyntaxError",
        "UndefinedFunction",
        "UndefinedColumn",
        "UndefinedTable",
        "UndefinedObject",
        "AmbiguousColumn",
        "AmbiguousFunction",
        "GroupingError",
        "InvalidColumnReference",
    }
)
# Messages of engines whose error class is generic (SQLite's OperationalError, DataFusion's
# Exception) that say the statement failed to parse or bind.
PARSE_OR_BIND_MESSAGES = re.compile(
    r"syntax error|no such (function|column|table)|misuse of|"
    r"SQL error: ParserError|Error during planning|Schema error|Invalid function|"
    r"This feature is not implemented",
    re.IGNORECASE,
)


def parse_or_bind_failure(error_class: str, error_message: str) -> bool:
    """True when an engine error says the statement failed to parse or bind."""
    return error_class in PARSE_OR_BIND_CLASSES or bool(
        PARSE_OR_BIND_MESSAGES.search(error_message or "")
    )
