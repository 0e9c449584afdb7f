"""Feed bytes -> ParsedFeed: RSS, Atom and RDF through feedparser; JSON Feed (which feedparser
6.0 cannot read) through json. Pure, no I/O; feedparser's `Any` stays in the `_fp_*` helpers.
"""

from __future__ import annotations

import calendar
import html
import io
import json
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import feedparser
import lxml.etree

from haitiwatch.crawler.discover import NotAFeed, advertised_feeds, robots_sitemaps
from haitiwatch.crawler.urls import absolute_url
from haitiwatch.db.errors import FeedError
from haitiwatch.db.records import FeedEntry, ParsedFeed
from haitiwatch.db.textnorm import valid_text

MAX_FEED_BYTES = 16 * 1024 * 1024
#: What of a robots.txt is read for Sitemap: lines (Google reads the first 500 KiB).
MAX_ROBOTS_BYTES = 512 * 1024
#: Earliest publication date we believe; older ones are parsing accidents (epoch 0, copyrights).
OLDEST_PLAUSIBLE = datetime(1990, 1, 1, tzinfo=UTC)
#: Clock skew and time zones allowed for "published in the future".
FUTURE_SLACK = timedelta(days=2)

_DOCTYPE = re.compile(rb"<!DOCTYPE[^\[>]*", re.IGNORECASE)
_SUBSET_END = re.compile(rb"\]\s*>")
_FIRST_ELEMENT = re.compile(rb"<\w")
_OTHER_ENCODED_ENTITY = [
    "<!ENTITY".encode(c) for c in ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be", "cp037")
]
_HTML_START = re.compile(
    rb"\s*(<\?xml[^>]*>)?\s*(<!--.*?-->\s*)*<(!doctype\s+html|html|head|body)\b", re.I | re.S
)
# A numeric character reference, with or without its ";" (feedparser's loose parser reads both).
_CHAR_REF = re.compile(rb"&#([xX][0-9a-fA-F]+|[0-9]+);?")
_MAX_INT_DIGITS = 4000  # below sys.get_int_max_str_digits()'s default of 4,300
_JSON_FEED_VERSION = re.compile(r"https?://jsonfeed\.org/version/")
_TAG = re.compile(r"<[^>]*>")
_FULL_HTML = re.compile(r"\s*<(?:html|!doctype)", re.IGNORECASE)
_BLOCK_TAGS = ("p", "div", "br", "li", "tr", "td", "th", "h1", "h2", "h3", "h4", "blockquote")
# Shortcodes a CMS (WordPress) left in the feed's text: an opening one with attributes
# ([caption id="x"], [time-brightcove not-tgx="true"]) or a closing one ([/caption]). They
# are markup, not words; bracketed words without attributes ([sic], [Reuters], [1]) stay.
_SHORTCODE = re.compile(r"\[/[a-z][\w-]*\]|\[[a-z][\w-]*\s[^\[\]=]*=[^\[\]]*\]")
_LANGUAGE = re.compile(r"[a-z]{2,3}")
# HTML becomes plain text here (and is sanitised where shown): skip feedparser's HTML passes
_FP_OPTIONS = {"sanitize_html": False, "resolve_relative_uris": False}


# An entry as found (url unresolved, dates unchecked), and may its guid stand in for the link?
_RawEntry = tuple[FeedEntry, bool]
_Raws = Iterable[_RawEntry | str]  # a str is a warning about an entry that could not be read


def parse_feed(
    body: bytes, url: str, content_type: str | None = None, *, now: datetime | None = None
) -> ParsedFeed:
    """Parse one fetched feed; `url` is the base for relative links. Raises FeedError."""
    if len(body) > MAX_FEED_BYTES:
        raise FeedError(f"feed is too big: {len(body)} bytes (limit {MAX_FEED_BYTES})")
    if not body.strip():
        raise FeedError("not a feed: empty response")
    if body.lstrip(b"\xef\xbb\xbf \t\r\n").startswith((b"{", b"[")):
        title, language, raws, warnings = _read_json_feed(body)
    else:
        title, language, raws, warnings = _read_xml_feed(body, url, content_type)
    entries = _finish_entries(raws, url, now or datetime.now(UTC), warnings)
    return ParsedFeed(title, entries, language, tuple(warnings))


def _finish_entries(
    raws: _Raws, url: str, now: datetime, warnings: list[str]
) -> tuple[FeedEntry, ...]:
    """Resolve links, skip entries without one, drop impossible dates and duplicate links."""
    entries: dict[str, FeedEntry] = {}
    for raw in raws:
        if isinstance(raw, str):
            warnings.append(raw)
            continue
        entry, guid_is_permalink = raw
        fallback = absolute_url(entry.guid, None) if guid_is_permalink else None
        link = absolute_url(entry.url, url) or fallback
        if link is None:
            title = f"'{entry.title[:80]}'" if entry.title else "(untitled)"
            warnings.append(f"item {title} has no usable link")
        elif link not in entries:
            published, updated = plausible(entry.published, now), plausible(entry.updated, now)
            entries[link] = replace(entry, url=link, published=published, updated=updated)
    return tuple(entries.values())


def plausible(moment: datetime | None, now: datetime) -> datetime | None:
    """A publication moment of a feed or a page, or None if it cannot be one."""
    possible = moment is not None and OLDEST_PLAUSIBLE <= moment <= now + FUTURE_SLACK
    return moment if possible else None


def neutralise_entities(body: bytes) -> tuple[bytes, bool]:
    """Remove the DTD internal subset and any <!ENTITY in the prolog, in linear time.

    feedparser's fallback parser expands one big entity at every reference (docs/pitfalls.md):
    a small feed can grow a title of hundreds of MB. Returns the cleaned body and whether
    anything was removed.
    """
    if any(encoded in body for encoded in _OTHER_ENCODED_ENTITY):
        raise FeedError("refused: entity declarations in a UTF-16/32 or EBCDIC feed")
    first, doctype = _FIRST_ELEMENT.search(body), _DOCTYPE.search(body)
    cleaned = body
    in_prolog = doctype and (first is None or doctype.start() < first.start())
    if doctype and in_prolog and body[doctype.end() : doctype.end() + 1] == b"[":
        if not (end := _SUBSET_END.search(body, doctype.end())):
            raise FeedError("not a feed: unterminated DOCTYPE internal subset")
        cleaned = body[: doctype.start()] + body[end.end() :]
    # the same "head" feedparser takes its entity declarations from
    head_end = first.start() if (first := _FIRST_ELEMENT.search(cleaned)) else len(cleaned)
    cleaned = cleaned[:head_end].replace(b"<!ENTITY", b"") + cleaned[head_end:]
    return cleaned, len(cleaned) != len(body)


def repair_char_refs(body: bytes) -> bytes:
    """References to code points that are no text (``&#xD800;``, ``&#0;``, beyond U+10FFFF)
    made what ``db.textnorm.valid_text`` makes of the characters: feedparser's fallback parser
    raises on the first kind, which lost every item of the feed."""
    return _CHAR_REF.sub(_repaired_ref, body) if b"&#" in body else body


def _repaired_ref(match: re.Match[bytes]) -> bytes:
    digits = match.group(1)
    is_hex = digits[:1] in (b"x", b"X")
    number = (digits[1:] if is_hex else digits).lstrip(b"0") or b"0"
    if len(number) > 8:  # beyond U+10FFFF however written (and no giant int to parse)
        return b"&#xFFFD;"
    code = int(number, 16 if is_hex else 10)
    if code > 0x10FFFF:
        return b"&#xFFFD;"
    repaired = valid_text(chr(code))
    if repaired == chr(code):
        return match.group(0)
    return f"&#x{ord(repaired):X};".encode() if repaired else b""


def plain_text(value: str | None, is_html: bool = True) -> str | None:
    """HTML (or text) -> whitespace-collapsed plain text; None when nothing is left."""
    if value and is_html and ("<" in value or "&" in value):
        value = _html_to_text(value)
    if value and "[" in value:
        value = _SHORTCODE.sub(" ", value)
    # str.split() splits on exactly the characters the regex \s matches (str.isspace), at a
    # third of re.sub's cost on a feed summary
    return (" ".join(value.split()) or None) if value else None


_parsers = threading.local()


def _html_to_text(markup: str) -> str:
    # A plain libxml2 HTML parser and its C text serialiser: what lxml.html's
    # fragment_fromstring and text_content() give (checked on every feed of the corpus), in
    # two thirds of the time. The wrapping is fragment_fromstring's own.
    parser = getattr(_parsers, "html", None)
    if parser is None:  # parsers are not shared between threads
        parser = _parsers.html = lxml.etree.HTMLParser()
    document = markup if _FULL_HTML.match(markup) else f"<html><body>{markup}</body></html>"
    try:
        root = lxml.etree.fromstring(document, parser)
    except (lxml.etree.LxmlError, ValueError):  # NUL bytes, control characters, ...
        return html.unescape(_TAG.sub(" ", markup))
    if root is None:
        return ""
    body = root.find("body")
    if body is None:
        body = root
    lxml.etree.strip_elements(body, "script", "style", with_tail=False)
    for element in body.iter(*_BLOCK_TAGS):  # keep paragraphs apart: "end.</p><p>Next"
        element.tail = "\n" + (element.tail or "")
    return str(lxml.etree.tostring(body, method="text", encoding=str, with_tail=False))


def language_code(value: object) -> str | None:
    """'fr-FR' -> 'fr'; None for absent or malformed tags and 'und'."""
    if not isinstance(value, str):
        return None
    primary = re.split(r"[-_]", value.strip().lower(), maxsplit=1)[0]
    return primary if _LANGUAGE.fullmatch(primary) and primary != "und" else None


def _each_entry(items: Iterable[Any], convert: Callable[[Any], _RawEntry]) -> _Raws:
    for index, item in enumerate(items):
        try:
            yield convert(item)
        except Exception as error:  # one bad item must not lose the others
            yield f"item #{index + 1} could not be read: {error!r}"


# --- RSS / Atom / RDF through feedparser -----------------------------------------------------


def _read_xml_feed(
    body: bytes, url: str, content_type: str | None
) -> tuple[str | None, str | None, _Raws, list[str]]:
    cleaned, stripped = neutralise_entities(body)
    cleaned = repair_char_refs(cleaned)
    warnings = ["removed DTD entity declarations before parsing"] if stripped else []
    # without a Content-Type feedparser only complains about it, hiding charset problems
    # (no content-location: feedparser would resolve opaque RSS guids as relative URLs)
    headers = {"content-type": content_type or "application/xml"}
    try:
        result = feedparser.parse(io.BytesIO(cleaned), response_headers=headers, **_FP_OPTIONS)
    except Exception as error:  # feedparser is lenient; anything it raises means a bad feed
        raise FeedError(f"feed parser failed: {error}") from error
    _check_is_feed(result, cleaned, url, content_type, warnings)
    feed = result.get("feed", {})
    language = language_code(feed.get("language")) or _fp_detail(feed, "title_detail", "language")
    entries = _each_entry(result.get("entries", []), lambda entry: _fp_entry(entry, language))
    return _fp_text(feed, "title"), language, entries, warnings


def _check_is_feed(
    result: Any, body: bytes, url: str, content_type: str | None, warnings: list[str]
) -> None:
    has_entries = bool(result.get("entries"))
    error = result.get("bozo_exception") if result.get("bozo") else None
    if not has_entries and not result.get("version"):
        if _HTML_START.match(body[:4096]) or "html" in (content_type or ""):
            raise _html_page(body, url, content_type)
        sitemaps = robots_sitemaps(body[:MAX_ROBOTS_BYTES].decode("utf-8", "replace"), url)
        if sitemaps and "text/plain" in (content_type or ""):
            listed = ", ".join(link.url for link in sitemaps)
            raise NotAFeed(f"not a feed: got a robots.txt naming sitemaps: {listed}", sitemaps)
        reason = f" ({error})" if error else ""
        raise FeedError(f"not a feed: no RSS, Atom or RDF document found{reason}")
    if isinstance(error, feedparser.CharacterEncodingOverride | feedparser.NonXMLContentType):
        warnings.append(f"feed charset or Content-Type problem: {error}")
    elif error is not None and has_entries:
        warnings.append(f"feed is not well-formed XML: {error}")
    elif error is not None:
        raise FeedError(f"feed is not well-formed XML and has no entries: {error}")


def _html_page(body: bytes, url: str, content_type: str | None) -> NotAFeed:
    """The error for an HTML page, naming the feeds it advertises: the URL to use instead."""
    said = f"not a feed: got an HTML page ({content_type or 'no Content-Type'})"
    links = advertised_feeds(body, url)
    if not links:
        return NotAFeed(said)
    listed = ", ".join(f"{link.url} ({link.title})" if link.title else link.url for link in links)
    return NotAFeed(f"{said}; it advertises these feeds: {listed}", links)


def _fp_entry(entry: Any, feed_language: str | None) -> _RawEntry:
    bodies = [(entry.get("summary"), _fp_detail(entry, "summary_detail", "type"))]
    bodies += [(part.get("value"), part.get("type")) for part in entry.get("content") or []]
    texts = [plain_text(_str(value), mime != "text/plain") for value, mime in bodies]
    languages = [part.get("language") for part in entry.get("content") or []]
    languages += [
        (entry.get(key) or {}).get("language") for key in ("summary_detail", "title_detail")
    ]
    names = [author.get("name") for author in entry.get("authors") or []] + [entry.get("author")]
    link = _str(entry.get("link"))
    # feedparser copies a permalink RSS guid into `link`: keep it from resolving as relative
    link = None if entry.get("guidislink") and link == _str(entry.get("id")) else link
    fields = FeedEntry(
        url=link or "",
        guid=_str(entry.get("id")),
        title=_fp_text(entry, "title"),
        summary=max(filter(None, texts), key=len, default=None),
        authors=_names(names),
        published=_from_struct(entry.get("published_parsed")),
        updated=_from_struct(dict.get(entry, "updated_parsed")),  # .get falls back to published
        language=next(filter(None, map(language_code, languages)), None) or feed_language,
    )
    return fields, entry.get("guidislink") is not False


def _fp_text(node: Any, key: str) -> str | None:
    is_html = _fp_detail(node, f"{key}_detail", "type") != "text/plain"
    return plain_text(_str(node.get(key)), is_html)


def _fp_detail(node: Any, key: str, field: str) -> str | None:
    value = _str((node.get(key) or {}).get(field))
    return language_code(value) if field == "language" else value


def _from_struct(value: object) -> datetime | None:
    """feedparser's *_parsed (a UTC struct_time) -> aware datetime; None if unrepresentable."""
    if not isinstance(value, time.struct_time):
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), UTC)
    except (ValueError, OverflowError, OSError):
        return None


# --- JSON Feed (https://jsonfeed.org/version/1.1) --------------------------------------------


def _read_json_feed(body: bytes) -> tuple[str | None, str | None, _Raws, list[str]]:
    try:
        document = json.loads(body, parse_int=_json_int)
    except (ValueError, RecursionError) as error:
        raise FeedError(f"not a feed: invalid JSON ({error})") from error
    version = document.get("version") if isinstance(document, dict) else None
    if not isinstance(version, str) or not _JSON_FEED_VERSION.match(version):
        raise FeedError("not a feed: JSON that is not a JSON Feed")
    language = language_code(document.get("language"))
    items = document.get("items")
    entries = _each_entry(
        items if isinstance(items, list) else [], lambda item: _json_entry(item, language)
    )
    return plain_text(_str(document.get("title")), False), language, entries, []


def _json_entry(item: dict[str, Any], feed_language: str | None) -> _RawEntry:
    texts = [plain_text(_str(item.get("content_html")))]
    texts += [plain_text(_str(item.get(key)), False) for key in ("content_text", "summary")]
    people: list[Any] = [*(item.get("authors") or []), item.get("author")]
    fields = FeedEntry(
        url=_str(item.get("url")) or _str(item.get("external_url")) or "",
        guid=_str(item.get("id")),
        title=plain_text(_str(item.get("title")), False),
        summary=max(filter(None, texts), key=len, default=None),
        authors=_names(person.get("name") for person in people if isinstance(person, dict)),
        published=parse_iso_datetime(item.get("date_published")),
        updated=parse_iso_datetime(item.get("date_modified")),
        language=language_code(item.get("language")) or feed_language,
    )
    return fields, True


def _json_int(digits: str) -> int | str:
    """A JSON number too long for int() (over 4,300 digits) stays its digits: one item's id
    must not make the whole document unreadable."""
    return int(digits) if len(digits) <= _MAX_INT_DIGITS else digits


def parse_iso_datetime(value: object) -> datetime | None:
    """An ISO 8601 (or W3C) date or datetime in UTC, a date alone at midnight UTC; None if
    unreadable or beyond datetime's range in UTC (such an item is kept, undated)."""
    try:
        moment = datetime.fromisoformat(str(value).strip().replace("z", "Z"))
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        return None


# --- small shared helpers --------------------------------------------------------------------


def _str(value: object) -> str | None:
    """A stripped, non-empty string, or None (numbers become strings: JSON Feed ids may be)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    return (value.strip() or None) if isinstance(value, str) else None


def _names(names: Iterable[object]) -> tuple[str, ...]:
    cleaned = (" ".join(name.split()) for name in names if isinstance(name, str))
    return tuple(dict.fromkeys(name for name in cleaned if name))
