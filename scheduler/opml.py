"""OPML, the subscription lists feed readers import and export: read safely, written plainly.

Reading refuses entity declarations, so no entity is ever expanded (a "billion laughs" file
is refused, not parsed) and nothing is fetched (defusedxml). Folders (outlines without
``xmlUrl``) and OPML 2.0 ``category`` values become the feeds' tags; the export writes tags
as ``category`` so that an export imported again gives the same sources.
"""

from __future__ import annotations

import re
import unicodedata
import xml.etree.ElementTree as ET  # writing, and its types; reading goes through defusedxml
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from haitiwatch.db.errors import HaitiwatchError
from haitiwatch.db.redact import redact_url
from haitiwatch.scheduler.config_values import NAME
from haitiwatch.scheduler.source_config import MAX_TAGS, TAG, SourceConfig

#: Files larger than this are not subscription lists.
MAX_OPML_BYTES = 10 * 1024 * 1024
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


class OpmlError(HaitiwatchError, ValueError):
    """A file that is not an OPML subscription list, or one refused as unsafe."""


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    """One subscription: an outline with an ``xmlUrl``."""

    url: str
    title: str | None = None
    language: str | None = None
    tags: tuple[str, ...] = ()


@dataclass
class ImportPlan:
    """What an import adds to the config, and what it leaves out and why."""

    add: list[dict[str, object]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (url or title, reason)


def read_opml(data: bytes) -> list[OpmlFeed]:
    """The feeds of an OPML file, in document order. Raises OpmlError."""
    if len(data) > MAX_OPML_BYTES:
        raise OpmlError(f"too big for a subscription list ({len(data)} bytes)")
    try:
        root = SafeET.fromstring(data)  # no entities, no external references
    except DefusedXmlException as e:
        raise OpmlError(
            f"refused: the file declares entities ({type(e).__name__}); an OPML list needs "
            "none, and expanding them could exhaust memory (a 'billion laughs')"
        ) from e
    except ET.ParseError as e:
        raise OpmlError(f"not valid XML: {e}") from e
    body = root.find("body") if root.tag == "opml" else None
    if body is None:
        raise OpmlError(f"not an OPML file: the root is <{root.tag}>, expected <opml> with <body>")
    return list(_feeds(body, ()))


def _feeds(parent: ET.Element, folders: tuple[str, ...]) -> Iterator[OpmlFeed]:
    for outline in parent.findall("outline"):
        url = (outline.get("xmlUrl") or "").strip()
        title = (outline.get("title") or outline.get("text") or "").strip() or None
        if not url:
            folder = slug(title or "")
            yield from _feeds(outline, (*folders, folder) if folder else folders)
            continue
        categories = [
            slug(part)
            for value in (outline.get("category") or "").split(",")
            for part in value.split("/")
        ]
        language = (outline.get("language") or "").strip() or None
        tags = tuple(dict.fromkeys(t for t in (*folders, *categories) if t))
        yield OpmlFeed(url, title, language, tags)
        yield from _feeds(outline, folders)


def slug(text: str, limit: int = 32) -> str:
    """``text`` as a lowercase slug ("Kenya / Wire" -> "kenya-wire"); "" if nothing is left."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _NOT_SLUG.sub("-", ascii_text.lower()).strip("-")[:limit].strip("-")


def plan_import(feeds: Iterable[OpmlFeed], existing: Sequence[SourceConfig]) -> ImportPlan:
    """The ``[[sources]]`` an import adds: one feed source per new URL (a URL already in the
    config, or twice in the file, is skipped), named after its title, else its host."""
    plan = ImportPlan()
    known = {_same_url(s.url) for s in existing}
    listed: set[str] = set()
    names = {s.name for s in existing}
    for feed in feeds:
        same = _same_url(feed.url)
        if urlsplit(feed.url).scheme not in ("http", "https"):
            plan.skipped.append((feed.url, "not an http:// or https:// URL"))
            continue
        if same in known or same in listed:
            plan.skipped.append((feed.url, "already a source" if same in known else "listed twice"))
            continue
        listed.add(same)
        name = unused_name(feed.title or "", feed.url, names)
        names.add(name)
        source: dict[str, object] = {"name": name, "url": feed.url}
        tags = [t for t in feed.tags if TAG.match(t)][:MAX_TAGS]
        if tags:
            source["tags"] = tags
        if feed.language:
            source["language"] = feed.language
        plan.add.append(source)
    return plan


def unused_name(title: str, url: str, taken: set[str]) -> str:
    """A source name from ``title`` (else the URL's host) that no source has yet."""
    host = (urlsplit(url).hostname or "").removeprefix("www.")
    base = slug(title, 48) or slug(host, 48) or "source"
    name, n = base, 2
    while name in taken or not NAME.match(name):
        name = f"{base}-{n}"
        n += 1
    return name


def _same_url(url: str) -> str:
    return url.strip().rstrip("/")


def exported(sources: Sequence[SourceConfig], public: bool) -> list[SourceConfig]:
    """The sources an OPML list holds: feeds (other kinds have no feed URL), never one whose URL
    comes from the environment (it may hold a key), and for ``public`` readers (the web) none
    whose URL carries credentials or a key-like query value."""
    return [
        s
        for s in sources
        if s.kind == "feed" and not s.url_env and not (public and redact_url(s.url) != s.url)
    ]


def write_opml(sources: Sequence[SourceConfig], title: str = "haitiwatch sources") -> bytes:
    """``sources`` (see ``exported``) as OPML 2.0, their tags as ``category``."""
    root = ET.Element("opml", version="2.0")
    ET.SubElement(ET.SubElement(root, "head"), "title").text = title
    body = ET.SubElement(root, "body")
    for source in sources:
        outline = ET.SubElement(
            body, "outline", type="rss", text=source.name, title=source.name, xmlUrl=source.url
        )
        if source.tags:
            outline.set("category", ",".join(source.tags))
        if source.language:
            outline.set("language", source.language)
    ET.indent(root)
    written: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return written + b"\n"
