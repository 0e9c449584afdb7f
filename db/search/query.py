"""Search query text -> database match expressions.

The query syntax is the alert rules' (``db.query``): one parser, two targets. FTS5: every
word is a double-quoted string, so ``Port-au-Prince``, ``covid-19`` or ``m'ap`` are plain
words, never FTS5 syntax. PostgreSQL: a ``TsNode`` tree whose words are bound parameters.
What the database cannot express exactly is approximated and documented in docs/search.md
(NEAR in PostgreSQL above ``EXACT_NEAR`` words; nested NEAR in FTS5).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import product
from typing import Final, Literal, TypeAlias

from haitiwatch.db.query.ast import And, Near, Node, Not, Or, Phrase, Term, leaves
from haitiwatch.db.query.parser import QuerySyntaxError, parse_query
from haitiwatch.db.search import SearchError

MAX_QUERY_CHARS: Final = 2000
MAX_DEPTH: Final = 40
MAX_LEAVES: Final = 200
MAX_NEAR_ALTERNATIVES: Final = 64
#: NEAR/n up to this distance is exact in PostgreSQL (every gap, both orders); above it,
#: both sides must merely occur (tsquery has "exactly n apart", not "at most n").
EXACT_NEAR: Final = 12
#: Nested NEARs multiply the tsquery; past this many nodes a NEAR falls back to AND.
MAX_TS_SIZE: Final = 400
_WEIGHT: Final = {"title": "A", "text": "B", None: ""}

NEGATION_ONLY: Final = (
    "a search needs a word that must appear: NOT (or -) only removes results from the others"
)


@dataclass(frozen=True, slots=True)
class TsLeaf:
    """Words searched as a phrase; ``suffix`` is added to each lexeme ('*', 'A', '*B', '')."""

    words: str
    suffix: str = ""


@dataclass(frozen=True, slots=True)
class TsBool:
    op: Literal["and", "or"]
    items: tuple[TsNode, ...]


@dataclass(frozen=True, slots=True)
class TsNot:
    item: TsNode


@dataclass(frozen=True, slots=True)
class TsFollow:
    """``right`` exactly ``distance`` positions after ``left`` (tsquery's <N>)."""

    left: TsNode
    right: TsNode
    distance: int


TsNode: TypeAlias = TsLeaf | TsBool | TsNot | TsFollow


@dataclass(frozen=True, slots=True)
class MatchExpr:
    fts5: str
    tsquery: TsNode


class SearchQuery:
    """A parsed search (checked against the limits below) and its database expressions."""

    def __init__(self, query: str) -> None:
        self.query = query
        self.node = parse_search(query)
        self.match = MatchExpr(to_fts5(self.node, query), to_tsquery(self.node, query))


def parse_search(query: str) -> Node:
    """``parse_query`` with the limits a database needs; only QuerySyntaxError escapes."""
    if len(query) > MAX_QUERY_CHARS:
        raise QuerySyntaxError(f"query longer than {MAX_QUERY_CHARS} characters", query, 0)
    try:
        node = _parse_lenient(query)
    except RecursionError:
        raise QuerySyntaxError("query nested too deeply", query, 0) from None
    node = _simplify(node)
    if _depth(node) > MAX_DEPTH:
        raise QuerySyntaxError(f"query nested deeper than {MAX_DEPTH} levels", query, 0)
    if sum(1 for _ in leaves(node)) > MAX_LEAVES:
        raise QuerySyntaxError(f"query with more than {MAX_LEAVES} words", query, 0)
    if not _positive(node):
        raise QuerySyntaxError(NEGATION_ONLY, query, 0)
    return node


def _parse_lenient(query: str) -> Node:
    """A quote left open is closed at the end: people paste half-quoted text."""
    try:
        return parse_query(query)
    except QuerySyntaxError as e:
        if not e.message.startswith("unterminated phrase"):
            raise
    try:
        return parse_query(query + '"')
    except QuerySyntaxError as e:
        raise QuerySyntaxError(e.message, query, min(e.position, len(query))) from None


def _simplify(node: Node) -> Node:
    """Double negations cancel (``NOT NOT x`` is ``x``)."""
    if isinstance(node, Not):
        child = _simplify(node.child)
        return child.child if isinstance(child, Not) else Not(child)
    if isinstance(node, And | Or):
        return type(node)(tuple(_simplify(item) for item in node.items))
    return node


def _depth(node: Node) -> int:
    if isinstance(node, Term | Phrase):
        return 1
    if isinstance(node, Near):
        return 1 + max(_depth(node.left), _depth(node.right))
    if isinstance(node, Not):
        return 1 + _depth(node.child)
    return 1 + max(_depth(item) for item in node.items)


def _positive(node: Node) -> bool:
    """Every OR branch and every AND has something that must appear (FTS5 needs it)."""
    if isinstance(node, Not):
        return False
    if isinstance(node, Or):
        return all(_positive(item) for item in node.items)
    if isinstance(node, And):
        wanted = [item for item in node.items if not isinstance(item, Not)]
        # What follows a NOT must itself be expressible (``a -(b -c)`` is, ``a -(-c)`` is not).
        negated = [item.child for item in node.items if isinstance(item, Not)]
        return bool(wanted) and all(map(_positive, wanted + negated))
    return True


def parse_day(value: str | None, option: str, end: bool = False) -> datetime | None:
    """YYYY-MM-DD (a whole UTC day; ``end`` means up to the end of it) or an ISO datetime."""
    if value is None or not value.strip():
        return None
    try:
        if len(value.strip()) == 10:
            day = date.fromisoformat(value.strip())
            moment = datetime.combine(day, time(), UTC)
            if end:  # the end of the last day there is stays the last moment there is
                return (
                    moment + timedelta(days=1)
                    if day < date.max
                    else datetime.max.replace(tzinfo=UTC)
                )
            return moment
        parsed = datetime.fromisoformat(value.strip())
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError) as e:  # Overflow: in UTC, before year 1 or after 9999
        raise SearchError(f"{option}: expected a date like 2024-05-31, got {value!r}") from e


# -- FTS5 -----------------------------------------------------------------------------------


def _quote(words: str) -> str:
    return '"' + words.replace('"', '""') + '"'


def _column(field: str | None) -> str:
    return f"{field} : " if field else ""


def to_fts5(node: Node, query: str = "") -> str:
    """An FTS5 MATCH expression for ``node`` (already checked by ``parse_search``)."""
    if isinstance(node, Term):
        return _column(node.field) + _quote(node.word) + ("*" if node.prefix else "")
    if isinstance(node, Phrase):
        return _column(node.field) + _quote(" ".join(node.words))
    if isinstance(node, Near):
        groups = [_fts5_near(leafs, distance) for leafs, distance in _near_groups(node, query)]
        return groups[0] if len(groups) == 1 else "(" + " OR ".join(groups) + ")"
    if isinstance(node, Or):
        return "(" + " OR ".join(to_fts5(item, query) for item in node.items) + ")"
    if isinstance(node, And):
        wanted = [to_fts5(i, query) for i in node.items if not isinstance(i, Not)]
        out = "(" + " AND ".join(wanted) + ")"
        for item in node.items:
            if isinstance(item, Not):
                out = f"({out} NOT {to_fts5(item.child, query)})"
        return out
    raise QuerySyntaxError(NEGATION_ONLY, query, 0)


def _fts5_near(leafs: list[Term | Phrase], distance: int) -> str:
    phrases = " ".join(
        _quote(leaf.word) + ("*" if leaf.prefix else "")
        if isinstance(leaf, Term)
        else _quote(" ".join(leaf.words))
        for leaf in leafs
    )
    fields = [leaf.field for leaf in leafs if leaf.field]
    # Both sides must be in one field; a NEAR across two named fields keeps the first.
    return _column(fields[0] if fields else None) + f"NEAR({phrases}, {distance})"


def _near_groups(node: Node, query: str) -> list[tuple[list[Term | Phrase], int]]:
    """FTS5 NEAR takes phrases only: OR-groups are multiplied out; nested NEARs become one
    group whose distance is the sum (an approximation documented in docs/search.md)."""
    if isinstance(node, Term | Phrase):
        return [([node], 0)]
    if isinstance(node, Or):
        return [group for item in node.items for group in _near_groups(item, query)]
    assert isinstance(node, Near)  # the parser allows nothing else under NEAR
    left, right = _near_groups(node.left, query), _near_groups(node.right, query)
    if len(left) * len(right) > MAX_NEAR_ALTERNATIVES:
        raise QuerySyntaxError("NEAR with too many OR alternatives", query, 0)
    return [(a + b, da + db + node.distance) for (a, da), (b, db) in product(left, right)]


# -- PostgreSQL tsquery ---------------------------------------------------------------------


def to_tsquery(node: Node, query: str = "") -> TsNode:
    if isinstance(node, Term):
        return TsLeaf(node.word, ("*" if node.prefix else "") + _WEIGHT[node.field])
    if isinstance(node, Phrase):
        return TsLeaf(" ".join(node.words), _WEIGHT[node.field])
    if isinstance(node, Near):
        return _ts_near(to_tsquery(node.left, query), to_tsquery(node.right, query), node)
    if isinstance(node, Or):
        return TsBool("or", tuple(to_tsquery(item, query) for item in node.items))
    if isinstance(node, And):
        return TsBool("and", tuple(_ts_and_item(item, query) for item in node.items))
    raise QuerySyntaxError(NEGATION_ONLY, query, 0)


def _ts_and_item(node: Node, query: str) -> TsNode:
    return (
        TsNot(to_tsquery(node.child, query)) if isinstance(node, Not) else to_tsquery(node, query)
    )


def _ts_near(left: TsNode, right: TsNode, near: Near) -> TsNode:
    """At most ``distance`` words between, either order: every exact gap, both ways."""
    if near.distance > EXACT_NEAR or (_size(left) + _size(right)) * near.distance > MAX_TS_SIZE:
        return TsBool("and", (left, right))
    gaps = range(1, near.distance + 2)
    return TsBool(
        "or",
        tuple(TsFollow(a, b, gap) for gap in gaps for a, b in ((left, right), (right, left))),
    )


def _size(node: TsNode) -> int:
    if isinstance(node, TsLeaf):
        return 1
    if isinstance(node, TsNot):
        return 1 + _size(node.item)
    if isinstance(node, TsFollow):
        return 1 + _size(node.left) + _size(node.right)
    return 1 + sum(_size(item) for item in node.items)
