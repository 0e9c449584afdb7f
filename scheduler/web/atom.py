"""An Atom feed (RFC 4287) of one rule's matches, so anyone can follow it in a feed reader.

Built with ElementTree, which escapes text; characters XML 1.0 forbids (control characters a
hostile feed may carry) are removed first, so the feed always parses.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final
from xml.etree import ElementTree as ET

from haitiwatch.db.search import SearchHit

ATOM_NS: Final = "http://www.w3.org/2005/Atom"
_NOT_XML: Final = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    return _NOT_XML.sub("", text)


def rule_feed(
    rule: str, hits: Sequence[SearchHit], self_url: str, site_url: str, now: datetime
) -> bytes:
    ET.register_namespace("", ATOM_NS)
    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    _add(feed, "id", f"{site_url}rules/{rule}")
    _add(feed, "title", f"haitiwatch: matches of rule {rule}")
    updated = max((h.first_seen for h in hits), default=now)
    _add(feed, "updated", _stamp(updated))
    _link(feed, self_url, "self")
    _link(feed, f"{site_url}?rule={rule}", "alternate")
    author = ET.SubElement(feed, f"{{{ATOM_NS}}}author")
    _add(author, "name", "haitiwatch")
    for hit in hits:
        entry = ET.SubElement(feed, f"{{{ATOM_NS}}}entry")
        _add(entry, "id", f"{site_url}articles/{hit.id}")
        _add(entry, "title", xml_text(hit.title) or "(no title)")
        _link(entry, hit.url, "alternate")
        _add(entry, "updated", _stamp(hit.first_seen))
        if hit.published is not None:
            _add(entry, "published", _stamp(hit.published))
        _add(entry, "summary", xml_text((hit.text or "")[:500]))
        category = ET.SubElement(entry, f"{{{ATOM_NS}}}category")
        category.set("term", xml_text(hit.source))
    return bytes(ET.tostring(feed, encoding="utf-8", xml_declaration=True))


def _add(parent: ET.Element, tag: str, text: str) -> None:
    ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}").text = text


def _link(parent: ET.Element, href: str, rel: str) -> None:
    link = ET.SubElement(parent, f"{{{ATOM_NS}}}link")
    link.set("rel", rel)
    link.set("href", xml_text(href))


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
