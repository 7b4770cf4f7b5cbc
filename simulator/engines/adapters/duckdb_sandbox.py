"""The DuckDB statement guard: what replayed SQL may run once a DuckDB worker is sealed.

DuckDB's own switch (``enable_external_access = false``) is checked by each file-reading
function, so a function that forgets the check escapes it (``sniff_csv`` on 0.10 reads any
file), and ``allowed_paths`` (>= 1.3) lets COPY overwrite the generation files a view may
read. The guard therefore does not list what is refused: it lets through only

- statements whose kind (as DuckDB's parser reports it) *and* leading keyword are on an
  allow-list (SELECT, INSERT, UPDATE, DELETE, MERGE, CREATE of a table/view/macro/sequence/
  type/index/schema, DROP, ALTER, transactions, VACUUM/ANALYZE, EXPLAIN, PREPARE, EXECUTE);
  the statement inside EXPLAIN [ANALYZE] and PREPARE is checked the same way, recursively;
- table functions on an allow-list (``range``, ``unnest``, catalog introspection); the
  file readers (``read_*``, ``sniff_csv``, ``glob``, ``parquet_*``) only when every argument
  is a string literal naming one of the tenant's own table files;
- no file named where a table is (``FROM '/etc/passwd'``, ``TABLE "/etc/passwd"``,
  ``PIVOT``/``DESCRIBE``/``SUMMARIZE`` of a path). A path later in a FROM list
  (``FROM t, '/x'``) is left to the engine: with external access off DuckDB makes no
  replacement scan at all, on every supported release (tested).

Scalar and aggregate functions are not restricted: none of the ones the bundled extensions
(core, parquet, json, icu) define reaches a file, and no other extension can be loaded.

It works on DuckDB's own tokens (``duckdb.tokenize``) and statement splitter
(``extract_statements``), which every supported release (0.10 ..) has, inside the engine's
runtime: the same parser that will run the statement decides what it is, so no second SQL
grammar (sqlglot is not in the runtime) can disagree with it. Macro bodies, CTEs and
subqueries are covered because every token of a statement is checked, whatever nests it;
a macro's body is checked when it is created. Anything the guard cannot read (an unparsable
inner statement, a string literal it cannot decode) is refused.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import Any

import duckdb

ALLOWED_KINDS = frozenset(
    {
        "SELECT",
        "INSERT",
        "UPDATE",
        "DELETE",
        "MERGE_INTO",
        "CREATE",
        "DROP",
        "ALTER",
        "TRANSACTION",
        "VACUUM",
        "EXPLAIN",
        "PREPARE",
        "EXECUTE",
        "MULTI",  # PIVOT on 2.x (a CREATE TYPE and a SELECT)
    }
)
# The Python enum of a release may misname a kind (2.0.1 reports COPY FROM DATABASE as
# PRAGMA, 0.10 reports PRAGMA as SELECT), so the first keyword must be allowed too.
ALLOWED_LEADING = frozenset(
    {
        "select", "with", "from", "values", "table", "(", "show", "describe", "summarize",
        "pivot", "unpivot", "insert", "update", "delete", "merge", "create", "drop",
        "deallocate", "alter", "begin", "start", "commit", "end", "rollback", "abort",
        "vacuum", "analyze", "explain", "prepare", "execute",
    }
)  # fmt: skip
CREATE_MODIFIERS = frozenset({"or", "replace", "temp", "temporary"})
CREATABLE = frozenset(
    {"table", "view", "macro", "function", "sequence", "type", "index", "unique", "schema"}
)
SAFE_TABLE_FUNCTIONS = frozenset(
    {
        "range", "generate_series", "unnest", "repeat", "repeat_row", "json_each",
        "json_tree", "test_all_types", "duckdb_tables", "duckdb_columns", "duckdb_views",
        "duckdb_schemas", "duckdb_types", "duckdb_functions", "duckdb_indexes",
        "duckdb_constraints", "duckdb_sequences", "duckdb_keywords", "duckdb_settings",
        "duckdb_databases", "duckdb_dependencies", "duckdb_temporary_files",
        "pragma_table_info", "pragma_show", "pragma_version", "pragma_database_size",
        "pragma_storage_info",
    }
)  # fmt: skip
FILE_READERS = frozenset(
    {
        "read_csv", "read_csv_auto", "sniff_csv", "read_parquet", "parquet_scan",
        "read_json", "read_json_auto", "read_ndjson", "read_ndjson_auto", "read_json_objects",
        "read_json_objects_auto", "read_ndjson_objects", "parquet_metadata", "parquet_schema",
        "parquet_file_metadata", "parquet_kv_metadata", "parquet_bloom_probe", "read_text",
        "read_blob", "glob",
    }
)  # fmt: skip
# Options a file reader may take, with a constant value: none of them names a file.
READER_OPTIONS = frozenset(
    {"hive_partitioning", "hive_types_autocast", "union_by_name", "binary_as_string",
     "filename", "file_row_number"}
)  # fmt: skip
READER_TOKENS = frozenset({",", "[", "]", "=", ":=", "true", "false"})
# Keywords a table reference follows, where DuckDB takes a string as a file to scan.
TABLE_POSITIONS = frozenset(
    {"from", "join", "table", "pivot", "unpivot", "describe", "summarize", "show"}
)
MIN_RELEASE = (0, 10)
IDENTIFIER = re.compile(r'"((?:[^"]|"")*)"|([A-Za-z_][A-Za-z0-9_$]*)')
COMMENT = re.compile(r"/\*.*?\*/|--[^\n]*", re.DOTALL)
STRING = re.compile(r"[eE]?'((?:[^']|'')*)'|\$([A-Za-z_]*)\$(.*?)\$\2\$", re.DOTALL)


class SandboxViolation(Exception):
    """A statement the sandbox refuses before it reaches the engine."""


def check_release(version: str) -> None:
    """Refuse (``SandboxViolation``, one line) a DuckDB release the guard cannot protect:
    older than 0.10, or without the tokenizer and statement splitter it relies on."""
    numbers = tuple(int(part) for part in re.findall(r"\d+", version)[:2])
    if numbers < MIN_RELEASE or not hasattr(duckdb, "tokenize"):
        raise SandboxViolation(
            f"DuckDB {version} cannot be sandboxed by qsim (needs >= 0.10 with "
            "duckdb.tokenize); declare a newer release"
        )


class Token:
    """One DuckDB token: its kind (``keyword``, ``identifier``, ``string_const``...) and
    its text (an identifier unquoted, a keyword or operator lower-cased, a string decoded;
    ``None`` when it cannot be decoded)."""

    __slots__ = ("kind", "text")

    def __init__(self, kind: str, raw: str) -> None:
        self.kind = kind
        self.text: str | None
        if kind == "string_const":
            string = STRING.match(raw)
            if string is None:
                self.text = None
            elif string.group(3) is not None:
                self.text = string.group(3)
            else:
                self.text = string.group(1).replace("''", "'")
            return
        # Before 1.x comments are no tokens: they trail the token before them.
        bare = COMMENT.sub(" ", raw).strip()
        identifier = IDENTIFIER.match(bare) if kind == "identifier" else None
        if identifier is None:
            self.text = bare.lower()
        elif identifier.group(1) is not None:
            self.text = identifier.group(1).replace('""', '"').lower()
        else:
            self.text = identifier.group(2).lower()


def tokens(sql: str) -> list[Token]:
    """``sql`` as DuckDB's tokenizer splits it, comments dropped."""
    spans = duckdb.tokenize(sql)
    found = []
    for index, (start, kind) in enumerate(spans):
        end = spans[index + 1][0] if index + 1 < len(spans) else len(sql)
        name = getattr(kind, "name", str(kind)).split(".")[-1]
        if name != "comment":
            found.append(Token(name, sql[start:end]))
    return found


class StatementGuard:
    """Checks each statement against the allow-lists before it reaches ``con``."""

    def __init__(self, con: Any, own_files: Iterable[str]) -> None:
        self.con = con
        self.own_files = {os.path.normpath(path) for path in own_files}
        rows = con.execute("SELECT DISTINCT function_name, function_type FROM duckdb_functions()")
        self.table_functions = {name.lower() for name, kind in rows.fetchall() if "table" in kind}

    def check(self, kind: str, sql: str) -> None:
        """Raise ``SandboxViolation`` unless ``sql`` (one statement of kind ``kind``) and
        every statement nested in it is allowed."""
        found = tokens(sql)
        if not found:
            raise SandboxViolation("empty statement")
        leading = found[0].text or ""
        if kind not in ALLOWED_KINDS or leading not in ALLOWED_LEADING:
            raise SandboxViolation(f"{kind} statements are not allowed in the sandbox")
        if leading == "create":
            self._check_create(found)
        self._check_calls(found)
        if leading in ("explain", "prepare"):
            self._check_inner(self._inner(found, sql))

    def _check_create(self, found: list[Token]) -> None:
        index = 1
        while index < len(found) and found[index].text in CREATE_MODIFIERS:
            index += 1
        what = found[index].text if index < len(found) else ""
        if what not in CREATABLE:
            raise SandboxViolation(f"CREATE {(what or '').upper()} is not allowed in the sandbox")

    def _inner(self, found: list[Token], sql: str) -> str:
        """The statement an EXPLAIN [ANALYZE] (options) or PREPARE name [(types)] AS wraps."""
        spans = [start for start, kind in duckdb.tokenize(sql) if "comment" not in str(kind)]
        depth, index = 0, 1
        if found[0].text == "explain":
            while index < len(found) and (
                depth or found[index].text in ("analyze", "analyse", "(")
            ):
                depth += {"(": 1, ")": -1}.get(found[index].text or "", 0)
                index += 1
        else:
            while index < len(found) and not (depth == 0 and found[index].text == "as"):
                depth += {"(": 1, ")": -1}.get(found[index].text or "", 0)
                index += 1
            index += 1
        if index >= len(found):
            raise SandboxViolation("a wrapped statement the sandbox cannot read")
        return sql[spans[index] :]

    def _check_inner(self, sql: str) -> None:
        try:
            inner = self.con.extract_statements(sql)
        except duckdb.Error as err:
            raise SandboxViolation("a wrapped statement the sandbox cannot read") from err
        if len(inner) != 1:
            raise SandboxViolation("a wrapped statement must be one statement")
        self.check(inner[0].type.name, inner[0].query)

    def _check_calls(self, found: list[Token]) -> None:
        for index, token in enumerate(found):
            after = found[index + 1].text if index + 1 < len(found) else None
            before = found[index - 1].text if index else None
            if before in TABLE_POSITIONS and (
                token.kind == "string_const" or "/" in (token.text or "/")
            ):
                raise SandboxViolation("a file or URL as a table is not allowed in the sandbox")
            if after != "(" or token.kind not in ("identifier", "keyword"):
                continue
            name = token.text or ""
            if name in FILE_READERS:
                self._check_paths(name, found, index + 2)
            elif name in self.table_functions and name not in SAFE_TABLE_FUNCTIONS:
                raise SandboxViolation(f"table function {name} is not allowed in the sandbox")

    def _check_paths(self, name: str, found: list[Token], start: int) -> None:
        """Allow ``name(...)`` only when its arguments are literals naming own files."""
        depth, index, paths = 1, start, 0
        while index < len(found) and depth:
            token = found[index]
            text = token.text
            if text in ("(", ")"):
                depth += 1 if text == "(" else -1
            elif token.kind == "string_const":
                if text is None or os.path.normpath(text) not in self.own_files:
                    raise SandboxViolation(f"{name} may read only the tenant's own table files")
                paths += 1
            elif not (
                text in READER_OPTIONS or token.kind == "numeric_const" or text in READER_TOKENS
            ):
                raise SandboxViolation(f"{name} arguments must be literal paths of own tables")
            index += 1
        if not paths:
            raise SandboxViolation(f"{name} may read only the tenant's own table files")
