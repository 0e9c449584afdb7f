"""Does storing real feeds lose items? Every captured feed, stored the way a crawl stores it.

Parses every feed of ../shared/corpus/fastfeedparser-feeds and netnewswire-rsparser-feeds
(feed only, no pages: read_listing, the known-article lookup, feed_records, Store.save_fetch),
each as its own source, into a temporary SQLite archive. Then it counts the distinct entry URLs,
the articles stored, and the entry URLs folded into another article as an alias (by GUID or by
text hash), listing those whose entry title differs from the article's: each of them is an item
lost unless it really is the same article.

Two stress modes put the feeds through the case the captures hardly show:
``--one-text`` gives every entry of a feed one long text (a channel's description under every
video), ``--one-per-poll`` stores each entry as if its feed listed it alone (a new item
arriving after the others left the feed: only the Store's rule can tell them apart).

    python benchmarks/alias_audit.py [--corpus DIR] [--show N] [--one-text] [--one-per-poll]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select

from haitiwatch.crawler.assemble import Known, select_to_fetch
from haitiwatch.crawler.cpu_work import feed_records
from haitiwatch.crawler.jobs import ListingOptions, SourceJob
from haitiwatch.crawler.listings import read_listing
from haitiwatch.db.errors import FeedError
from haitiwatch.db.keys import key_value
from haitiwatch.db.records import FeedEntry, FetchOutcome, FetchResult
from haitiwatch.db.schema import Article, ArticleKey
from haitiwatch.db.store import SourceSpec, Store
from haitiwatch.db.textnorm import clean_text, content_hash

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
NOW = datetime(2026, 3, 1, tzinfo=UTC)
#: Inputs that are not feeds: fastfeedparser's expected outputs, NetNewsWire's HTML and OPML.
NOT_FEEDS = (".expected.json.gz", ".html.gz", ".opml.gz")


@dataclass(frozen=True, slots=True)
class CapturedFeed:
    name: str
    url: str
    body: bytes


def captured_feeds(corpus: Path) -> Iterator[CapturedFeed]:
    """Every feed capture of the two corpora, with the URL it was fetched from (when known)."""
    fast = corpus / "fastfeedparser-feeds"
    if fast.is_dir():
        manifest = fast / "manifest.jsonl"
        urls = {
            row["file"]: row["source_url"]
            for row in map(json.loads, manifest.read_text("utf-8").splitlines())
        }
        for path in sorted(fast.rglob("*")):
            relative = path.relative_to(fast).as_posix()
            if path.is_file() and path.parent != fast and not relative.endswith(NOT_FEEDS):
                if _is_expected_output(relative):
                    continue
                url = urls.get(relative, f"https://{path.name.split('.')[0]}.fastfeed.test/feed")
                yield CapturedFeed(f"fastfeed/{relative}", url, _read(path))
    nnw = corpus / "netnewswire-rsparser-feeds" / "files"
    if nnw.is_dir():
        for path in sorted(nnw.glob("*.gz")):
            if not path.name.endswith(NOT_FEEDS):
                url = f"https://{path.name.split('.')[0].lower()}.netnewswire.test/feed"
                yield CapturedFeed(f"netnewswire/{path.name}", url, _read(path))


def _is_expected_output(relative: str) -> bool:
    """fastfeedparser's integration/<name>.json.gz is the expected parse of <name>.xml.gz."""
    return (
        relative.startswith("integration/")
        and relative.endswith(".json.gz")
        and relative != "integration/json_feed_sample.json.gz"
    )


def _read(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def title_of(text: str | None) -> str:
    return " ".join((text or "").split())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--show", type=int, default=40, help="folds with other titles listed")
    parser.add_argument("--one-text", action="store_true", help="one summary for every entry")
    parser.add_argument("--one-per-poll", action="store_true", help="each entry stored alone")
    args = parser.parse_args()
    feeds = list(captured_feeds(args.corpus))
    if not feeds:
        print(f"skipped: no feed corpus in {args.corpus}")
        return 0
    with tempfile.TemporaryDirectory(prefix="hw-alias-audit-") as tmp:
        store = Store.open(f"sqlite:///{tmp}/audit.db")
        try:
            report(store, feeds, args.show, args.one_text, args.one_per_poll)
        finally:
            store.close()
    return 0


#: What ``--one-text`` gives every entry.
ONE_TEXT = (
    "Thanks for watching! This channel is funded by viewers: join the patrons who keep these "
    "videos free for everyone and get early access, notes and a monthly live session. "
    "Follow us everywhere, and subscribe to the newsletter for every new episode."
)


def report(
    store: Store, feeds: list[CapturedFeed], show: int, one_text: bool, one_per_poll: bool
) -> None:
    store.sync_sources([SourceSpec(f.name, "feed", f.url) for f in feeds], NOW)
    #: canonical entry URL -> (entry title, source, GUID)
    listed: dict[str, tuple[str, str, str | None]] = {}
    unreadable = entries = shared = 0
    for feed in feeds:
        job = SourceJob(name=feed.name, kind="feed", url=feed.url, fetch_articles=False)
        try:
            listing = read_listing("feed", ListingOptions(), feed.body, feed.url, now=NOW)
        except FeedError:
            unreadable += 1
            continue
        found = list(listing.feed.entries)
        if one_text:
            found = [replace(entry, summary=ONE_TEXT) for entry in found]
        entries += len(found)
        shared += shared_by_other_titles(found)
        for entry, keys in zip(found, listing.keys, strict=True):
            url = next((value for kind, value in keys if kind == "url"), None)
            if url is not None:
                listed.setdefault(url, (title_of(entry.title), feed.name, entry.guid))
        polls = [([e], [k]) for e, k in zip(found, listing.keys, strict=True)]
        for listed_now, keys in polls if one_per_poll else [(found, list(listing.keys))]:
            poll(store, job, listed_now, keys)

    owners = url_owners(store)
    articles = article_titles(store)
    folded: list[tuple[str, str, str, str, str]] = []
    missing = 0
    for url, (title, source, guid) in listed.items():
        owner = owners.get(key_value(url))
        if owner is None:
            missing += 1
            continue
        canonical, stored_title, stored_guid = articles[owner]
        if canonical == url:
            continue
        how = "guid" if guid is not None and guid == stored_guid else "hash"
        folded.append((how, source, url, title, f"{stored_title} <{canonical}>"))
    retitled = [f for f in folded if f[3] != f[4].rsplit(" <", 1)[0]]
    print(f"feeds read: {len(feeds) - unreadable} ({unreadable} unreadable), entries: {entries}")
    print(f"entries with distinct URLs: {len(listed)}")
    print(f"entries whose text differently titled entries of their feed share: {shared}")
    print(f"articles stored:            {len(articles)}")
    print(f"URLs not stored at all:     {missing}")
    print(f"entries folded as aliases:  {len(folded)} "
          f"(by GUID {sum(f[0] == 'guid' for f in folded)}, "
          f"by text hash {sum(f[0] == 'hash' for f in folded)})")  # fmt: skip
    print(f"  of which with another title: {len(retitled)}")
    for how, source, url, title, into in retitled[:show]:
        print(f"    [{how}] {source}: {title!r} <{url}>\n        folded into {into!r}")
    if len(retitled) > show:
        print(f"    ... and {len(retitled) - show} more")


def poll(
    store: Store,
    job: SourceJob,
    found: list[FeedEntry],
    keys: list[tuple[tuple[str, str], ...]],
) -> None:
    """What a crawl does with a feed that lists ``found``: skip what is stored, store the rest."""
    known_keys = store.known_articles([k for ks in keys for k in ks])
    known = {k: Known(v.updated_at) for k, v in known_keys.items()}
    todo, seen_again = select_to_fetch(found, keys, known)
    records = feed_records(job, todo, found).records
    result = FetchResult(job.name, job.url, NOW, 0, FetchOutcome.OK, 200)
    store.save_fetch(result, records, NOW, seen_again)


def shared_by_other_titles(entries: list[FeedEntry]) -> int:
    """Entries whose summary (long enough to be hashed) another entry with another title has."""
    titles: dict[str, set[str]] = {}
    hashes = [content_hash(clean_text(entry.summary)) for entry in entries]
    for entry, digest in zip(entries, hashes, strict=True):
        if digest is not None:
            titles.setdefault(digest, set()).add(title_of(entry.title))
    return sum(1 for digest in hashes if digest is not None and len(titles[digest]) > 1)


def url_owners(store: Store) -> dict[str, int]:
    with store.engine.connect() as connection:
        rows = connection.execute(
            select(ArticleKey.value, ArticleKey.article_id).where(ArticleKey.kind == "url")
        )
        return {value: article_id for value, article_id in rows}


def article_titles(store: Store) -> dict[int, tuple[str, str, str | None]]:
    """id -> canonical URL, title and GUID of each stored article."""
    with store.engine.connect() as connection:
        rows = connection.execute(
            select(Article.id, Article.canonical_url, Article.title, Article.guid)
        )
        return {id_: (canonical, title, guid) for id_, canonical, title, guid in rows}


if __name__ == "__main__":
    raise SystemExit(main())
