"""Story decisions: which index keys an article gets, and whether two articles are copies.

Pure functions (no database). The hashing (shingles, MinHash, band keys) is in
``crawler/shingles.py``; the evidence for short texts (feed titles and summaries) in
``crawler/short_copies.py``. Looking up an article's keys in the index finds its candidate
copies; every candidate is then verified (:func:`copy_score`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from haitiwatch.crawler.shingles import (
    SCHEME,
    Shingles,
    Similarity,
    array_similarity,
    band_keys,
    key64,
    shingle_array,
    signature,
    tokens,
    unpack,
)
from haitiwatch.crawler.short_copies import (
    ShortParams,
    headline_only,
    lead_tokens,
    phrase_set,
    required_containment,
    short_keys,
    short_score,
    without_boilerplate,
    word_set,
)


@dataclass(frozen=True, slots=True)
class StoryParams:
    """How texts are compared. The defaults come from measurements (docs/stories.md)."""

    #: Words per shingle.
    shingle_words: int = 5
    #: LSH banding: ``bands`` keys of ``rows`` MinHash values each.
    bands: int = 32
    rows: int = 2
    #: A text with fewer shingles is treated as title-only (feed summaries, paywalls).
    min_shingles: int = 25
    #: Verified copy: Jaccard of the shingle sets at least this...
    min_jaccard: float = 0.25
    #: ...or this share of the smaller text's shingles found in the other.
    min_containment: float = 0.5
    #: A normalised title needs this many words to identify a story on its own.
    min_title_words: int = 4
    #: When short texts (feed summaries) are copies: word-level evidence and time.
    short: ShortParams = field(default_factory=ShortParams)

    @property
    def num_perm(self) -> int:
        return self.bands * self.rows


__all__ = [
    "CopyText",
    "StoryParams",
    "article_keys",
    "copy_score",
    "copy_text",
    "has_text",
    "is_copy",
    "normalise_title",
    "title_key",
]

# Labels outlets put before a headline ("Opinion | X", "LIVE: X", "WATCH: X").
_LABELS: Final = (
    "opinion|op-ed|oped|editorial|analysis|commentary|comment|column|explainer|exclusive|"
    "live|live updates|live blog|breaking|breaking news|update|updated|watch|video|videos|"
    "photos|in pictures|pictures|podcast|listen|audio|factbox|fact check|q&a|interview|"
    "just in|developing|news"
)
_PREFIX_RE: Final = re.compile(rf"^\s*(?:{_LABELS})\s*(?:\||:|-|–|—)\s*", re.IGNORECASE)
# "X - Outlet", "X | Outlet", "X — Outlet": the last short segment after a separator.
_SUFFIX_RE: Final = re.compile(r"\s+(?:\||-|–|—|::|•)\s+([^|–—•]{1,60})$")
_SUFFIX_MAX_WORDS: Final = 5


# -- titles ----------------------------------------------------------------------------------


def normalise_title(title: str) -> str:
    """The headline without labels or the outlet's name, folded: "Opinion | X - Outlet" -> "x"."""
    text = " ".join(title.split())
    for _ in range(3):  # "LIVE: WATCH: X"
        stripped = _PREFIX_RE.sub("", text, count=1)
        if stripped == text or not stripped.strip():
            break
        text = stripped
    match = _SUFFIX_RE.search(text)
    if match and len(match.group(1).split()) <= _SUFFIX_MAX_WORDS:
        head = text[: match.start()]
        if len(head.split()) >= 3:
            text = head
    return " ".join(tokens(text))


def title_key(title: str, min_words: int = 4) -> int | None:
    """The key under which items with the same normalised headline meet; None if too generic."""
    normalised = normalise_title(title)
    if len(normalised.split()) < min_words:
        return None
    return key64(f"t{SCHEME}:{normalised}".encode())


# -- articles --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CopyText:
    """One side of a comparison: its headline, its text's shingles, the phrases of its title
    + summary + lead (``short_copies``), and when it was published."""

    title: str
    shingles: Shingles
    phrases: Shingles
    published: datetime | None = None
    #: The source it came from: one feed's items share its template ("About this channel...").
    source: str | None = None


def copy_text(
    title: str,
    text: str,
    params: StoryParams,
    summary: str | None = None,
    published: datetime | None = None,
    stored: bytes | None = None,
    source: str | None = None,
) -> CopyText:
    """What an article is compared on: from its stored hashes (``pack``) when given, else
    computed from its text (and summary)."""
    text_shingles, phrases = unpack(stored) if stored is not None else (None, None)
    if text_shingles is None:
        text_shingles = shingle_array(without_boilerplate(text), params.shingle_words)
    if phrases is None:
        phrases = phrase_set(lead_tokens(title, summary or "", text))
    return CopyText(title, text_shingles, phrases, published, source)


def has_text(text_shingles: frozenset[int] | Shingles, params: StoryParams) -> bool:
    return len(text_shingles) >= params.min_shingles


def article_keys(
    title: str,
    text: str,
    params: StoryParams,
    text_shingles: Shingles | None = None,
    summary: str | None = None,
) -> list[int]:
    """Every index key of an article: its text's band keys (if it has text), the band keys of
    the words of its title + summary + lead (short-text evidence), and its title key."""
    keys: list[int] = []
    if text_shingles is None:
        text_shingles = shingle_array(without_boilerplate(text), params.shingle_words)
    if has_text(text_shingles, params):
        sig = signature(text_shingles, params.num_perm)
        keys.extend(band_keys(sig, params.bands, params.rows))
    keys.extend(short_keys(word_set(lead_tokens(title, summary or "", text)), params.short))
    if (key := title_key(title, params.min_title_words)) is not None:
        keys.append(key)
    return keys


def copy_score(mine: CopyText, theirs: CopyText, params: StoryParams) -> float | None:
    """How surely two articles are copies of one story (higher is surer); None: they are not.

    Two full texts are compared on their shingles only (a shared headline or lead is not
    enough: two outlets' own reports of one UN vote may carry the same ones). When either is
    short (a feed summary, a teaser), the phrase evidence of ``short_copies`` decides, weighed
    by the publication gap (never between two items of one source: what they share is the
    source's template); an item with little more than its headline joins an equal one.
    """
    if has_text(mine.shingles, params) and has_text(theirs.shingles, params):
        sim = array_similarity(mine.shingles, theirs.shingles)
        return max(sim.jaccard, sim.containment) if is_copy(sim, params) else None
    gap = _gap_hours(mine.published, theirs.published)
    one_source = mine.source is not None and mine.source == theirs.source
    score = None if one_source else short_score(mine.phrases, theirs.phrases, gap, params.short)
    if required_containment(gap, params.short) is None:
        return None
    if score is None and _one_headline(mine, theirs, params):
        return 0.5  # below most verified matches, so text evidence is preferred
    return score


def _one_headline(mine: CopyText, theirs: CopyText, params: StoryParams) -> bool:
    """Equal normalised headlines, and one side has little more than its headline: a feed
    item without a summary, a teaser. (Two items that both say more are judged on that:
    two reports of different events can carry one generic headline.)"""
    key = title_key(mine.title, params.min_title_words)
    if key is None or key != title_key(theirs.title, params.min_title_words):
        return False
    short = params.short
    return any(
        not has_text(side.shingles, params) and headline_only(side.phrases, side.title, short)
        for side in (mine, theirs)
    )


def _gap_hours(a: datetime | None, b: datetime | None) -> float | None:
    if a is None or b is None:
        return None
    return abs((a - b).total_seconds()) / 3600


def is_copy(sim: Similarity, params: StoryParams) -> bool:
    if sim.smaller < params.min_shingles:
        return False
    return sim.jaccard >= params.min_jaccard or sim.containment >= params.min_containment
