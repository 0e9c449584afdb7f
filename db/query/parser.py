"""Query text -> syntax tree (``db.query.ast``), with errors that say where.

Grammar, loosest first (operators are UPPERCASE; ``or``/``and`` are ordinary words)::

    query   := or
    or      := and ("OR" and)*
    and     := unary (["AND"] unary)*
    unary   := ("NOT" | "-") unary | near
    near    := primary ("NEAR/n" primary)*
    primary := "(" or ")" | FIELD ":" primary | "phrase" | word | word*
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from haitiwatch.db.errors import HaitiwatchError
from haitiwatch.db.query.ast import FIELDS, Near, Node, Not, Phrase, Term, and_, is_positional, or_
from haitiwatch.db.textnorm import fold

#: A word is a run of letters and digits: apostrophes, hyphens and underscores split words.
WORD_RE: Final = re.compile(r"[^\W_]+")
MAX_NEAR: Final = 1000
MIN_PREFIX: Final = 2

_QUOTES: Final = str.maketrans(
    {"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"'}
)
_SPACE_RE: Final = re.compile(r"\s+")
_WORD_TEXT_RE: Final = re.compile(r'[^\s()"]+')
_FIELD_RE: Final = re.compile(r"([A-Za-z]+):(?=[^\s)])")
_NEAR_RE: Final = re.compile(r"NEAR/(\d+)")
_OPERATORS: Final = ("AND", "OR", "NOT")


class QuerySyntaxError(HaitiwatchError, ValueError):
    """A query that cannot be read. ``position`` is the 0-based character offset."""

    def __init__(self, message: str, query: str, position: int) -> None:
        self.message, self.query, self.position = message, query, position
        self.line = query.count("\n", 0, position) + 1
        self.column = position - (query.rfind("\n", 0, position) + 1) + 1
        super().__init__(f"{message} (line {self.line}, column {self.column}{self._context()})")

    def _context(self) -> str:
        shown = self.query[self.position : self.position + 20].split("\n")[0]
        return f", at {shown!r}" if shown.strip() else ", at the end"


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # ( ) phrase word AND OR NOT - near field
    text: str
    at: int
    node: Node | None = None  # for words and phrases
    distance: int = 0  # for NEAR


def words_of(text: str) -> list[str]:
    """The folded word tokens of ``text`` (the same split for queries and documents)."""
    return WORD_RE.findall(fold(text))


def parse_query(query: str) -> Node:
    """Parse ``query``; raise QuerySyntaxError naming what is wrong and where."""
    return _Parser(query).parse()


#: Parentheses and NOTs nest at most this deep: enough for any rule a person writes, and
#: parsing and matching (both recursive) stay far from Python's recursion limit.
MAX_NESTING = 32


class _Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        self.tokens = _lex(query)
        self.i = 0
        self.depth = 0

    def nested(self, token: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.error(f"nested too deep: at most {MAX_NESTING} levels", token.at)

    def error(self, message: str, at: int | None = None) -> QuerySyntaxError:
        if at is None:
            at = self.tokens[self.i].at if self.i < len(self.tokens) else len(self.query)
        return QuerySyntaxError(message, self.query, at)

    def peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.peek()
        if token is None:
            raise self.error("the query ends too early: expected a word, a phrase or '('")
        self.i += 1
        return token

    def parse(self) -> Node:
        if not self.tokens:
            raise self.error("empty query: nothing to search for", 0)
        node = self.or_expr()
        token = self.peek()
        if token is not None:
            raise self.error(
                "unbalanced ')': no '(' opens it"
                if token.kind == ")"
                else f"unexpected {token.text!r}"
            )
        return node

    def or_expr(self) -> Node:
        items = [self.and_expr()]
        while (token := self.peek()) is not None and token.kind == "OR":
            self.take()
            items.append(self.and_expr())
        return or_(*items)

    def and_expr(self) -> Node:
        items = [self.unary()]
        while (token := self.peek()) is not None and token.kind not in (")", "OR"):
            if token.kind == "AND":
                self.take()
            items.append(self.unary())
        return and_(*items)

    def unary(self) -> Node:
        token = self.peek()
        if token is not None and token.kind in ("NOT", "-"):
            self.nested(self.take())
            node = Not(self.unary())
            self.depth -= 1
            return node
        return self.near()

    def near(self) -> Node:
        start = self.peek()
        node = self.primary()
        while (token := self.peek()) is not None and token.kind == "near":
            self.take()
            right_start = self.peek()
            right = self.primary()
            for side, first in ((node, start), (right, right_start)):
                if not is_positional(side):
                    raise self.error(
                        f"{token.text} needs words, phrases, prefixes or OR-groups of them "
                        "on both sides (not AND or NOT)",
                        first.at if first else None,
                    )
            node = Near(node, right, token.distance)
        return node

    def primary(self, field: str | None = None) -> Node:
        token = self.take()
        if token.kind == "(":
            if (inner := self.peek()) is not None and inner.kind == ")":
                raise self.error("empty parentheses: nothing to search for")
            self.nested(token)
            node = self.or_expr()
            closing = self.peek()
            if closing is None or closing.kind != ")":
                raise self.error("missing ')' to close the '(' here", token.at)
            self.take()
            self.depth -= 1
            return _with_field(node, field)
        if token.kind == "field":
            if field is not None:
                raise self.error("a field inside a field", token.at)
            return self.primary(token.text)
        if token.node is not None:
            return _with_field(token.node, field)
        raise self.error(f"expected a word, a phrase or '(' before {token.text!r}", token.at)


def _with_field(node: Node, field: str | None) -> Node:
    if field is None:
        return node
    if isinstance(node, Term):
        return Term(node.word, node.prefix, node.field or field)
    if isinstance(node, Phrase):
        return Phrase(node.words, node.field or field)
    if isinstance(node, Near):
        return Near(_with_field(node.left, field), _with_field(node.right, field), node.distance)
    if isinstance(node, Not):
        return Not(_with_field(node.child, field))
    items = tuple(_with_field(item, field) for item in node.items)
    return type(node)(items)


def _lex(query: str) -> list[_Token]:
    text = query.translate(_QUOTES)  # same length: positions stay valid
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        if (space := _SPACE_RE.match(text, i)) is not None:
            i = space.end()
            continue
        token, i = _lex_one(query, text, i, tokens)
        if token is not None:
            tokens.append(token)
    return tokens


def _lex_one(query: str, text: str, i: int, before: list[_Token]) -> tuple[_Token | None, int]:
    char = text[i]
    if char in "()":
        return _Token(char, char, i), i + 1
    if char == '"':
        return _lex_phrase(query, text, i)
    negates = i + 1 < len(text) and (text[i + 1] in '"(' or text[i + 1].isalnum())
    if char == "-" and negates and (not before or before[-1].kind != "field"):
        return _Token("-", "-", i), i + 1
    if (field := _FIELD_RE.match(text, i)) is not None:
        name = field.group(1).lower()
        if name not in FIELDS:
            raise QuerySyntaxError(
                f"unknown field {field.group(1)!r} (known: {', '.join(FIELDS)})", query, i
            )
        return _Token("field", name, i), field.end()
    match = _WORD_TEXT_RE.match(text, i)
    assert match is not None  # any other non-space character starts a word
    return _lex_word(query, match.group(), i), match.end()


def _lex_phrase(query: str, text: str, i: int) -> tuple[_Token, int]:
    end = text.find('"', i + 1)
    if end < 0:
        raise QuerySyntaxError("unterminated phrase: no closing '\"'", query, i)
    words = words_of(text[i + 1 : end])
    if not words:
        raise QuerySyntaxError("empty phrase: no words between the quotes", query, i)
    node: Node = Term(words[0]) if len(words) == 1 else Phrase(tuple(words))
    return _Token("phrase", text[i : end + 1], i, node), end + 1


def _lex_word(query: str, word: str, at: int) -> _Token | None:
    if word in _OPERATORS:
        return _Token(word, word, at)
    if word.startswith("NEAR"):
        near = _NEAR_RE.fullmatch(word)
        if near is None:
            raise QuerySyntaxError("NEAR needs a distance in words, like NEAR/5", query, at)
        distance = int(near.group(1))
        if distance > MAX_NEAR:
            raise QuerySyntaxError(f"NEAR distance above {MAX_NEAR}", query, at)
        return _Token("near", word, at, distance=distance)
    prefix = word.endswith("*")
    body = word.rstrip("*") if prefix else word
    if "*" in body:
        raise QuerySyntaxError("'*' is only allowed at the end of a word (kenya*)", query, at)
    words = words_of(body)
    if not words:
        if prefix:
            raise QuerySyntaxError("'*' needs a word before it (kenya*)", query, at)
        return None  # punctuation alone ("&", "—") carries nothing to search for
    if prefix and (len(words) > 1 or len(words[0]) < MIN_PREFIX):
        raise QuerySyntaxError(
            f"a prefix needs one word of at least {MIN_PREFIX} letters (kenya*)", query, at
        )
    node: Node = Term(words[0], prefix) if len(words) == 1 else Phrase(tuple(words))
    return _Token("word", word, at, node)
