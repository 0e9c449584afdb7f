"""Deterministic benchmark workloads: realistic RSS feeds and article pages written to a folder.

Feeds are RSS 2.0 with the item shape real news feeds have (title, link, a non-URL guid,
RFC 822 pubDate, dc:creator, categories, and an HTML description of ~500-1500 characters with
paragraphs, links and emphasis). The text is real: titles and sentences are taken from the
captured feeds in ../shared/corpus/fastfeedparser-feeds when that folder exists, otherwise it is
deterministic pseudo-text (said in ``TextPool.origin``). Every entry is unique across all feeds:
its guid, link and description (a fresh draw of sentences plus a dateline and reference number)
never repeat, so the crawler's URL / GUID / text-hash dedupe stores every one of them.

    python3 benchmarks/workload.py OUT_DIR [--feeds 200] [--entries 50]
"""

from __future__ import annotations

import argparse
import gzip
import html
import json
import random
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from lxml import etree
from lxml import html as lxml_html

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
FEED_CORPUS = CORPUS / "fastfeedparser-feeds"
FUNDUS_CORPUS = CORPUS / "fundus"
SEED = 20260201
#: Newest pubDate in the generated feeds; older entries step back from it.
NEWEST = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
SUMMARY_CHARS = (500, 1500)

_TEXT_TAGS = {"description", "summary", "content", "encoded"}
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'“])")
_AUTHORS = (
    "Jacqueline Charles",
    "Evens Sanon",
    "Dánica Coto",
    "Tom Odula",
    "Rodney Muhumuza",
    "Marie Laure Joseph",
    "Wanjiru Kamau",
    "Jean-Robert Gédéon",
    "Amina Osei",
)
_CATEGORIES = ("World", "Americas", "Africa", "Politics", "Security", "Economy", "Opinion")


@dataclass(frozen=True, slots=True)
class TextPool:
    titles: tuple[str, ...]
    sentences: tuple[str, ...]
    origin: str


@dataclass(frozen=True, slots=True)
class Item:
    title: str
    link: str
    guid: str
    published: datetime
    author: str
    categories: tuple[str, ...]
    description_html: str


# -- text pool -------------------------------------------------------------------------------


def _read_maybe_gzip(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def _local_name(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


def _plain(markup: str) -> str:
    """Text of an HTML fragment (descriptions are escaped HTML), whitespace collapsed."""
    if "<" in markup:
        try:
            markup = str(lxml_html.fragment_fromstring(markup, create_parent="div").text_content())
        except (etree.ParserError, ValueError):
            return ""
    return " ".join(html.unescape(markup).split())


def _feed_texts(body: bytes) -> Iterator[tuple[str, str]]:
    """(kind, text) for every item title and description in one XML feed; lxml is ~30x
    faster than feedparser here and the pool only needs the text."""
    parser = etree.XMLParser(recover=True, resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError:
        return
    if root is None:
        return
    for element in root.iter():
        name = _local_name(element.tag)
        up = element.getparent()
        parent = _local_name(up.tag) if up is not None else ""
        if name == "title" and parent in {"item", "entry"} and element.text:
            yield "title", " ".join(element.text.split())
        elif name in _TEXT_TAGS and parent in {"item", "entry"}:
            yield "text", _plain("".join(str(t) for t in element.itertext()))


def corpus_pool(folder: Path = FEED_CORPUS) -> TextPool | None:
    """Titles and sentences of the captured real feeds; None when the corpus is absent."""
    manifest = folder / "manifest.jsonl"
    if not manifest.is_file():
        return None
    titles: dict[str, None] = {}
    sentences: dict[str, None] = {}
    # News publishers first (their titles come first, their sentences are the only ones used
    # when there are enough of them): the blogs' text reads less like the feeds we monitor.
    entries = [json.loads(line) for line in manifest.read_text("utf-8").splitlines()]
    entries.sort(key=lambda e: e.get("category") != "news")
    for entry in entries:
        if entry.get("format") == "json":
            continue
        use_sentences = entry.get("category") == "news" or len(sentences) < 5000
        for kind, text in _feed_texts(_read_maybe_gzip(folder / entry["file"])):
            if kind == "title" and 20 <= len(text) <= 140:
                titles[text] = None
            elif kind == "text" and use_sentences:
                sentences.update(
                    (s, None) for s in _SENTENCE_END.split(text) if 40 <= len(s) <= 320
                )
    return TextPool(tuple(titles), tuple(sentences), f"real feed text from {folder}")


def pseudo_pool(seed: int = SEED) -> TextPool:
    """Deterministic stand-in text when the corpus is absent (word salad of news vocabulary)."""
    words = [
        "mission",
        "police",
        "Haiti",
        "Kenya",
        "Port-au-Prince",
        "gangs",
        "security",
        "council",
        "officers",
        "said",
        "government",
        "minister",
        "report",
        "Tuesday",
        "capital",
        "residents",
        "displaced",
        "violence",
        "support",
        "international",
        "forces",
        "deployment",
        "funding",
        "United",
        "Nations",
        "according",
        "statement",
        "week",
        "officials",
        "national",
        "aid",
        "neighbourhood",
        "attack",
        "operation",
        "commander",
    ]
    rng = random.Random(seed)

    def sentence(n: int) -> str:
        text = " ".join(rng.choice(words) for _ in range(n))
        return text[0].upper() + text[1:] + "."

    titles = tuple(dict.fromkeys(sentence(rng.randint(6, 12)).rstrip(".") for _ in range(3000)))
    sentences = tuple(dict.fromkeys(sentence(rng.randint(10, 30)) for _ in range(20000)))
    return TextPool(titles, sentences, "deterministic pseudo-text (corpus absent)")


def text_pool() -> TextPool:
    return corpus_pool() or pseudo_pool()


# -- items and feeds -------------------------------------------------------------------------


def _description(
    rng: random.Random, pool: TextPool, dateline: str, reference: str, link: str
) -> str:
    """HTML paragraphs of real sentences, 500-1500 characters of text, with a link and <em>."""
    target = rng.randint(*SUMMARY_CHARS)
    paragraphs: list[list[str]] = [[]]
    size = len(dateline)
    while size < target:
        sentence = html.escape(rng.choice(pool.sentences), quote=False)
        if len(paragraphs[-1]) >= rng.randint(2, 4):
            paragraphs.append([])
        paragraphs[-1].append(sentence)
        size += len(sentence) + 1
    markup = [f"<p><strong>{dateline}</strong> — {' '.join(paragraphs[0])}</p>"]
    markup += [f"<p>{' '.join(p)}</p>" for p in paragraphs[1:]]
    markup.append(f'<p><em>Ref. {reference}.</em> <a href="{html.escape(link)}">Read more</a></p>')
    return "".join(markup)


def unique_title(pool: TextPool, number: int) -> str:
    """Title number ``number``: pool titles in order, then as wire-style "UPDATE n-" repeats."""
    rounds, index = divmod(number, len(pool.titles))
    return pool.titles[index] if rounds == 0 else f"UPDATE {rounds}-{pool.titles[index]}"


def make_items(
    feed_index: int, count: int, link_for: Any, pool: TextPool, titles: Sequence[str] | None = None
) -> list[Item]:
    """``count`` unique items for feed number ``feed_index`` (deterministic)."""
    rng = random.Random(SEED * 1000 + feed_index)
    items = []
    for i in range(count):
        reference = f"HW-{feed_index:04d}-{i:04d}"
        link = link_for(feed_index, i)
        published = NEWEST - timedelta(minutes=37 * i + feed_index)
        dateline = f"PORT-AU-PRINCE, Haiti, {published:%B} {published.day}"
        title = titles[i] if titles else unique_title(pool, (feed_index - 1) * count + i)
        items.append(
            Item(
                title=title,
                link=link,
                guid=f"tag:bench.haitiwatch.invalid,2026:{feed_index}/{i}/{rng.getrandbits(48):012x}",
                published=published,
                author=rng.choice(_AUTHORS),
                categories=tuple(rng.sample(_CATEGORIES, rng.randint(1, 3))),
                description_html=_description(rng, pool, dateline, reference, link),
            )
        )
    return items


def rss(title: str, site: str, items: Iterable[Item]) -> bytes:
    """An RSS 2.0 document (description in CDATA, as most publishers send it)."""

    def esc(text: str) -> str:
        return html.escape(text, quote=False)

    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:atom="http://www.w3.org/2005/Atom">\n<channel>\n'
        f"<title>{esc(title)}</title>\n<link>{esc(site)}</link>\n"
        f"<description>{esc(title)}: latest news</description>\n<language>en</language>\n"
        f"<lastBuildDate>{format_datetime(NEWEST)}</lastBuildDate>\n<ttl>15</ttl>\n"
    ]
    for item in items:
        categories = "".join(f"<category>{esc(c)}</category>" for c in item.categories)
        parts.append(
            f"<item>\n<title>{esc(item.title)}</title>\n<link>{esc(item.link)}</link>\n"
            f'<guid isPermaLink="false">{esc(item.guid)}</guid>\n'
            f"<pubDate>{format_datetime(item.published)}</pubDate>\n"
            f"<dc:creator>{esc(item.author)}</dc:creator>\n{categories}\n"
            f"<description><![CDATA[{item.description_html}]]></description>\n</item>\n"
        )
    parts.append("</channel>\n</rss>\n")
    return "".join(parts).encode("utf-8")


def feed_name(index: int) -> str:
    return f"f{index:03d}"


def write_robots(root: Path) -> None:
    (root / "robots.txt").write_text("User-agent: *\nAllow: /\n", "utf-8")


def write_ingest_feeds(
    root: Path, base_url: str, feeds: int = 200, entries: int = 50, pool: TextPool | None = None
) -> tuple[list[str], TextPool]:
    """Write ``feeds`` feeds of ``entries`` items under root/feeds; returns their names."""
    pool = pool or text_pool()
    (root / "feeds").mkdir(parents=True, exist_ok=True)
    write_robots(root)
    names = []
    for index in range(1, feeds + 1):
        name = feed_name(index)

        def link(feed: int, i: int) -> str:
            return f"{base_url}/articles/{feed_name(feed)}/{i:04d}.html"

        items = make_items(index, entries, link, pool)
        body = rss(f"Bench outlet {index}", f"{base_url}/", items)
        (root / "feeds" / f"{name}.xml").write_bytes(body)
        names.append(name)
    return names, pool


# -- article pages (fundus) -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CorpusPage:
    name: str
    title: str
    original_url: str
    body: bytes


def fundus_pages(folder: Path = FUNDUS_CORPUS) -> list[CorpusPage] | None:
    manifest = folder / "manifest.jsonl"
    if not manifest.is_file():
        return None
    pages = []
    for line in manifest.read_text("utf-8").splitlines():
        entry = json.loads(line)
        pages.append(
            CorpusPage(
                name=entry["html"].removeprefix("test_data/"),
                title=entry["title"],
                original_url=entry["url"],
                body=gzip.decompress((folder / entry["html"]).read_bytes()),
            )
        )
    return pages


def page_path(index: int) -> str:
    return f"/pages/p{index:04d}.html"


def write_page_site(
    root: Path,
    base_url: str,
    pages: Sequence[CorpusPage],
    count: int,
    per_feed: int = 50,
    pool: TextPool | None = None,
) -> tuple[list[str], list[tuple[str, CorpusPage]]]:
    """Serve ``count`` pages (cycling the corpus) behind one feed per ``per_feed`` pages.

    Returns the feed names and (served URL, page) pairs in order.
    """
    pool = pool or pseudo_pool()
    (root / "pages").mkdir(parents=True, exist_ok=True)
    (root / "feeds").mkdir(parents=True, exist_ok=True)
    write_robots(root)
    served = []
    for index in range(count):
        page = pages[index % len(pages)]
        (root / page_path(index).lstrip("/")).write_bytes(page.body)
        served.append((base_url + page_path(index), page))
    names = []
    for feed_index, start in enumerate(range(0, count, per_feed), start=1):
        chunk = served[start : start + per_feed]
        url_by_i = {i: url for i, (url, _page) in enumerate(chunk)}
        items = make_items(
            feed_index,
            len(chunk),
            lambda _f, i, u=url_by_i: u[i],
            pool,
            titles=[page.title for _url, page in chunk],
        )
        name = f"p{feed_index:03d}"
        (root / "feeds" / f"{name}.xml").write_bytes(rss(f"Pages {feed_index}", base_url, items))
        names.append(name)
    return names, served


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--entries", type=int, default=50)
    parser.add_argument("--base-url", default="http://127.0.0.1:8080")
    args = parser.parse_args()
    names, pool = write_ingest_feeds(args.out, args.base_url, args.feeds, args.entries)
    print(f"wrote {len(names)} feeds x {args.entries} entries to {args.out}/feeds ({pool.origin})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
