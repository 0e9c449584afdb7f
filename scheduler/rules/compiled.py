"""A rule compiled for the matcher: its syntax tree, its trigger words (one of which a
matching document contains), and the plans that let a document rule out ORs and NEARs with
set operations (``RuleSet`` in scheduler/rules/matcher.py builds its indexes from them)."""

from __future__ import annotations

from dataclasses import dataclass

from haitiwatch.db.query.ast import And, Near, Node, Not, Or, Phrase, Term
from haitiwatch.db.query.parser import parse_query


@dataclass(frozen=True, slots=True)
class CompiledRule:
    name: str
    node: Node
    #: Words (a prefix as "kenya*") one of which must occur to match; None: always evaluate.
    triggers: frozenset[str] | None


def compile_rule(name: str, query: str | Node) -> CompiledRule:
    node = parse_query(query) if isinstance(query, str) else query
    return CompiledRule(name, node, _triggers(node))


def _triggers(node: Node) -> frozenset[str] | None:
    """Words of which a matching document contains at least one (None: no such set)."""
    if isinstance(node, Term):
        return frozenset((node.word + "*" if node.prefix else node.word,))
    if isinstance(node, Phrase):
        return frozenset((max(node.words, key=len),))  # the longest word is usually rarest
    if isinstance(node, Near):
        return _smallest([_triggers(node.left), _triggers(node.right)])
    if isinstance(node, Or):
        parts = [_triggers(item) for item in node.items]
        if any(part is None for part in parts):
            return None
        return frozenset().union(*(p for p in parts if p is not None))
    if isinstance(node, And):
        return _smallest([_triggers(item) for item in node.items])
    return None  # NOT x matches documents without x: no word is required


#: An OR split into its plain words (any field, whole word) and its other items.
@dataclass(frozen=True, slots=True)
class OrPlan:
    """An OR's items grouped so that a document rules most of them out with set operations."""

    #: Plain words: one set operation decides them all.
    words: frozenset[str]
    #: Phrases by their first word: only those whose first word occurs are looked at (the
    #: default rules' ORs hold dozens of phrases, of which a document has one or two).
    phrases: dict[str, tuple[Phrase, ...]]
    others: tuple[Node, ...]


def plan_ors(node: Node, plans: dict[int, OrPlan]) -> None:
    """For every OR in the tree: its plain words and phrases, tested with set operations."""
    if isinstance(node, Or):
        plain = [i for i in node.items if isinstance(i, Term) and not i.prefix and not i.field]
        phrases: dict[str, list[Phrase]] = {}
        for item in node.items:
            if isinstance(item, Phrase):
                phrases.setdefault(item.words[0], []).append(item)
        others = tuple(i for i in node.items if i not in plain and not isinstance(i, Phrase))
        plans[id(node)] = OrPlan(
            frozenset(t.word for t in plain), {w: tuple(p) for w, p in phrases.items()}, others
        )
    children: tuple[Node, ...] = ()
    if isinstance(node, And | Or):
        children = node.items
    elif isinstance(node, Near):
        children = (node.left, node.right)
    elif isinstance(node, Not):
        children = (node.child,)
    for child in children:
        plan_ors(child, plans)


def plan_needs(node: Node, needs: dict[int, frozenset[str]]) -> frozenset[str] | None:
    """Words (or "prefix*" keys) one of which a document must contain for ``node`` to match;
    None when there is no such set (under NOT). Recorded for the inner nodes, so that a
    document rules out a whole NEAR or OR subtree with one set operation."""
    need: frozenset[str] | None
    if isinstance(node, Term):
        return frozenset({node.word + "*" if node.prefix else node.word})
    if isinstance(node, Phrase):
        return frozenset({node.words[0]})
    if isinstance(node, Not):
        plan_needs(node.child, needs)
        return None
    if isinstance(node, Near):
        need = _smallest([plan_needs(node.left, needs), plan_needs(node.right, needs)])
    elif isinstance(node, And):
        need = _smallest([plan_needs(item, needs) for item in node.items])
    else:
        parts = [plan_needs(item, needs) for item in node.items]
        known = [p for p in parts if p is not None]
        need = frozenset().union(*known) if len(known) == len(parts) else None
    if need is not None:
        needs[id(node)] = need
    return need


def _smallest(parts: list[frozenset[str] | None]) -> frozenset[str] | None:
    known = [p for p in parts if p is not None]
    return min(known, key=len) if known else None
