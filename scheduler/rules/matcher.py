"""Match many compiled rules against one document, cheaply.

A document field is folded (case, accents) with every non-letter/digit made a space, at the
same length so that offsets stay valid (``split_fold``), then split into word tokens. The
words of all rules form one set: a set intersection finds which occur. Prefixes (``kenya*``)
are found by one Aho-Corasick automaton run over the document's distinct words. A rule is
evaluated only if one of its *trigger* words occurred (a set of words at least one of which
any matching document contains), so the cost of a document grows with the rule words it
contains, not with the number of rules.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Final

import ahocorasick

from haitiwatch.db.query.ast import And, Near, Node, Not, Or, Phrase, Term, leaves
from haitiwatch.db.textnorm import fold
from haitiwatch.scheduler.rules.compiled import (
    CompiledRule,
    OrPlan,
    compile_rule,
    plan_needs,
    plan_ors,
)

#: Document fields, in the order of ``RuleSet.match`` arguments.
DOC_FIELDS: Final = ("title", "text")
_FIELD_NO: Final = {name: i for i, name in enumerate(DOC_FIELDS)}
#: A character past the Basic Multilingual Plane (emoji, rare scripts).
_ASTRAL_RE: Final = re.compile("[\U00010000-\U0010ffff]")

#: A positional match: (field number, first token, last token).
Span = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class Mark:
    """A matched word or phrase: ``field`` offsets [start, end) in the ORIGINAL text."""

    field: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class RuleMatch:
    rule: str
    #: Where the matched terms are, sorted (title first), for highlighting.
    marks: tuple[Mark, ...]
    #: The matched terms as they are written in the document, first occurrence each.
    terms: tuple[str, ...]


@cache
def _split_table() -> list[str]:
    """Each character of the Basic Multilingual Plane folded, or a space if it is not a letter
    or digit then."""
    return [char if char.isalnum() else " " for char in map(fold, map(chr, range(0x10000)))]


def split_fold(text: str) -> str:
    """``fold(text)`` with a space for every character that is not a letter or digit: same
    length as ``text``, so offsets in it are offsets in ``text``."""
    folded = text.translate(_split_table())
    if folded.isascii():
        return folded
    # translate leaves the characters past its table as they are: blank those that are not
    # letters or digits.
    return _ASTRAL_RE.sub(lambda char: char[0] if char[0].isalnum() else " ", folded)


class RuleSet:
    """Compiled rules and their shared indexes. Immutable after construction; thread-safe."""

    def __init__(self, rules: Iterable[CompiledRule]) -> None:
        self.rules = tuple(rules)
        self._always = {i for i, r in enumerate(self.rules) if r.triggers is None}
        self._by_trigger: dict[str, list[int]] = {}
        for i, rule in enumerate(self.rules):
            for word in rule.triggers or ():
                self._by_trigger.setdefault(word, []).append(i)
        self._trigger_words = frozenset(self._by_trigger)
        terms = [leaf for r in self.rules for leaf, _ in leaves(r.node)]
        self._words = frozenset(
            w
            for leaf in terms
            for w in (
                leaf.words if isinstance(leaf, Phrase) else () if leaf.prefix else (leaf.word,)
            )
        )
        self._or_plans: dict[int, OrPlan] = {}
        self._needs: dict[int, frozenset[str]] = {}
        for rule in self.rules:
            plan_ors(rule.node, self._or_plans)
            plan_needs(rule.node, self._needs)
        prefixes = {leaf.word for leaf in terms if isinstance(leaf, Term) and leaf.prefix}
        self._prefixes: ahocorasick.Automaton | None = None
        if prefixes:
            self._prefixes = ahocorasick.Automaton()
            for prefix in prefixes:
                self._prefixes.add_word(" " + prefix, prefix)
            self._prefixes.make_automaton()

    @classmethod
    def from_queries(cls, queries: Iterable[tuple[str, str]]) -> RuleSet:
        return cls(compile_rule(name, query) for name, query in queries)

    def match(self, title: str, text: str, highlight: bool = True) -> list[RuleMatch]:
        """The rules that match a document, in rule order, with marks (unless not wanted)."""
        if not self.rules:
            return []
        doc = self.document(title, text)
        candidates = set(self._always)
        for word in self._trigger_words.intersection(doc.found):
            candidates.update(self._by_trigger[word])
        out = []
        for rule in (self.rules[i] for i in sorted(candidates)):
            if doc.truth(rule.node):
                marks = doc.marks(rule.node) if highlight else ()
                out.append(RuleMatch(rule.name, marks, doc.terms(marks)))
        return out

    def names(self, title: str, text: str) -> list[str]:
        return [m.rule for m in self.match(title, text, highlight=False)]

    def document(self, title: str, text: str) -> Document:
        """A document's positions of this set's words, to evaluate its rules' trees over."""
        return Document((title, text), self._words, self._prefixes, self._or_plans, self._needs)


class Document:
    """One document's token positions, and rule-tree evaluation over them (memoised)."""

    def __init__(
        self,
        texts: Sequence[str],
        words: frozenset[str],
        prefixes: ahocorasick.Automaton | None,
        or_plans: dict[int, OrPlan],
        needs: dict[int, frozenset[str]],
    ) -> None:
        self.texts = texts
        self.or_plans = or_plans
        self.needs = needs
        self.split = [split_fold(t) for t in texts]
        self.tokens = [s.split() for s in self.split]
        distinct = set(self.tokens[0]).union(self.tokens[1])
        present = words.intersection(distinct)
        #: prefix -> the document's words that start with it
        self.expansions: dict[str, list[str]] = {}
        if prefixes is not None:
            self._expand(prefixes, distinct)
        #: Trigger keys found: words, and prefixes as "kenya*".
        self.found = present | {p + "*" for p in self.expansions}
        wanted = present.union(*self.expansions.values()) if self.expansions else present
        self.positions: dict[str, list[tuple[int, int]]] = {}
        for field, tokens in enumerate(self.tokens):
            for at, token in enumerate(tokens):
                if token in wanted:
                    self.positions.setdefault(token, []).append((field, at))
        self._sets: dict[str, set[tuple[int, int]]] = {}
        self._spans: dict[int, list[Span]] = {}
        self._starts: dict[int, list[int]] = {}

    def _expand(self, prefixes: ahocorasick.Automaton, distinct: set[str]) -> None:
        joined = " " + " ".join(distinct) + " "
        for end, prefix in prefixes.iter(joined):
            start = end - len(prefix) + 1  # the word's first character
            word = joined[start : joined.index(" ", end + 1)]
            self.expansions.setdefault(prefix, []).append(word)

    # -- evaluation ------------------------------------------------------------------------

    def truth(self, node: Node) -> bool:
        if isinstance(node, And):
            return all(self.truth(item) for item in node.items)
        if isinstance(node, Or):
            need = self.needs.get(id(node))
            if need is not None and need.isdisjoint(self.found):
                return False
            plan = self.or_plans[id(node)]
            return (
                not plan.words.isdisjoint(self.positions)
                or any(self.spans(p) for p in self._phrases_present(plan))
                or any(self.truth(i) for i in plan.others)
            )
        if isinstance(node, Not):
            return not self.truth(node.child)
        return bool(self.spans(node))

    def spans(self, node: Node) -> list[Span]:
        key = id(node)
        cached = self._spans.get(key)
        if cached is None:
            need = self.needs.get(key)
            cached = [] if need is not None and need.isdisjoint(self.found) else self._compute(node)
            self._spans[key] = cached
        return cached

    def _compute(self, node: Node) -> list[Span]:
        if isinstance(node, Term):
            return self._term(node)
        if isinstance(node, Phrase):
            return self._phrase(node)
        if isinstance(node, Near):
            left = self.spans(node.left)
            if not left:  # the usual case: the other side need not be looked at
                return left
            return _near(left, self.spans(node.right), node.distance)
        if isinstance(node, Or):
            plan = self.or_plans[id(node)]
            spans = [
                (f, at, at)
                for w in plan.words.intersection(self.positions)
                for f, at in self.positions[w]
            ]
            spans += [span for p in self._phrases_present(plan) for span in self.spans(p)]
            return spans + [span for item in plan.others for span in self.spans(item)]
        raise TypeError(f"not positional: {node!r}")  # the parser rejects this

    def _phrases_present(self, plan: OrPlan) -> list[Phrase]:
        """The OR's phrases whose first word occurs in the document."""
        if not plan.phrases:
            return []
        return [p for w in plan.phrases.keys() & self.positions.keys() for p in plan.phrases[w]]

    def _term(self, term: Term) -> list[Span]:
        if not term.prefix and not term.field:  # the common case, without the generic loop
            return [(f, at, at) for f, at in self.positions.get(term.word, ())]
        words = self.expansions.get(term.word, ()) if term.prefix else (term.word,)
        field = _FIELD_NO.get(term.field) if term.field else None
        return [
            (f, at, at)
            for w in words
            for f, at in self.positions.get(w, ())
            if field is None or f == field
        ]

    def _phrase(self, phrase: Phrase) -> list[Span]:
        positions = self.positions
        if not all(word in positions for word in phrase.words):
            return []  # the usual case, decided without building anything
        first, *rest = phrase.words
        field = _FIELD_NO.get(phrase.field) if phrase.field else None
        later = [self._set(word) for word in rest]
        return [
            (f, at, at + len(rest))
            for f, at in self.positions.get(first, ())
            if (field is None or f == field)
            and all((f, at + k) in s for k, s in enumerate(later, 1))
        ]

    def _set(self, word: str) -> set[tuple[int, int]]:
        found = self._sets.get(word)
        if found is None:
            found = self._sets[word] = set(self.positions.get(word, ()))
        return found

    # -- highlighting ----------------------------------------------------------------------

    def marks(self, node: Node) -> tuple[Mark, ...]:
        spans: set[Span] = set()
        self._collect(node, spans, None)
        return tuple(
            sorted(
                {self._mark(span) for span in spans},
                key=lambda m: (_FIELD_NO[m.field], m.start, m.end),
            )
        )

    def _collect(self, node: Node, out: set[Span], within: list[Span] | None) -> None:
        """Leaf spans of the parts that made a TRUE ``node`` true (nothing under NOT); inside
        a NEAR, only the leaf occurrences that lie in one of its matching windows."""
        if isinstance(node, Not):
            return
        if isinstance(node, And):
            for item in node.items:
                self._collect(item, out, within)
        elif isinstance(node, Or):
            for item in node.items:
                if self.truth(item):
                    self._collect(item, out, within)
        elif isinstance(node, Near):
            windows = [w for w in self.spans(node) if within is None or _inside(w, within)]
            self._collect(node.left, out, windows)
            self._collect(node.right, out, windows)
        else:
            out.update(s for s in self.spans(node) if within is None or _inside(s, within))

    def _mark(self, span: Span) -> Mark:
        field, first, last = span
        starts = self._starts.get(field)
        if starts is None:
            starts = self._starts[field] = _token_starts(self.split[field])
        end = starts[last] + len(self.tokens[field][last])
        return Mark(DOC_FIELDS[field], starts[first], end)

    def terms(self, marks: Sequence[Mark]) -> tuple[str, ...]:
        seen: dict[str, str] = {}
        for mark in marks:
            text = self.texts[_FIELD_NO[mark.field]][mark.start : mark.end]
            seen.setdefault(text.lower(), text)
        return tuple(seen.values())


def _token_starts(split: str) -> list[int]:
    """Start offsets of the words of a ``split_fold`` text."""
    starts, at = [], 0
    for word in split.split(" "):
        if word:
            starts.append(at)
        at += len(word) + 1
    return starts


def _inside(span: Span, windows: list[Span]) -> bool:
    return any(w[0] == span[0] and w[1] <= span[1] and span[2] <= w[2] for w in windows)


def _near(left: list[Span], right: list[Span], distance: int) -> list[Span]:
    """Pairs within ``distance`` words, either order, same field; one span per extent."""
    if not left or not right:
        return []
    right = sorted(right)
    keys = [(f, first) for f, first, _ in right]
    out: set[Span] = set()
    reach = distance + 1 + max(last - first for _, first, last in left + right)
    for field, first, last in left:
        lo = bisect_right(keys, (field, first - reach - 1))
        for f, b_first, b_last in right[lo:]:
            if f != field or b_first > last + distance + 1:
                break
            if max(b_first - last, first - b_last) - 1 <= distance:  # words strictly between
                out.add((field, min(first, b_first), max(last, b_last)))
    return list(out)
