"""Pattern fingerprints and the cached analysis of query texts.

A pattern id is the xxh3-64 (16 hex chars) of the statement's sqlglot AST rendered after
abstracting literals (numbers, strings, dates, IN-lists of any length) and lower-casing
identifiers; comments and whitespace never reach the AST. Positional ORDER BY / GROUP BY
ordinals are structure, not literals, and are kept.

Analysis is cached at two levels so a log with few distinct shapes is cheap:
exact text (xxh3 of whitespace-normalized text) -> tokenized shape key (literals replaced,
LIMIT values and ordinals kept, so the classification is exact for every text of a key)
-> one sqlglot parse, classification and fingerprint per shape key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import xxhash
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import SqlglotError
from sqlglot.tokens import TokenType

from simulator.workload.classify import Classification, classify, parse_statement, unparseable
from simulator.workload.normalized import normalize_text

_LITERAL_TOKENS = frozenset(
    {
        TokenType.STRING,
        TokenType.NUMBER,
        TokenType.NATIONAL_STRING,
        TokenType.HEX_STRING,
        TokenType.BIT_STRING,
        TokenType.BYTE_STRING,
        TokenType.RAW_STRING,
        TokenType.HEREDOC_STRING,
        TokenType.UNICODE_STRING,
    }
)
# Numbers after these tokens change the classification (LIMIT) or the shape (ordinals).
_KEEP_NUMBER_AFTER = frozenset(
    {TokenType.LIMIT, TokenType.OFFSET, TokenType.FETCH, TokenType.TOP, TokenType.ORDER_BY}
    | {TokenType.GROUP_BY, TokenType.FIRST, TokenType.NEXT}
)
_ORDINAL_CLAUSES = frozenset({TokenType.ORDER_BY, TokenType.GROUP_BY})
_CLAUSE_ENDS = frozenset(
    {TokenType.L_PAREN, TokenType.R_PAREN, TokenType.LIMIT, TokenType.HAVING, TokenType.OFFSET}
    | {TokenType.FETCH, TokenType.SEMICOLON, TokenType.WINDOW}
)
# Only IN-lists collapse in the shape key: elsewhere (function arguments) the number of
# literals is part of the AST shape.
_IN_LIST_RUN = re.compile(r"(IN:IN L_PAREN:\( )\?(?: COMMA:, \?)+")


@dataclass(frozen=True)
class Analysis:
    """A text's pattern id and classification."""

    pattern_id: str
    classification: Classification


def fingerprint(tree: exp.Expression) -> str:
    """Return the pattern id of a parsed statement. The tree is modified in place (callers
    classify first)."""
    for node in list(tree.walk()):
        if isinstance(node, exp.Literal) and not _is_ordinal(node):
            target: exp.Expression = node
            if isinstance(node.parent, exp.Neg):
                target = node.parent
            target.replace(exp.Placeholder())
        elif isinstance(node, exp.Identifier):
            node.set("this", node.name.lower())
            node.set("quoted", False)
    for node in list(tree.find_all(exp.In, exp.Tuple, exp.Array)):
        items = node.expressions
        if len(items) > 1 and all(isinstance(i, exp.Placeholder) for i in items):
            node.set("expressions", [exp.Placeholder()])
    return _hex(tree.sql(comments=False))


def _is_ordinal(node: exp.Literal) -> bool:
    parent = node.parent
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
        classified ``unparseable`` with the parser's message."""
        if text_key is None:
            text_key = xxhash.xxh3_64_intdigest(normalize_text(sql).encode("utf-8", "replace"))
        cached = self._by_text.get((text_key, dialect))
        if cached is not None:
            return cached
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
        try:
            tokens = self._dialect(dialect).tokenize(sql)
        except (SqlglotError, ValueError, RecursionError):
            return xxhash.xxh3_64_intdigest(f"{dialect}\0raw\0{normalize_text(sql)}".encode())
        parts = [dialect]
        previous = None
        in_ordinals = False
        for token in tokens:
            kind = token.token_type
            if kind in _ORDINAL_CLAUSES:
                in_ordinals = True
            elif kind in _CLAUSE_ENDS:
                in_ordinals = False
            if kind in _LITERAL_TOKENS and not (
                kind == TokenType.NUMBER
                and (
                    previous in _KEEP_NUMBER_AFTER or (in_ordinals and previous == TokenType.COMMA)
                )
            ):
                parts.append("?")
            else:
                parts.append(f"{kind.name}:{token.text}")
            previous = kind
        key = _IN_LIST_RUN.sub(r"\1?", " ".join(parts))
        return xxhash.xxh3_64_intdigest(key.encode("utf-8", "surrogatepass"))

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
