"""The query syntax tree: what a parsed rule or search query means, independent of its spelling.

Words are stored folded (case and accents removed, see ``db.textnorm.fold``) and split
into word tokens, so ``Haïti`` and ``haiti`` give the same tree. ``to_query`` writes a tree
back as query text that parses to the same tree (used by the property tests and by
``haitiwatch rules check`` to show what a query means).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final, TypeAlias

#: Field prefixes a query may use: ``title:haiti``. A leaf without a field searches both.
FIELDS: Final = ("title", "text")


@dataclass(frozen=True, slots=True)
class Term:
    """One word, or a word prefix (``kenya*``), optionally only in one field."""

    word: str
    prefix: bool = False
    field: str | None = None


@dataclass(frozen=True, slots=True)
class Phrase:
    """Consecutive words: ``"gang suppression force"``, or a hyphenated word (``Kenya-led``)."""

    words: tuple[str, ...]
    field: str | None = None


@dataclass(frozen=True, slots=True)
class Near:
    """Both sides in the same field, in either order, at most ``distance`` words apart."""

    left: Node
    right: Node
    distance: int


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    child: Node


Node: TypeAlias = Term | Phrase | Near | And | Or | Not
Leaf: TypeAlias = Term | Phrase


def and_(*items: Node) -> Node:
    """An AND of ``items``, flattened (``a (b c)`` is ``a b c``); one item is itself."""
    flat: list[Node] = []
    for item in items:
        flat.extend(item.items if isinstance(item, And) else (item,))
    return flat[0] if len(flat) == 1 else And(tuple(flat))


def or_(*items: Node) -> Node:
    """An OR of ``items``, flattened; one item is itself."""
    flat: list[Node] = []
    for item in items:
        flat.extend(item.items if isinstance(item, Or) else (item,))
    return flat[0] if len(flat) == 1 else Or(tuple(flat))


def is_positional(node: Node) -> bool:
    """Has positions in the text, so NEAR can use it: leaves, NEARs, and OR-groups of them."""
    if isinstance(node, Term | Phrase | Near):
        return True
    if isinstance(node, Or):
        return all(is_positional(item) for item in node.items)
    return False


def leaves(node: Node, negated: bool = False) -> Iterator[tuple[Leaf, bool]]:
    """Every word or phrase of the tree, with whether it sits under a NOT."""
    if isinstance(node, Term | Phrase):
        yield node, negated
    elif isinstance(node, Near):
        yield from leaves(node.left, negated)
        yield from leaves(node.right, negated)
    elif isinstance(node, And | Or):
        for item in node.items:
            yield from leaves(item, negated)
    else:
        yield from leaves(node.child, not negated)


def to_query(node: Node) -> str:
    """Canonical query text for ``node``; ``parse_query(to_query(n)) == n`` for flat trees."""
    if isinstance(node, Term):
        return _field(node.field) + node.word + ("*" if node.prefix else "")
    if isinstance(node, Phrase):
        return _field(node.field) + '"' + " ".join(node.words) + '"'
    if isinstance(node, Near):
        return f"{_operand(node.left)} NEAR/{node.distance} {_operand(node.right)}"
    if isinstance(node, Or):
        return " OR ".join(to_query(item) for item in node.items)
    if isinstance(node, And):
        return " ".join(
            _group(item) if isinstance(item, Or) else to_query(item) for item in node.items
        )
    return "NOT " + (
        to_query(node.child) if isinstance(node.child, Term | Phrase | Not) else _group(node.child)
    )


def _field(field: str | None) -> str:
    return f"{field}:" if field else ""


def _group(node: Node) -> str:
    return "(" + to_query(node) + ")"


def _operand(node: Node) -> str:
    return to_query(node) if isinstance(node, Term | Phrase) else _group(node)
