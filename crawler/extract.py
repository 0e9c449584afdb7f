"""Article page text extraction: bytes -> ExtractedPage.

    bytes --decode_html--> str --load_html (once)--> lxml tree
        tree --our reads--> canonical URL, language, published timestamp, headline candidates
        tree --trafilatura.bare_extraction--> main text, title, authors, date

trafilatura does the hard part (boilerplate removal, metadata). We add what it leaves out or
returns in a lossy form: a full publication timestamp (it returns "YYYY-MM-DD" by default), the
page language, the canonical URL resolved against the request URL, and a title without the
" | Site Name" suffix. The page is parsed once; trafilatura receives the tree (it copies it).
trafilatura runs no network I/O here: it only parses the string or tree it is given.
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import trafilatura
from lxml.html import HtmlElement
from trafilatura.settings import Document
from trafilatura.utils import load_html
from w3lib.encoding import (
    html_body_declared_encoding,
    http_content_type_encoding,
    read_bom,
    resolve_encoding,
    to_unicode,
)

from haitiwatch.crawler.feeds import FUTURE_SLACK, plausible
from haitiwatch.crawler.language import NOT_LANGUAGES
from haitiwatch.db.records import ExtractedPage

__all__ = ["decode_html", "extract_page", "normalise_text", "parse_timestamp", "split_authors"]

LOGGER = logging.getLogger(__name__)

_EMPTY = ExtractedPage(title=None, text=None)

# Meta tags that carry the original publication instant. We read them ourselves so the time of
# day and the offset survive; htmldate's answer (via trafilatura) is the fallback.
_PUBLISHED_XPATH = (
    '//meta[@property="article:published_time" or @name="article:published_time"'
    ' or @property="og:article:published_time" or @itemprop="datePublished"'
    ' or @name="parsely-pub-date" or @name="sailthru.date" or @name="dc.date.issued"'
    ' or @name="DC.date.issued"]/@content'
)
_JSON_LD_XPATH = '//script[@type="application/ld+json"]/text()'
_CANONICAL_XPATHS = ('//link[@rel="canonical"]/@href', '//meta[@property="og:url"]/@content')
_OG_TITLE_XPATH = '//meta[@property="og:title" or @name="og:title"]/@content'

# htmldate gives the time of day too when the page has one; "%z" keeps its offset if any.
_DATE_PARAMS_FORMAT = "%Y-%m-%dT%H:%M:%S%z"

# A title suffix starts with one of these: "Headline | Site", "Headline - Site", "見出し：新聞".
_TITLE_SUFFIX_START = re.compile(r"\s*[|\-–—:：｜·/]")
# Conjunctions are matched in lower case only, so the initial in "Maria E. Silva" stays.
_AUTHOR_SPLIT = re.compile(r"\s*[,&/|]\s*|\s+(?:and|und|et|y|e|og|och|en)\s+")
_LAST_FIRST = re.compile(r"([^\W\d_][\w'-]*),\s*([^\W\d_][\w'.-]*)")
_TIMESTAMP = re.compile(
    r"(\d{4}-\d{2}-\d{2})"  # day
    r"(?:[Tt ](\d{2}:\d{2}(?::\d{2})?)([.,]\d+)?)?"  # time, fraction
    r"\s*([Zz]|[+-]\d{2}(?::?\d{2})?)?"  # offset
)
_ZERO_WIDTH = dict.fromkeys(map(ord, "\xad\u200b\u200c\u200d\u2060\ufeff"))
_UTF8_NAMES = frozenset({"utf-8", "utf8"})


def extract_page(body: bytes, url: str, encoding: str | None = None) -> ExtractedPage:
    """Extract title, text and metadata from an article page; never raises.

    ``encoding`` is the charset the HTTP Content-Type header declared, if any (it may be wrong).
    Fields that cannot be found are None (or empty); garbage input gives an all-None page.
    """
    try:
        tree = _parse(decode_html(body, encoding))
    except Exception:  # lxml and codecs raise many types on hostile input
        LOGGER.debug("unparsable page %s", url, exc_info=True)
        return _EMPTY
    if tree is None:
        return _EMPTY
    try:
        return _extract_from_tree(tree, url)
    except Exception:  # a bug in a third-party heuristic must not stop the crawl
        LOGGER.warning("extraction failed for %s", url, exc_info=True)
        return _EMPTY


def decode_html(body: bytes, declared: str | None = None) -> str:
    """Decode an HTML body without losing text to a wrong or missing charset declaration.

    The browser order, through w3lib's parts: BOM, HTTP header charset, <meta charset> /
    <meta http-equiv>, then cp1252 (the web's default for Western pages; w3lib's own guess
    from the bytes would decode one page differently from one version to the next). Two
    real-world cases break that order, so we handle them first:
    - bytes that are valid UTF-8 (and not plain ASCII) are UTF-8, whatever a stale header or
      <meta> says (pages re-encoded by a CMS or proxy keep their old gb2312/iso-8859-1 tag);
      other encodings essentially never produce valid multi-byte UTF-8 by accident.
    - a "utf-8" declaration on bytes that are not UTF-8 is a lie; decoding with it would turn
      every accented letter into U+FFFD, so it is ignored and the fallback (cp1252, the web's
      default for Western pages and a superset of ISO-8859-1) applies.
    """
    if not body:
        return ""
    bom_encoding, bom = read_bom(body)
    if bom_encoding is not None and bom is not None:
        return to_unicode(body[len(bom) :], bom_encoding)
    is_utf8 = _is_valid_utf8(body)
    if is_utf8 and not body.isascii():
        return body.decode("utf-8")
    header_charset = None if not is_utf8 and _names_utf8(declared) else declared
    content_type = f"text/html; charset={header_charset}" if header_charset else None
    encoding = http_content_type_encoding(content_type) or html_body_declared_encoding(body)
    if encoding is None or (not is_utf8 and _names_utf8(encoding)):
        encoding = "cp1252"  # nothing declared, or a <meta> claiming UTF-8 on other bytes
    return to_unicode(body, encoding)


def _is_valid_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _names_utf8(charset: str | None) -> bool:
    if not charset:
        return False
    resolved = resolve_encoding(charset.strip().strip("\"'")) or charset
    return resolved.lower().replace("_", "-") in _UTF8_NAMES


def _parse(text: str) -> HtmlElement | None:
    # lxml turns NUL into U+FFFD; NULs are never text (dropping them also rescues BOM-less UTF-16).
    text = text.replace("\x00", "")
    if not text.strip():
        return None
    tree = load_html(text)
    return tree if isinstance(tree, HtmlElement) else None


def _extract_from_tree(tree: HtmlElement, url: str) -> ExtractedPage:
    # Our reads come first; bare_extraction then works on its own copy of the tree.
    canonical = _canonical_url(tree, url)
    language = _page_language(tree)
    meta_published = _first_timestamp(tree.xpath(_PUBLISHED_XPATH))
    json_ld = _json_ld_fields(tree)
    headlines = _headline_candidates(tree, json_ld.get("headline"))
    document = _run_trafilatura(tree, url) or Document()  # an empty one: all fields None
    # Explicit timestamps first (they carry the time of day); htmldate's pick last.
    published = _first_timestamp([meta_published, json_ld.get("datePublished"), document.date])
    return ExtractedPage(
        title=_clean_title(document.title, headlines),
        text=normalise_text(document.text),
        authors=split_authors(document.author),
        published=published,
        language=language,
        canonical_url=canonical,
    )


def _run_trafilatura(tree: HtmlElement, url: str) -> Document | None:
    date_params = {
        "original_date": True,
        # Extensive search adds guesses from free text (a bare "2026" becomes 2026-01-01);
        # on the 258 fundus pages it found no extra correct date.
        "extensive_search": False,
        "outputformat": _DATE_PARAMS_FORMAT,
        "max_date": (datetime.now(UTC) + FUTURE_SLACK).strftime("%Y-%m-%d"),
    }
    # Options measured on the 258 fundus pages: no comments, no tables, balanced mode gives
    # the same mean token F1 as trafilatura's defaults (0.951); precision/recall/fast modes don't
    # do better.
    try:
        document = trafilatura.bare_extraction(
            tree,
            url=url,
            with_metadata=True,
            include_comments=False,
            include_tables=False,
            include_images=False,
            favor_precision=False,
            date_extraction_params=date_params,
        )
    except Exception:  # trafilatura documents ValueError, but its heuristics raise others too
        LOGGER.warning("trafilatura failed on %s", url, exc_info=True)
        return None
    return document if isinstance(document, Document) else None


# --- text -----------------------------------------------------------------------------------


def normalise_text(text: str | None) -> str | None:
    """One "\\n" between paragraphs, single spaces inside them, no invisible characters."""
    if not text:
        return None
    lines = (" ".join(line.translate(_ZERO_WIDTH).split()) for line in text.splitlines())
    joined = "\n".join(line for line in lines if line)
    return joined or None


def _squash(text: str | None) -> str:
    return " ".join(html.unescape(text or "").translate(_ZERO_WIDTH).split())


# --- title ----------------------------------------------------------------------------------


def _headline_candidates(tree: HtmlElement, json_ld_headline: Any) -> list[str]:
    found = [json_ld_headline] if isinstance(json_ld_headline, str) else []
    found += [h1.text_content() for h1 in tree.iter("h1")]
    found += [str(value) for value in tree.xpath(_OG_TITLE_XPATH)]
    return [s for s in map(_squash, found) if s]


def _clean_title(title: str | None, headlines: list[str]) -> str | None:
    """Drop a " | Site name" style suffix when the page also shows the bare headline.

    We only cut where another headline on the page (JSON-LD, <h1>, og:title) equals the part
    before the separator, so a title that merely contains " - " is never cut.
    """
    squashed = _squash(title)
    if not squashed:
        return headlines[0] if headlines else None
    for headline in sorted(set(headlines), key=len, reverse=True):
        rest = squashed[len(headline) :]
        if squashed.startswith(headline) and rest and _TITLE_SUFFIX_START.match(rest):
            return headline
    return squashed


# --- authors --------------------------------------------------------------------------------


def split_authors(raw: str | None) -> tuple[str, ...]:
    """Split a byline into names: "A; B", "A, B", "A and B", "Last, First; Last, First".

    ";" is the separator trafilatura itself uses; when it is present, commas inside a part are
    the "Last, First" form (as on Nature). Repeats (also "Sophie-Foster" beside "Sophie Foster")
    are dropped; the order is kept.
    """
    if not raw:
        return ()
    if ";" in raw:
        parts = [_first_last(part) for part in raw.split(";")]
    elif _LAST_FIRST.fullmatch(raw.strip()):
        parts = [_first_last(raw)]
    else:
        parts = _AUTHOR_SPLIT.split(raw)
    names: list[str] = []
    seen: set[str] = set()
    for part in parts:
        name = " ".join(part.split()).strip(" .,")
        key = re.sub(r"[\W_]+", "", name.casefold())
        if len(name) > 1 and key not in seen:
            seen.add(key)
            names.append(name)
    return tuple(names)


def _first_last(part: str) -> str:
    match = _LAST_FIRST.fullmatch(part.strip())
    return f"{match[2]} {match[1]}" if match else part


# --- dates ----------------------------------------------------------------------------------


def parse_timestamp(value: object) -> datetime | None:
    """Parse an ISO-8601-ish timestamp or date into aware UTC; None if it is not one.

    Tolerates "Z", "+0300" and "+03" offsets, a space instead of "T", any number of fractional
    digits and trailing text. No offset is taken as UTC; a bare date as midnight UTC.
    """
    if not isinstance(value, str):
        return None
    match = _TIMESTAMP.match(value.strip())
    if match is None:
        return None
    day, clock, fraction, offset = match.groups()
    iso = day
    if clock:
        iso += "T" + clock + (f".{fraction[1:7].ljust(6, '0')}" if fraction else "")
    if offset and offset.upper() != "Z":
        digits = offset[1:].replace(":", "").ljust(4, "0")
        iso += f"{offset[0]}{digits[:2]}:{digits[2:4]}"
    try:
        parsed = datetime.fromisoformat(iso)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _first_timestamp(values: list[Any]) -> datetime | None:
    """The first value that parses to a plausible publication instant."""
    for value in values:
        parsed = value if isinstance(value, datetime) else parse_timestamp(value)
        if plausible(parsed, datetime.now(UTC)) is not None:
            return parsed
    return None


# --- JSON-LD, language, canonical URL -------------------------------------------------------


def _json_ld_fields(tree: HtmlElement) -> dict[str, Any]:
    """The first "headline" and "datePublished" found in the page's JSON-LD blocks."""
    fields: dict[str, Any] = {}
    for script in tree.xpath(_JSON_LD_XPATH):
        try:
            data = json.loads(str(script))
        except ValueError:
            continue
        for node in _walk_json(data):
            for key in ("headline", "datePublished"):
                if key in node and key not in fields:
                    fields[key] = node[key]
        if len(fields) == 2:
            break
    return fields


def _walk_json(data: Any) -> Iterator[dict[str, Any]]:
    stack = [data]
    while stack:
        item = stack.pop(0)
        if isinstance(item, dict):
            yield item
            stack.extend(v for v in item.values() if isinstance(v, (dict, list)))
        elif isinstance(item, list):
            stack.extend(item)


def _page_language(tree: HtmlElement) -> str | None:
    """Primary subtag of <html lang>, else of Content-Language / og:locale ("pt-BR" -> "pt")."""
    candidates = [tree.get("lang"), tree.get("{http://www.w3.org/XML/1998/namespace}lang")]
    candidates += tree.xpath(
        '//meta[translate(@http-equiv, "CONTENT-LANGUAGE", "content-language")'
        ' = "content-language"]/@content | //meta[@property="og:locale"]/@content'
    )
    for value in candidates:
        primary = re.split(r"[-_,;\s]", str(value or "").strip(), maxsplit=1)[0].lower()
        if 2 <= len(primary) <= 3 and primary.isalpha() and primary not in NOT_LANGUAGES:
            return primary
    return None


def _canonical_url(tree: HtmlElement, url: str) -> str | None:
    for xpath in _CANONICAL_XPATHS:
        for href in tree.xpath(xpath):
            candidate = urljoin(url, str(href).strip())
            parts = urlsplit(candidate)
            if parts.scheme in {"http", "https"} and parts.netloc:
                return candidate
    return None
