"""Same text at another URL of the same outlet: the same article, or two items that share it?

An article is also keyed by its outlet and text hash, so that its AMP or print copy, its URL
after a slug change, or a retitled update at a new URL is found as the article it is. But
outlets give different items one text: a channel's description under every video, a
donation plea, an image caption. A text-hash match therefore folds only with evidence that
the two are one article (``same_article``); otherwise both are stored. Keeping apart two
copies of one article stores a duplicate; folding two articles loses one, which is worse.

Pure functions, stdlib only (the crawl's CPU workers use them too); db/alias_owners.py reads
what they need of stored articles.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from haitiwatch.db.records import ArticleRecord

Key = tuple[str, str]

#: A title needs this many words to match another it begins ("X" and "X, police say").
MIN_PREFIX_WORDS: Final = 4
#: Page text this long is an article's own body, not boilerplate (a consent or paywall page
#: is shorter): its copy at another URL is the article however it is retitled.
LONG_PAGE_CHARS: Final = 2000

# Labels that outlets put before or after a headline without changing the article.
_LABEL = (
    r"(?:live(?:\s+updates?|\s+blog)?|breaking(?:\s+news)?|updated?(?:\s+\d+)?|opinion"
    r"|exclusive|analysis|editorial|explainer|commentary|watch|video|photos?|factbox"
    r"|fact[\s-]*check|correct(?:ed|ion))"
)
_SEPARATOR = r"[:|\-\u2013\u2014]"
_LEADING_LABEL: Final = re.compile(
    rf"^\s*(?:[\[(]\s*{_LABEL}\s*[\])]\s*{_SEPARATOR}?|{_LABEL}\s*{_SEPARATOR})\s*", re.I
)
_TRAILING_LABEL: Final = re.compile(rf"\s*(?:{_SEPARATOR}|[\[(])\s*{_LABEL}\s*[\])]?\s*$", re.I)
_WORD: Final = re.compile(r"[^\W_]+")
#: A UUID is one id (its last group, a version 1 UUID's node, is shared by many).
_TOKEN: Final = re.compile(r"[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}|[A-Za-z0-9]+", re.I)
_DIGIT_RUN: Final = re.compile(r"(?<![0-9])[0-9]{5,}(?![0-9])")
_LETTERS_OR_DIGITS: Final = re.compile(r"[A-Za-z]+|[0-9]+")
#: Path segments and query values that mark a print or AMP rendering of the same page.
_VARIANT_MARKS: Final = frozenset(
    {"amp", "print", "printer", "printable", "print-friendly", "printer-friendly", "printpage"}
)


@dataclass(frozen=True, slots=True)
class Identity:
    """What tells an article apart besides its text."""

    title: str
    #: Its URLs, canonical first.
    urls: tuple[str, ...]
    #: Its text is a long article body from its page (``LONG_PAGE_CHARS``).
    long_page_text: bool = False


def same_article(stored: Identity, new: Identity) -> bool:
    """Is ``new``, whose text hash is ``stored``'s (same outlet), that same article?

    Their URLs decide first: the same article id (``article_id``) says yes, different ids
    say no (two videos, two numbered items, however alike). Otherwise yes when the titles
    match (``titles_match``), when a URL of one is a print or AMP variant of a URL of the
    other, or when both texts are long page bodies. Otherwise the shared text is boilerplate
    or too thin to tell: keep them apart.
    """
    old_ids = {article_id(url) for url in stored.urls} - {None}
    new_ids = {article_id(url) for url in new.urls} - {None}
    if old_ids & new_ids:
        return True
    if old_ids and new_ids:
        return False
    if titles_match(stored.title, new.title):
        return True
    if any(print_or_amp_variants(a, b) for a in stored.urls for b in new.urls):
        return True
    return stored.long_page_text and new.long_page_text


def identity(
    title: str, urls: tuple[str, ...], text: str, text_origin: str, text_chars: int | None = None
) -> Identity:
    """An article's identity from its title, URLs and text (``text`` may be only its start,
    with ``text_chars`` its length). A title that only repeats the start of the text (an
    untitled item's, made from its text) tells nothing the text does not: it is left out."""
    chars = len(text) if text_chars is None else text_chars
    return Identity(
        "" if _begins(text, title) else title,
        urls,
        text_origin == "page" and chars >= LONG_PAGE_CHARS,
    )


def record_identity(record: ArticleRecord) -> Identity:
    urls = (record.canonical_url, *record.alias_urls)
    return identity(record.title, urls, record.text, record.text_origin)


def _begins(text: str, title: str) -> bool:
    # A title made from a text is its first line, cut at a length: compared as words.
    title_start = " ".join(_plain_words(title))
    return " ".join(_plain_words(text[: 2 * len(title) + 20])).startswith(title_start)


# -- titles ---------------------------------------------------------------------------------


def titles_match(a: str, b: str) -> bool:
    """Equal once case, accents, punctuation and a label ("LIVE:", "Opinion |", "UPDATE 2-",
    "(updated)") are set aside, or one begins the other and has ``MIN_PREFIX_WORDS``."""
    words_a, words_b = title_words(a), title_words(b)
    if words_a == words_b:
        return bool(words_a)
    shorter, longer = sorted((words_a, words_b), key=len)
    return len(shorter) >= MIN_PREFIX_WORDS and longer[: len(shorter)] == shorter


def title_words(title: str) -> tuple[str, ...]:
    """The words of a title without its label, case and accents."""
    return _plain_words(_TRAILING_LABEL.sub("", _LEADING_LABEL.sub("", title, count=1), count=1))


def _plain_words(text: str) -> tuple[str, ...]:
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return tuple(_WORD.findall(plain.casefold()))


# -- URLs -----------------------------------------------------------------------------------


def print_or_amp_variants(a: str, b: str) -> bool:
    """The same URL but for path segments or query parameters marking print or AMP."""
    return _without_variant_marks(a) == _without_variant_marks(b)


def _without_variant_marks(url: str) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    parts = urlsplit(url)
    segments = tuple(s for s in parts.path.split("/") if s and s.lower() not in _VARIANT_MARKS)
    query = tuple(sorted(pair for pair in parts.query.split("&") if pair and not _marks(pair)))
    return parts.netloc.lower(), segments, query


def _marks(pair: str) -> bool:
    name, _, value = pair.partition("=")
    return name.lower() in _VARIANT_MARKS or value.lower() in _VARIANT_MARKS


def article_id(url: str) -> str | None:
    """The id in the URL's last path segment (print and AMP marks aside), else in its query:
    the last run of 5 or more digits that is not a date, or a token of 8 or more characters
    alternating letters and 3 or more digits (hex ids, "c4ng9x2z8zvo", YouTube's
    "f8O3XMrC8hg").
    None when there is none (most slugs). Ids in earlier segments are often a section's."""
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s and s.lower() not in _VARIANT_MARKS]
    for part in (segments[-1] if segments else "", parts.query):
        if found := list(_ids_in(part)):
            return found[-1]
    return None


def _ids_in(text: str) -> Iterable[str]:
    for match in _TOKEN.finditer(text):
        token = match.group()
        if _is_token_id(token):
            yield token
        else:
            yield from (run for run in _DIGIT_RUN.findall(token) if not _is_date(run))


def _is_token_id(token: str) -> bool:
    """Generated, not written: letters and digits alternate ("h1n1outbreak" has too few)."""
    digits = sum(char.isdigit() for char in token)
    return len(token) >= 8 and digits >= 3 and len(_LETTERS_OR_DIGITS.findall(token)) >= 4


def _is_date(digits: str) -> bool:
    """yyyymm, yyyymmdd or ddmmyyyy: a date in a path is shared by that day's articles."""
    if len(digits) == 6:
        return _is_year(digits[:4]) and 1 <= int(digits[4:]) <= 12
    if len(digits) == 8:
        year_first = _is_year(digits[:4]) and _is_month_day(digits[4:6], digits[6:])
        return year_first or (_is_year(digits[4:]) and _is_month_day(digits[2:4], digits[:2]))
    return False


def _is_year(digits: str) -> bool:
    return 1990 <= int(digits) <= 2100


def _is_month_day(month: str, day: str) -> bool:
    return 1 <= int(month) <= 12 and 1 <= int(day) <= 31


# -- the Store's batches ---------------------------------------------------------------------

Keyed = tuple[ArticleRecord, list[Key]]


def apart_from_false_aliases(
    keyed: Sequence[Keyed], stored: Set[Key], owners: Mapping[Key, Identity]
) -> list[Keyed]:
    """Each record with its keys, less its text-hash key when that key is all it matches (a
    stored article's, ``owners``, or an earlier record's of the batch) and the match is not
    the same article: the record is then stored as an article of its own."""
    claimed: dict[Key, ArticleRecord] = {}
    kept: list[Keyed] = []
    for record, keys in keyed:
        matches = [key for key in keys if key in stored or key in claimed]
        if matches and all(kind == "hash" for kind, _ in matches):
            key = matches[0]  # a record has one text-hash key
            owner = owners[key] if key in stored else record_identity(claimed[key])
            if not same_article(owner, record_identity(record)):
                keys = [k for k in keys if k != key]
        for key in keys:
            claimed.setdefault(key, record)
        kept.append((record, keys))
    return kept


def text_only_matches(keyed: Sequence[Keyed], stored: Set[Key]) -> list[Key]:
    """The stored text-hash keys that are all some record matches (their owners are needed)."""
    return [
        key
        for _record, keys in keyed
        if all(k not in stored for k in keys if k[0] != "hash")
        for key in keys
        if key[0] == "hash" and key in stored
    ]
