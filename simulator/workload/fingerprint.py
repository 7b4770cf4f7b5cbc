"""Pattern fingerprints and the cached analysis of query texts.

A pattern id is the xxh3-64 (16 hex chars) of the statement's sqlglot AST rendered after
abstracting literals (numbers, strings, dates, IN-lists of any length) and lower-casing
identifiers; comments and whitespace never reach the AST. Positional ORDER BY / GROUP BY
ordinals and type parameters are structure, not literals, and are kept.

Analysis is cached at two levels so a log with few distinct shapes is cheap:
exact text (xxh3 of whitespace-normalized text) -> shape key -> one sqlglot parse,
classification and fingerprint per shape key.

The shape key is the token stream with comments and whitespace dropped and only the
literals that are surely plain values masked: a string or number right after a comparison,
arithmetic, LIKE, BETWEEN/AND or CASE keyword, or inside an IN-list (which collapses).
Everything else stays verbatim: LIMIT values, ORDER/GROUP BY ordinals, type parameters,
function arguments such as ``date_trunc('hour', ...)`` or JSON paths, which sqlglot may
turn into structure. So every text of one shape key has the same AST up to abstracted
literals, hence the same pattern id and classification, whichever text came first.
Dialects whose strings have no backslash escapes are scanned with one regular expression;
others with sqlglot's tokenizer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import xxhash
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import SqlglotError
from sqlglot.tokens import Token, TokenType

from simulator.workload.classify import Classification, classify, parse_statement, unparseable
from simulator.workload.normalized import normalize_text, text_hash

_STRING_TOKENS = frozenset(
    {
        TokenType.STRING,
        TokenType.NATIONAL_STRING,
        TokenType.HEX_STRING,
        TokenType.BIT_STRING,
        TokenType.BYTE_STRING,
        TokenType.RAW_STRING,
        TokenType.HEREDOC_STRING,
        TokenType.UNICODE_STRING,
    }
)
# A literal right after one of these is a value, never structure.
_MASK_AFTER = frozenset(
    {"=", "==", "<>", "!=", "<", ">", "<=", ">=", "+", "-", "*", "/", "%", "||"}
    | {"LIKE", "ILIKE", "BETWEEN", "AND", "WHEN", "THEN", "ELSE"}
)
# Dialects where a backslash never escapes a quote in '...' (so the regex scan is exact).
_REGEX_DIALECTS = frozenset({"trino", "presto", "athena", "duckdb", "sqlite", "postgres"})
_TOKEN = re.compile(
    r"""(?P<ws>\s+)
      | (?P<comment>--[^\n]*|/\*.*?\*/)
      | (?P<str>'(?:[^']|'')*')
      | (?P<qid>"(?:[^"]|"")*"|`[^`]*`)
      | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
      | (?P<word>\w+)
      | (?P<op><>|!=|<=|>=|==|\|\||.)""",
    re.S | re.X,
)


# Hard bounds on what is parsed, whatever ``workload.ingest.max_sql_bytes`` allows: past
# them a statement is classified unparseable ("too large to analyze") before sqlglot sees
# it. Analysis is linear in tokens (~25 us a token); these keep one statement under about
# 3 s and 400 MB (benchmarks/RESULTS.md, "Oversized SQL").
MAX_ANALYZED_CHARS = 4 * 1024 * 1024
MAX_ANALYZED_TOKENS = 100_000


def too_large_to_analyze(sql: str) -> str:
    """Why ``sql`` is past the analysis bounds, or "" when it is within them. Counts
    tokens with the plain-SQL scanner and stops at the bound, so the check itself is cheap."""
    if len(sql) > MAX_ANALYZED_CHARS:
        return f"statement too large to analyze: {len(sql)} characters > {MAX_ANALYZED_CHARS}"
    tokens = 0
    for match in _TOKEN.finditer(sql):
        if match.lastgroup not in ("ws", "comment"):
            tokens += 1
            if tokens > MAX_ANALYZED_TOKENS:
                return f"statement too large to analyze: more than {MAX_ANALYZED_TOKENS} tokens"
    return ""


@dataclass(frozen=True)
class Analysis:
    """A text's pattern id and classification."""

    pattern_id: str
    classification: Classification


def fingerprint(tree: exp.Expression) -> str:
    """Return the pattern id of a parsed statement. The tree is modified in place (callers
    classify first)."""
    for node in list(tree.walk()):
        if isinstance(node, exp.Literal) and not _is_structural(node):
            target: exp.Expression = node
            if isinstance(node.parent, exp.Neg):
                target = node.parent
            _swap(target, exp.Placeholder())
        elif isinstance(node, exp.Identifier):
            node.set("this", node.name.lower())
            node.set("quoted", False)
    for node in list(tree.find_all(exp.In, exp.Tuple, exp.Array)):
        items = node.expressions
        if len(items) > 1 and all(isinstance(i, exp.Placeholder) for i in items):
            node.set("expressions", [exp.Placeholder()])
    return _hex(tree.sql(comments=False))


def _swap(node: exp.Expression, new: exp.Expression) -> None:
    """``node.replace(new)`` in constant time: sqlglot's replace of a list item re-parents
    the whole list, which made fingerprinting a statement of n literals O(n^2) (a
    statement with 8 000 select items took 3 s)."""
    parent, key, index = node.parent, node.arg_key, node.index
    if parent is None or key is None:
        return
    if index is None:
        parent.set(key, new)
        return
    parent.args[key][index] = new
    new.parent, new.arg_key, new.index = parent, key, index
    node.parent = None


def _classify_token(token: Token) -> tuple[str, str]:
    kind = token.token_type
    if kind in _STRING_TOKENS:
        return "str", token.text
    if kind == TokenType.NUMBER:
        return "num", token.text
    if kind == TokenType.IDENTIFIER:
        return "qid", token.text
    text = token.text
    return ("word", text.upper()) if text[:1].isalnum() or text[:1] == "_" else ("op", text)


def _is_structural(node: exp.Literal) -> bool:
    """Literals that are shape, not values: ordinals and type parameters like DECIMAL(18,2)."""
    parent = node.parent
    if isinstance(parent, exp.DataTypeParam):
        return True
    if isinstance(parent, exp.Ordered) and isinstance(parent.parent, exp.Order):
        return node.is_int
    return isinstance(parent, exp.Group) and node.is_int


def _hex(text: str) -> str:
    return xxhash.xxh3_64_hexdigest(text.encode("utf-8", "surrogatepass"))


class Analyzer:
    """Analyzes query texts with the two-level cache described above. Counts how many texts
    it tokenized and how many shapes it parsed (for benchmarks and tests)."""

    def __init__(self) -> None:
        self._by_text: dict[tuple[int, str], Analysis] = {}
        self._by_shape: dict[int, Analysis] = {}
        self._dialects: dict[str, Dialect] = {}
        self.tokenized = 0
        self.parsed = 0

    def analyze(self, sql: str, dialect: str, text_key: int | None = None) -> Analysis:
        """Return the Analysis of ``sql`` read as ``dialect``; ``text_key`` is the text's
        xxh3 of normalized text when the caller has it. Never raises for bad SQL: it is
        classified ``unparseable`` with the parser's message, or with "too large to
        analyze" past :data:`MAX_ANALYZED_CHARS` / :data:`MAX_ANALYZED_TOKENS`."""
        if text_key is None:
            text_key = text_hash(sql)
        cached = self._by_text.get((text_key, dialect))
        if cached is not None:
            return cached
        refused = too_large_to_analyze(sql)
        if refused:
            analysis = Analysis(f"{text_key:016x}", unparseable(refused))
            self._by_text[(text_key, dialect)] = analysis
            return analysis
        self.tokenized += 1
        shape = self._shape_key(sql, dialect)
        analysis = self._by_shape.get(shape)
        if analysis is None:
            analysis = self._parse(sql, dialect, shape)
            self._by_shape[shape] = analysis
        self._by_text[(text_key, dialect)] = analysis
        return analysis

    @property
    def shapes(self) -> int:
        """Number of distinct shape keys seen (each parsed once)."""
        return len(self._by_shape)

    def _dialect(self, name: str) -> Dialect:
        if name not in self._dialects:
            self._dialects[name] = Dialect.get_or_raise(name)
        return self._dialects[name]

    def _shape_key(self, sql: str, dialect: str) -> int:
        tokens = self._tokens(sql, dialect)
        if tokens is None:
            return xxhash.xxh3_64_intdigest(f"{dialect}\0raw\0{normalize_text(sql)}".encode())
        parts = [dialect]
        contexts: list[bool] = []  # per open parenthesis: is it an IN-list?
        previous = ""
        for kind, text in tokens:
            if kind in ("str", "num"):
                in_list = bool(contexts) and contexts[-1] and previous in ("(", ",")
                if previous in _MASK_AFTER or in_list:
                    if in_list and previous == "," and parts[-2] == "?":
                        parts.pop()  # "? , ?" collapses: IN-lists of any length match
                    else:
                        parts.append("?")
                    previous = "?"
                    continue
            if text == "(":
                contexts.append(previous == "IN")
            elif text == ")" and contexts:
                contexts.pop()
            parts.append(text)
            previous = text
        return xxhash.xxh3_64_intdigest("\x1f".join(parts).encode("utf-8", "surrogatepass"))

    def _tokens(self, sql: str, dialect: str) -> list[tuple[str, str]] | None:
        """(kind, text) pairs, words upper-cased; None when the text cannot be tokenized."""
        if dialect in _REGEX_DIALECTS:
            out = []
            for match in _TOKEN.finditer(sql):
                kind = match.lastgroup
                if kind == "ws" or kind == "comment":
                    continue
                text = match.group()
                out.append((kind, text.upper() if kind == "word" else text))
            return out
        try:
            raw = self._dialect(dialect).tokenize(sql)
        except (SqlglotError, ValueError, RecursionError):
            return None
        return [_classify_token(token) for token in raw]

    def _parse(self, sql: str, dialect: str, shape: int) -> Analysis:
        self.parsed += 1
        try:
            tree = parse_statement(sql, dialect)
        except ValueError as err:
            return Analysis(f"{shape:016x}", unparseable(str(err)))
        try:
            classification = classify(tree)
            pattern = fingerprint(tree)
        except (SqlglotError, RecursionError) as err:
            return Analysis(f"{shape:016x}", unparseable(f"cannot analyze: {err}"))
        return Analysis(pattern, classification)
