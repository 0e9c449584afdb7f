"""Finding a site's feeds, as pure decisions: the feeds a page advertises (``<link
rel="alternate">``), the sitemaps a robots.txt names, the common paths worth trying, and which
of the candidates, once polled, makes the best source. The fetching is the caller's
(`haitiwatch sources add`: scheduler/cli/sources_add.py), through the ordinary crawler.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal
from urllib.parse import urljoin, urlsplit

import lxml.etree
import lxml.html

from haitiwatch.db.errors import FeedError

#: The ``type`` of an alternate link that is a feed (RSS, Atom, RDF, JSON Feed).
FEED_TYPES: Final = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/feed+json",
        "application/json",
    }
)
#: Where sites without autodiscovery links usually keep a feed (WordPress, Hugo, Jekyll...).
COMMON_PATHS: Final = ("/feed", "/rss", "/rss.xml", "/atom.xml", "/feed.xml", "/index.xml")
NEWS_SITEMAP_PATH: Final = "/sitemap_news.xml"
#: A page advertising more feeds than this is not describing its own.
MAX_LINKS: Final = 20

Found = Literal["given", "advertised", "common path", "robots.txt", "news sitemap"]
_FOUND_RANK: Final[dict[str, int]] = {
    "given": 0, "advertised": 1, "common path": 2, "news sitemap": 3, "robots.txt": 4,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class FeedLink:
    """A feed (or sitemap) a document points to."""

    url: str
    title: str | None = None


class NotAFeed(FeedError):
    """A feed source got a document that is not a feed but points to feeds: an HTML page's
    alternate links, a robots.txt's sitemaps (``links``)."""

    def __init__(self, message: str, links: tuple[FeedLink, ...] = ()) -> None:
        super().__init__(message)
        self.links = links

    def __reduce__(self) -> tuple[type[NotAFeed], tuple[str, tuple[FeedLink, ...]]]:
        return (type(self), (str(self), self.links))  # crosses the CPU pool's processes


@dataclass(frozen=True, slots=True)
class Candidate:
    url: str
    kind: Literal["feed", "sitemap"]
    found: Found
    title: str | None = None


@dataclass(frozen=True, slots=True)
class Tried:
    """A candidate after one poll: what it listed, or why it failed."""

    candidate: Candidate
    items: int = 0
    dated: int = 0
    newest: datetime | None = None
    error: str | None = None

    @property
    def usable(self) -> bool:
        return self.error is None and self.items > 0


def advertised_feeds(body: bytes, base_url: str) -> tuple[FeedLink, ...]:
    """The feeds an HTML page advertises with ``<link rel="alternate" type="...">``, as
    absolute http(s) URLs, in page order, each once."""
    parser = lxml.html.HTMLParser(no_network=True, huge_tree=False, remove_comments=True)
    try:
        root = lxml.html.document_fromstring(body, parser=parser)
    except (lxml.etree.ParserError, ValueError):
        return ()
    base = base_url
    for element in root.iter("base"):
        base = urljoin(base_url, (element.get("href") or "").strip())
        break
    links: dict[str, FeedLink] = {}
    for link in root.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").lower().split(";")[0].strip()
        href = (link.get("href") or "").strip()
        if "alternate" not in rel or kind not in FEED_TYPES or not href:
            continue
        url = urljoin(base, href)
        if urlsplit(url).scheme in ("http", "https") and url not in links:
            links[url] = FeedLink(url, (link.get("title") or "").strip() or None)
    return tuple(links.values())[:MAX_LINKS]


def robots_sitemaps(text: str, base_url: str) -> tuple[FeedLink, ...]:
    """The ``Sitemap:`` lines of a robots.txt, as absolute http(s) URLs, each once."""
    found: dict[str, FeedLink] = {}
    for line in text.splitlines():
        name, colon, value = line.partition(":")
        if colon and name.strip().lower() == "sitemap" and value.strip():
            url = urljoin(base_url, value.split("#")[0].strip())
            if urlsplit(url).scheme in ("http", "https"):
                found.setdefault(url, FeedLink(url))
    return tuple(found.values())[:MAX_LINKS]


def same_origin(url: str, other: str) -> bool:
    a, b = urlsplit(url), urlsplit(other)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)


def site_root(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/"


def candidates(
    given: str, advertised: Iterable[FeedLink], sitemaps: Iterable[FeedLink]
) -> list[Candidate]:
    """What to try after the given URL turned out not to be a feed: the page's advertised
    feeds, the common paths on its site, its news sitemap and the robots.txt's sitemaps."""
    root = site_root(given)
    found = [Candidate(link.url, "feed", "advertised", link.title) for link in advertised]
    found += [Candidate(urljoin(root, path), "feed", "common path") for path in COMMON_PATHS]
    found.append(Candidate(urljoin(root, NEWS_SITEMAP_PATH), "sitemap", "news sitemap"))
    found += [Candidate(link.url, "sitemap", "robots.txt") for link in sitemaps]
    unique: dict[str, Candidate] = {}
    for candidate in found:
        if candidate.url.rstrip("/") != given.rstrip("/"):
            unique.setdefault(candidate.url.rstrip("/"), candidate)
    return list(unique.values())


def best(tried: Sequence[Tried]) -> Tried | None:
    """The candidate to add: one that listed items; a feed before a sitemap, dated items
    before undated ones, then the given URL, advertised feeds, common paths, sitemaps, each
    in the order found."""
    usable = [t for t in tried if t.usable]
    if not usable:
        return None
    order = {id(t): i for i, t in enumerate(tried)}
    return min(
        usable,
        key=lambda t: (
            t.candidate.kind != "feed",
            t.dated == 0,
            _FOUND_RANK[t.candidate.found],
            order[id(t)],
        ),
    )
