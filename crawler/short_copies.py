"""Copies told apart on what a feed gives: the headline and the summary (short texts).

A feed item has a headline and one to three sentences: too few for 5-word shingles, and the
same wire story at two outlets often differs in both (a reworded headline, a summary cut at
another length). Here the headline and the leads of summary and text, folded and without
known boilerplate, are compared on *phrases* (pairs of consecutive words, pairs of two
stopwords left out): how many the two share, what share of the smaller side the other has,
and how far apart the two were published (copies appear within hours; the further apart,
the more is asked). Two outlets' own reports of one event share names and words but few
phrases; copies share most.

Pure functions (no database). Candidates are found through MinHash band keys of the set of
distinctive words (order-free, so a reworded headline still meets its copy; their own key
kind in ``story_bands``: ``SHORT_SCHEME`` is mixed into each).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import cache
from typing import Final

import numpy as np

from haitiwatch.crawler.shingles import Shingles, key64, signature, tokens, word_hashes

SHORT_SCHEME: Final = 1
#: Words of a page text read as its lead (what a feed summary usually is).
LEAD_WORDS: Final = 60


@dataclass(frozen=True, slots=True)
class ShortParams:
    """When two short texts are copies. Tuned on labelled feeds (docs/stories.md)."""

    #: LSH banding of the word set: ``bands`` keys of ``rows`` MinHash values each.
    bands: int = 20
    rows: int = 2
    #: Word pairs both must share (a common topic shares a few).
    min_shared: int = 8
    #: Share of the smaller side's word pairs found in the other, published together...
    min_containment: float = 0.55
    #: ...plus this for each doubling of the gap beyond ``base_gap_hours``...
    per_doubling: float = 0.03
    base_gap_hours: float = 6.0
    #: ...and never joined further apart than this.
    max_gap_hours: float = 24.0 * 7
    #: Gap assumed when either publication time is unknown.
    unknown_gap_hours: float = 24.0


# Sentences outlets append to every item: never evidence that two items are one story.
_BOILERPLATE: Final = re.compile(
    "|".join(
        (
            r"\bthe post\b.{0,300}?\bappeared first on\b[^\n]*",
            r"\b(?:follow|like|join) us on\b[^\n.]*",
            r"\b(?:continue reading|read more|keep reading|read the full (?:story|article)|"
            r"click here|full story)\b[^\n]{0,80}",
            r"\b(?:sign up|subscribe)(?: (?:for|to))? (?:our|the)\b[^\n.]{0,80}",
            r"\b(?:this|the) (?:article|story) (?:was )?(?:originally |first )?"
            r"(?:appeared|published)\b[^\n]*",
            r"©[^\n]*|\ball rights reserved\b[^\n]*",
            r"\[(?:…|\.\.\.)\]",
        )
    ),
    re.IGNORECASE,
)
# Words without which no part of _BOILERPLATE matches.
_TRIGGERS: Final = (
    "appeared",
    " us on",
    "reading",
    "read more",
    "read the full",
    "click here",
    "full story",
    "sign up",
    "subscribe",
    "published",
    "©",
    "all rights reserved",
    "[",
)
# Function words (en, fr, es, ht) and wire tags: shared by unrelated items.
_STOPWORDS: Final = frozenset(
    """
    a about after against all also an and any are as at be been before but by can could did do
    does during for from had has have he her his how i if in into is it its just may more most
    new no not now of on one or our out over said says she so some than that the their them
    then there these they this those through to two under up us was we were what when where
    which while who will with would year years you ap afp reuters upi dpa efe ansa
    au aux avec ce ces dans de des du elle en est et il ils la le les leur lui mais ne nous ou
    par pas pour qu que qui sa se ses son sur un une
    al como con del el ella ellos es esta este las lo los mas para pero por se su sus una y
    ak an ki li nan pou yo te pa sou ke
    """.split()  # noqa: SIM905 (a word list reads better as text)
)


def lead_tokens(title: str, summary: str, text: str) -> list[str]:
    """Folded words of the headline, the summary's and the text's leads, without boilerplate
    sentences (a feed summary can be a whole article: only its lead is compared)."""
    leads = [_lead(summary), _lead(text)]
    parts = [title, leads[0]] if leads[1] == leads[0] else [title, *leads]
    return tokens(without_boilerplate("\n".join(p for p in parts if p)))


def without_boilerplate(text: str) -> str:
    """The text without the sentences outlets append to every item ("The post X appeared
    first on Y", "Follow us on ...", "Read more"): they are evidence of nothing."""
    # The pattern is slow on a long page (a case-blind alternation tried at every character):
    # it runs only on the lines holding a word it needs, found at C speed (no part of the
    # pattern spans lines).
    lowered = text.lower()
    if len(lowered) != len(text):  # case folding changed offsets: no shortcut
        return _BOILERPLATE.sub(" ", text)
    starts: set[int] = set()
    for trigger in _TRIGGERS:
        at = lowered.find(trigger)
        while at != -1:
            starts.add(lowered.rfind("\n", 0, at) + 1)
            at = lowered.find(trigger, _line_end(lowered, at))  # its line is marked
    if not starts:
        return text
    pieces: list[str] = []
    done = 0
    for start in sorted(starts):
        end = _line_end(text, start)
        pieces += [text[done:start], _BOILERPLATE.sub(" ", text[start:end])]
        done = end
    pieces.append(text[done:])
    return "".join(pieces)


def _lead(text: str) -> str:
    return " ".join(text.split(None, LEAD_WORDS)[:LEAD_WORDS]) if text else ""


def word_set(words: list[str]) -> Shingles:
    """Distinctive words (no stopwords, no one-letter words) as sorted 32-bit hashes: the
    MinHash of this set finds candidates, whatever order the words come in."""
    return word_hashes([w for w in words if len(w) > 1 and w not in _STOPWORDS])


def phrase_set(words: list[str]) -> Shingles:
    """Pairs of consecutive words, except pairs of two stopwords ("of the"), as sorted 32-bit
    hashes: copies share phrases; two reports written apart share words, fewer phrases."""
    return word_hashes(
        [
            f"{a} {b}"
            for a, b in itertools.pairwise(words)
            if a not in _STOPWORDS or b not in _STOPWORDS
        ]
    )


def _line_end(text: str, at: int) -> int:
    end = text.find("\n", at)
    return len(text) if end == -1 else end


def headline_only(phrases: Shingles, title: str, params: ShortParams) -> bool:
    """Whether a side adds too few phrases to its headline to be judged on more than it."""
    extra = np.setdiff1d(phrases, phrase_set(lead_tokens(title, "", "")), assume_unique=True)
    return extra.size < params.min_shared // 2


def short_keys(words: Shingles, params: ShortParams) -> list[int]:
    """Band keys of the word set (none for a set too small to ever verify)."""
    if words.size < params.min_shared:
        return []
    raw = signature(words, params.bands * params.rows).tobytes()
    width = params.rows * 4
    return [
        key64(_head(band) + raw[band * width : (band + 1) * width]) for band in range(params.bands)
    ]


@cache
def _head(band: int) -> bytes:
    return f"w{SHORT_SCHEME}:{band}:".encode()


def required_containment(gap_hours: float | None, params: ShortParams) -> float | None:
    """The containment two short texts need at this publication gap; None: too far apart."""
    gap = params.unknown_gap_hours if gap_hours is None else abs(gap_hours)
    if gap > params.max_gap_hours:
        return None
    doublings = float(np.log2(1 + max(0.0, gap - params.base_gap_hours) / params.base_gap_hours))
    return params.min_containment + params.per_doubling * doublings


def short_score(
    mine: Shingles, theirs: Shingles, gap_hours: float | None, params: ShortParams
) -> float | None:
    """How surely two short texts are copies (the containment of their phrase sets); None:
    they are not."""
    if not mine.size or not theirs.size:
        return None
    shared = len(np.intersect1d(mine, theirs, assume_unique=True))
    if shared < params.min_shared:
        return None
    containment = shared / min(mine.size, theirs.size)
    needed = required_containment(gap_hours, params)
    if needed is None or containment < needed:
        return None
    return containment
