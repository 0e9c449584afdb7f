"""Events: which news event an article reports, from the evidence a newsroom would use.

A story groups copies of one article; an event groups the stories that report the same news
within a few days, across outlets and languages. The evidence is read from the headline and
the lead (the first ``LEAD_WORDS`` words of the text): named entities (capitalised names,
acronyms, and the shipped alias table that names one entity or term alike in English,
French, Haitian Creole and Spanish: crawler/event_aliases.py), numbers (a 13-0 vote, 96,000
people), and the content words of headline and lead. Everything here is pure.

An article's evidence is a set of *concepts* ("e:unsc", "n:guterres", "#13-0", "w:appeal").
Two articles report the same event when the weight of the concepts they share, against the
weight of each one's concepts, is high enough; the further apart in time, the more is asked.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Final

from haitiwatch.crawler.event_aliases import ALIASES, COMMON, MONTHS, STOPWORDS, UPPERCASE_ONLY
from haitiwatch.db.textnorm import fold

#: Words of the text read as its lead (after the headline).
LEAD_WORDS: Final = 80
#: Change anything in the concept or key computation: bump this (stored keys age out).
SCHEME: Final = b"events-2"

# A number (with its separators: 13-0, 96,000, 1.5) or a word (letters, no digits).
_TOKEN_RE: Final = re.compile(r"\d+(?:[-.,:/]\d+)*|[^\W\d_]+")
# After these a capital starts a sentence (or a dateline, a quote) and names nothing.
_SENTENCE_ENDS: Final = frozenset('.!?:"»«“”|—-–')
_YEAR_RE: Final = re.compile(r"(19|20)\d\d")

#: Weight of a shared concept, by kind.
WEIGHTS: Final = {"e": 2.0, "n": 2.0, "#": 1.5, "t": 1.0, "w": 1.0}
COMMON_WEIGHT: Final = 0.5


@dataclass(frozen=True, slots=True)
class EventParams:
    #: Articles further apart than this (publication times) never share an event.
    window: timedelta = timedelta(hours=72)
    #: The similarity needed at the same instant...
    min_score: float = 0.15
    #: ...and this much more at the window's edge (linear in between).
    distance_penalty: float = 0.15
    #: Shared weight of concepts that are not common (Haiti, Kenya, UN...) needed at least.
    min_distinct_weight: float = 3.0


@dataclass(frozen=True, slots=True)
class Token:
    folded: str
    capitalised: bool
    uppercase: bool
    sentence_start: bool


def tokens(text: str) -> Iterator[Token]:
    """Words and numbers of ``text``, folded, with how they were written."""
    previous_end = 0
    for match in _TOKEN_RE.finditer(text):
        word = match.group()
        gap = text[previous_end : match.start()]
        start = previous_end == 0 or any(ch in _SENTENCE_ENDS for ch in gap)
        previous_end = match.end()
        yield Token(
            folded=fold(word),
            capitalised=word[:1].isupper(),
            uppercase=len(word) > 1 and word.isupper(),
            sentence_start=start,
        )


@cache
def _phrase_table() -> dict[tuple[str, ...], str]:
    table: dict[tuple[str, ...], str] = {}
    for concept, phrases in ALIASES.items():
        for phrase in phrases:
            words = tuple(t.folded for t in tokens(phrase))
            if words:
                table.setdefault(words, concept)
    return table


@cache
def _longest_phrase() -> dict[str, int]:
    """First word of an alias phrase -> the most words a phrase starting with it has (most
    words start none, and are read alone)."""
    longest: dict[str, int] = {}
    for words in _phrase_table():
        longest[words[0]] = max(longest.get(words[0], 0), len(words))
    return longest


def concepts(title: str, text: str) -> frozenset[str]:
    """The evidence of an article: its headline's and lead's concepts."""
    lead = " ".join(text.split(maxsplit=LEAD_WORDS)[:LEAD_WORDS])
    return frozenset(_part_concepts(title, is_title=True) | _part_concepts(lead, is_title=False))


def _part_concepts(text: str, is_title: bool) -> set[str]:
    toks = list(tokens(text.replace("U.S.", "US").replace("U.N.", "UN")))
    # In a Title Case Headline every word is capitalised: capitals say nothing there.
    title_case = is_title and sum(t.capitalised for t in toks) > 0.6 * max(1, len(toks))
    table, longest = _phrase_table(), _longest_phrase()
    found: set[str] = set()
    i = 0
    while i < len(toks):
        for size in range(min(longest.get(toks[i].folded, 0), len(toks) - i), 0, -1):
            words = tuple(t.folded for t in toks[i : i + size])
            concept = table.get(words)
            if concept is None:
                continue
            if size == 1 and words[0] in UPPERCASE_ONLY and not toks[i].uppercase:
                continue
            found.add(concept)
            i += size
            break
        else:
            if not _is_day_of_month(toks, i) and (concept := _token_concept(toks[i], title_case)):
                found.add(concept)
            i += 1
    return found


def _is_day_of_month(toks: list[Token], i: int) -> bool:
    """A number of one or two digits beside a month name ("January 31", "31 janvier")."""
    word = toks[i].folded
    if not (word.isdigit() and len(word) <= 2):
        return False
    return any(0 <= j < len(toks) and toks[j].folded in MONTHS for j in (i - 1, i + 1))


def _token_concept(token: Token, title_case: bool) -> str | None:
    word = token.folded
    if word[0].isdigit():
        if len(word.replace(",", "").replace(".", "")) < 2 or _YEAR_RE.fullmatch(word):
            return None  # a single digit or a year tells no event apart
        return "#" + word.replace(",", "")
    if word in STOPWORDS or len(word) < 3:
        return None
    if token.uppercase or (token.capitalised and not token.sentence_start and not title_case):
        return "n:" + word
    return "w:" + _stem(word)


def _stem(word: str) -> str:
    """A crude stem, enough for headline words: "appeals", "appealed" -> "appeal"."""
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            break
    return word[:7]


def weight(concept: str) -> float:
    if concept in COMMON:
        return COMMON_WEIGHT
    return WEIGHTS[concept[0]]


def _total(found: Iterable[str]) -> float:
    return sum(weight(c) for c in found)


@dataclass(frozen=True, slots=True)
class Evidence:
    """An article's concepts and their summed weight, which every comparison divides by:
    an article is compared with many others, so the sum is taken once."""

    concepts: frozenset[str]
    total: float

    @classmethod
    def of(cls, found: Iterable[str]) -> Evidence:
        found = frozenset(found)
        return cls(found, _total(found))


def similarity(a: Evidence, b: Evidence) -> tuple[float, float]:
    """(cosine of the weighted concept sets, shared weight of the uncommon concepts)."""
    shared = a.concepts & b.concepts
    if not shared:
        return 0.0, 0.0
    score = _total(shared) / math.sqrt(a.total * b.total)
    return score, _total(c for c in shared if c not in COMMON)


def same_event_score(
    a: Evidence,
    a_at: datetime,
    b: Evidence,
    b_at: datetime,
    params: EventParams,
) -> float | None:
    """How surely two articles report one event; None if they do not. Further apart in time
    asks for more evidence; beyond the window, never."""
    apart = abs(a_at - b_at)
    if apart > params.window:
        return None
    score, distinct = similarity(a, b)
    needed = params.min_score + params.distance_penalty * (apart / params.window)
    if score < needed or distinct < params.min_distinct_weight:
        return None
    return score


#: Index keys an article gets at most: the candidate lookup reads every recent article
#: holding one of them, so on a busy subject its cost grows with the keys. Entities and
#: names go first, then numbers, headline words, lead words (docs/events.md).
MAX_KEYS: Final = 24
_KEY_ORDER: Final = {"e": 0, "n": 0, "#": 1, "t": 2, "w": 3}


def event_keys(found: Iterable[str]) -> list[int]:
    """Signed 64-bit index keys of an article's uncommon concepts (common ones find too
    many), at most ``MAX_KEYS``, the most telling first. Articles that share no key are never
    compared: without a shared uncommon concept they could not score, and the cap leaves out
    lead words first."""
    uncommon = [(_KEY_ORDER[c[0]], _key(c)) for c in found if c not in COMMON]
    return sorted(key for _, key in sorted(uncommon)[:MAX_KEYS])


def _key(concept: str) -> int:
    digest = hashlib.blake2b(concept.encode(), digest_size=8, key=SCHEME).digest()
    return int.from_bytes(digest, "big", signed=True)


def concepts_to_text(found: Iterable[str]) -> str:
    """Stored form of a concept set, one concept a line (a concept holds no whitespace)."""
    return "\n".join(sorted(found))


def concepts_from_text(stored: str) -> frozenset[str]:
    return frozenset(c for c in stored.split("\n") if c)
