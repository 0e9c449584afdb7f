"""Near misses: how close an article the rule did not match came to matching, and why.

Pure: a rule's syntax tree and an article's title and text in, a score and short readable
reasons out. The matcher (``RuleSet``) decides what matches; this module only looks at the
articles it rejected. Each node of the tree gets a *closeness* in [0, 1], exactly 1 when the
node is true:

- a word or phrase: 1 when present (in its field); a ``title:`` word only in the text, or a
  phrase whose words occur apart, counts half or less;
- OR: its closest item; AND: the mean of its items (a NOT that excludes the article halves it);
- NEAR: both sides present in one field count more the closer they are; sides in different
  fields, or only one side, count half or less.

The score adds to the root's closeness the rule words found in the title and the number of
distinct rule words found, so that among equally close articles the more on-topic rank first.
Appending a rule word (one not under a NOT) to an article never lowers its score: positions
already there do not move, so gaps only shrink and presence only grows.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol, TypeVar

from haitiwatch.db.query.ast import And, Leaf, Near, Node, Not, Or, Phrase, Term, leaves, to_query
from haitiwatch.scheduler.rules.compiled import CompiledRule, compile_rule
from haitiwatch.scheduler.rules.matcher import DOC_FIELDS, Document, RuleSet

#: (title, text) -> a probability-like score in [0, 1] from a learned classifier, or None
#: when it has no opinion (no model trained for the rule).
ExtraScorer = Callable[[str, str], float | None]

#: A classifier score at least this high makes an article a near miss even without rule words.
EXTRA_ON_TOPIC: Final = 0.5
_SHOWN_CHARS: Final = 60
_SHOWN_WORDS: Final = 6
_SHOWN_ITEMS: Final = 3
#: Weights of the score's parts: closeness of the rule's best part, words in the title,
#: distinct rule words anywhere.
_W_CLOSE, _W_TITLE, _W_DISTINCT = 0.7, 0.15, 0.15

#: (field number, first token, last token)
_Span = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class NearMiss:
    """Why an unmatched article looks on topic for a rule."""

    #: Lexical score in [0, 1): higher is closer to matching.
    score: float
    reasons: tuple[str, ...]
    #: The extra (learned) scorer's opinion, when one was given and it had one.
    extra: float | None = None

    @property
    def rank(self) -> float:
        """What orders near misses: the learned score when present, else the lexical one."""
        return self.extra if self.extra is not None else self.score


class HasText(Protocol):
    @property
    def title(self) -> str: ...

    @property
    def text(self) -> str: ...


ItemT = TypeVar("ItemT", bound=HasText)


def near_miss(
    rule: CompiledRule, title: str, text: str, extra: ExtraScorer | None = None
) -> NearMiss | None:
    """How close an article came to ``rule``; None when the rule matches it, or when it has
    none of the rule's words (and the extra scorer, if any, does not call it on topic)."""
    return _near_miss(RuleSet([rule]), _positive(rule.node), title, text, extra)


def closeness(node: Node, title: str, text: str) -> float:
    """How close an article comes to ``node``, in [0, 1]: exactly 1 when it matches."""
    return _Doc(RuleSet([compile_rule("closeness", node)]).document(title, text)).closeness(node)


def top_near_misses(
    rule: CompiledRule,
    items: Iterable[ItemT],
    limit: int,
    extra: ExtraScorer | None = None,
    group: Callable[[ItemT], Hashable] | None = None,
) -> list[tuple[ItemT, NearMiss]]:
    """The ``limit`` best near misses among ``items``, best first (ties: earlier item first).
    With ``group`` (e.g. the item's story), only the best item of each group is kept."""
    rules, positive = RuleSet([rule]), _positive(rule.node)
    best: dict[Hashable, tuple[tuple[float, float, int], ItemT, NearMiss]] = {}
    for at, item in enumerate(items):
        found = _near_miss(rules, positive, item.title, item.text, extra)
        if found is None:
            continue
        key = group(item) if group is not None else at
        entry = ((found.rank, found.score, -at), item, found)
        if key not in best or entry[0] > best[key][0]:
            best[key] = entry
        if len(best) > 4 * limit:
            # A group dropped here cannot return to the top: 2 * limit groups beat it already.
            best = dict(heapq.nlargest(2 * limit, best.items(), key=lambda kv: kv[1][0]))
    ranked = heapq.nlargest(limit, best.values(), key=lambda e: e[0])
    return [(item, found) for _, item, found in ranked]


def _positive(node: Node) -> tuple[Leaf, ...]:
    """The leaves not under a NOT, each once."""
    return tuple(dict.fromkeys(leaf for leaf, negated in leaves(node) if not negated))


def _near_miss(
    rules: RuleSet, positive: tuple[Leaf, ...], title: str, text: str, extra: ExtraScorer | None
) -> NearMiss | None:
    """``near_miss`` of the one rule of ``rules``, whose positive leaves are ``positive``."""
    node = rules.rules[0].node
    words = rules.document(title, text)
    if words.truth(node):
        return None
    doc = _Doc(words)
    in_title = [leaf for leaf in positive if doc.present(leaf, 0)]
    in_text = [leaf for leaf in positive if doc.present(leaf, 1)]
    distinct = {_label(leaf) for leaf in in_title + in_text}
    opinion = extra(title, text) if extra is not None else None
    if not distinct and (opinion is None or opinion < EXTRA_ON_TOPIC):
        return None
    score = (
        _W_CLOSE * doc.closeness(node)
        + _W_TITLE * (1 - 0.5 ** len({_label(leaf) for leaf in in_title}))
        + _W_DISTINCT * (1 - 0.5 ** len(distinct))
    )
    reasons = doc.explain(node)
    for name, found in (("title", in_title), ("text", in_text)):
        if found:
            reasons.append(f"rule words in the {name}: " + _words(found))
    if opinion is not None:
        reasons.append(f"classifier score {opinion:.2f}")
    return NearMiss(round(min(score, 0.999), 3), tuple(reasons), opinion)


class _Doc:
    """Closeness of tree nodes over one article (memoised). Where a node matches, and which of
    the rule's words occur where, is the matcher's own reading of the article."""

    def __init__(self, words: Document) -> None:
        self.words = words
        self.tokens = words.tokens
        self.positions = words.positions
        self._close: dict[int, float] = {}

    def spans(self, node: Node) -> list[_Span]:
        return self.words.spans(node)

    def _phrase(self, phrase: Phrase, field: int) -> list[_Span]:
        first, *rest = phrase.words
        out = []
        for f, at in self.positions.get(first, ()):
            tokens = self.tokens[f]
            if f == field and tuple(tokens[at : at + len(rest) + 1]) == tuple(phrase.words):
                out.append((f, at, at + len(rest)))
        return out

    def present(self, leaf: Leaf, field: int) -> bool:
        """The leaf occurs in ``field`` (ignoring the field the rule asks for)."""
        if isinstance(leaf, Phrase):
            return bool(self._phrase(leaf, field))
        words = self.words.expansions.get(leaf.word, ()) if leaf.prefix else (leaf.word,)
        return any(f == field for word in words for f, _ in self.positions.get(word, ()))

    # -- closeness ---------------------------------------------------------------------------

    def closeness(self, node: Node) -> float:
        key = id(node)
        if key not in self._close:
            self._close[key] = self._closeness(node)
        return self._close[key]

    def _closeness(self, node: Node) -> float:
        if isinstance(node, Term | Phrase):
            if self.spans(node):
                return 1.0
            if node.field and (self.present(node, 0) or self.present(node, 1)):
                return 0.5  # present, in the other field
            if isinstance(node, Phrase):
                have = sum(word in self.positions for word in dict.fromkeys(node.words))
                return 0.5 * have / len(set(node.words))
            return 0.0
        if isinstance(node, Or):
            return max(self.closeness(item) for item in node.items)
        if isinstance(node, Not):
            return 0.0 if self.closeness(node.child) == 1.0 else 1.0
        if isinstance(node, And):
            wanted = [self.closeness(i) for i in node.items if not isinstance(i, Not)]
            mean = sum(wanted) / len(wanted) if wanted else 1.0
            excluded = any(self.closeness(i) == 0.0 for i in node.items if isinstance(i, Not))
            return mean * 0.5 if excluded else mean
        if self.spans(node):
            return 1.0
        left, right = self.closeness(node.left), self.closeness(node.right)
        if left == 1.0 and right == 1.0:
            gap = self.nearest(node)
            if gap is None:
                return 0.5  # both sides, but in different fields
            return 0.5 + 0.5 * (node.distance + 1) / (gap + 1)
        return 0.25 * (left + right)

    def nearest(self, near: Near) -> int | None:
        """The fewest words between the two sides in one field (None: never in one field)."""
        gaps = [_gap(a, b) for a, b in _pairs(self.spans(near.left), self.spans(near.right))]
        return min(gaps, default=None)

    # -- reasons -----------------------------------------------------------------------------

    def explain(self, node: Node) -> list[str]:
        """Short reasons for the closest part of ``node`` (an OR: its best item only)."""
        close = self.closeness(node)
        if close == 0.0:
            return []
        if isinstance(node, Or):
            best = max(node.items, key=self.closeness)
            return self.explain(best)
        if isinstance(node, And):
            found = [i for i in node.items if not isinstance(i, Not) and self.closeness(i) == 1]
            missing = [i for i in node.items if not isinstance(i, Not) and self.closeness(i) < 1]
            reasons = []
            if missing and found:
                reasons.append(f"AND: found {_list(found)}; missing {_list(missing)}")
            elif missing:
                reasons.append(f"AND: missing {_list(missing)}")
            for item in node.items:
                if isinstance(item, Not) and self.closeness(item) == 0.0:
                    reasons.append(f"excluded by NOT {_show(item.child)}")
                elif not isinstance(item, Not) and 0 < self.closeness(item) < 1:
                    reasons += self.explain(item)
            return reasons
        if isinstance(node, Near):
            return self._explain_near(node)
        if isinstance(node, Term | Phrase) and close < 1:
            if node.field:
                return [f"{_show(node)}: the words are there, not in the {node.field}"]
            return [f"{_show(node)}: some of its words occur, not as the phrase"]
        return [f"found {_show(node)}"] if close == 1 else []

    def _explain_near(self, near: Near) -> list[str]:
        left, right = self.closeness(near.left), self.closeness(near.right)
        if left == 1.0 and right == 1.0:
            pairs = _pairs(self.spans(near.left), self.spans(near.right))
            if not pairs:
                a, b = self._found(near.left), self._found(near.right)
                return [f"{a} and {b} both occur, but not in the same field (NEAR/{near.distance})"]
            a_span, b_span = min(pairs, key=lambda p: (_gap(*p), p))  # ties: the first
            return [
                f"{self._words_at(a_span)} and {self._words_at(b_span)} both in the "
                f"{DOC_FIELDS[a_span[0]]}, but {_gap(a_span, b_span)} words apart "
                f"(limit {near.distance})"
            ]
        found, other = (near.left, near.right) if left >= right else (near.right, near.left)
        if self.closeness(found) == 1.0:
            return [
                f"{self._found(found)} found; nothing within {near.distance} words: {_show(other)}"
            ]
        return self.explain(found)

    def _words_at(self, span: _Span) -> str:
        field, first, last = span
        return " ".join(self.tokens[field][first : last + 1])

    def _found(self, node: Node) -> str:
        """The rule words of ``node`` that occur, for a reason."""
        present = [leaf for leaf, _ in leaves(node) if self.spans(leaf)]
        return _list(list(dict.fromkeys(present))) or _show(node)


def _pairs(left: list[_Span], right: list[_Span]) -> list[tuple[_Span, _Span]]:
    return [(a, b) for a in left for b in right if a[0] == b[0]]


def _gap(a: _Span, b: _Span) -> int:
    """Words strictly between two spans of one field (negative when they overlap)."""
    return max(b[1] - a[2], a[1] - b[2]) - 1


def _label(leaf: Leaf) -> str:
    """A leaf without its field: ``title:haiti`` and ``haiti`` are the same rule word."""
    if isinstance(leaf, Term):
        return leaf.word + ("*" if leaf.prefix else "")
    return '"' + " ".join(leaf.words) + '"'


def _show(node: Node) -> str:
    if isinstance(node, Or) and len(node.items) > _SHOWN_ITEMS:
        head = " OR ".join(_show(item) for item in node.items[:_SHOWN_ITEMS])
        return f"({head} OR {len(node.items) - _SHOWN_ITEMS} more)"
    text = to_query(node)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"


def _list(nodes: Sequence[Node]) -> str:
    shown = ", ".join(_show(n) for n in nodes[:_SHOWN_WORDS])
    return shown + (f" (+{len(nodes) - _SHOWN_WORDS} more)" if len(nodes) > _SHOWN_WORDS else "")


def _words(found: list[Leaf]) -> str:
    labels = list(dict.fromkeys(_label(leaf) for leaf in found))
    shown = ", ".join(labels[:_SHOWN_WORDS])
    return shown + (f" (+{len(labels) - _SHOWN_WORDS} more)" if len(labels) > _SHOWN_WORDS else "")
