"""Atom feeds (RFC 4287) of the archive: a rule's matches or any search, so anyone can follow
them in a feed reader.

Entry ids are ``tag:`` URIs (RFC 4151) that never change for an article; entry links point
at the archive's article page (the outlet's page is the ``related`` link). Built with
ElementTree, which escapes text; characters XML 1.0 forbids (control characters a hostile
feed may carry) are removed first, so the feed always parses.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

from haitiwatch.db.search import SearchHit

ATOM_NS: Final = "http://www.w3.org/2005/Atom"
#: The date in every tag: URI (RFC 4151 asks for one when the name was held); fixed, so ids
#: never change.
TAG_DATE: Final = "2025"
#: A feed without entries has not changed since: a fixed stamp keeps its ETag stable.
NEVER: Final = datetime(2025, 1, 1, tzinfo=UTC)
_NOT_XML: Final = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class FeedSite:
    """Where the archive is: ``base`` is its absolute address without a trailing slash."""

    base: str

    def tag(self, specific: str) -> str:
        authority = urlsplit(self.base).hostname or "localhost"
        return f"tag:{authority},{TAG_DATE}:{specific}"


def xml_text(text: str) -> str:
    return _NOT_XML.sub("", text)


def archive_feed(
    site: FeedSite, feed_id: str, title: str, self_url: str, page_url: str,
    hits: Sequence[SearchHit],
) -> bytes:  # fmt: skip
    ET.register_namespace("", ATOM_NS)
    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    _add(feed, "id", site.tag(feed_id))
    _add(feed, "title", xml_text(title))
    _add(feed, "updated", _stamp(max((h.first_seen for h in hits), default=NEVER)))
    _link(feed, self_url, "self")
    _link(feed, page_url, "alternate")
    author = ET.SubElement(feed, f"{{{ATOM_NS}}}author")
    _add(author, "name", "haitiwatch")
    for hit in hits:
        entry = ET.SubElement(feed, f"{{{ATOM_NS}}}entry")
        _add(entry, "id", site.tag(f"article/{hit.id}"))
        _add(entry, "title", xml_text(hit.title) or "(no title)")
        _link(entry, f"{site.base}/article/{hit.id}", "alternate")
        _link(entry, hit.url, "related")
        _add(entry, "updated", _stamp(hit.first_seen))
        if hit.published is not None:
            _add(entry, "published", _stamp(hit.published))
        _add(entry, "summary", xml_text((hit.text or "")[:500]))
        category = ET.SubElement(entry, f"{{{ATOM_NS}}}category")
        category.set("term", xml_text(hit.source))
    return bytes(ET.tostring(feed, encoding="utf-8", xml_declaration=True))


def entity_tag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def not_modified(if_none_match: str | None, etag: str) -> bool:
    """Whether an If-None-Match header names ``etag`` (weak comparison, RFC 9110 13.1.2)."""
    if if_none_match is None:
        return False
    given = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in given or etag.removeprefix("W/") in given


def _add(parent: ET.Element, tag: str, text: str) -> None:
    ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}").text = text


def _link(parent: ET.Element, href: str, rel: str) -> None:
    link = ET.SubElement(parent, f"{{{ATOM_NS}}}link")
    link.set("rel", rel)
    link.set("href", xml_text(href))


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
