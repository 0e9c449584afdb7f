"""The durable story index: LSH band keys of recent articles in an indexed table.

Each article in the window has one row per band key (and one for its title key) in
``story_bands (band_key, article_id, created_at)``, and its text's shingles in
``story_shingles``. Placing a new article is one indexed lookup of its ~33 keys, restricted to
the window, then a verification of the few candidates found against their stored shingles.
The cost does not grow with the archive, the index lives in the database (no rebuild after a
restart, shared by every worker), and rows older than the window are pruned.

This module knows nothing of shingles or hashes (it stores the matcher's shingles as opaque
bytes): a ``Matcher`` (crawler/story_matcher.py) computes the keys and verifies candidates; it
is injected by scheduler/wiring.py (db imports neither crawler nor scheduler). Without a
matcher only exact copies (same text hash) share a story.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol, cast

from sqlalchemy import (
    Table,
    case,
    delete,
    func,
    insert,
    literal,
    select,
)
from sqlalchemy.orm import Session

from haitiwatch.db.database import bind_value, insert_rows, one_of
from haitiwatch.db.recent_index import PruneSchedule, most_shared
from haitiwatch.db.records import ArticleRecord
from haitiwatch.db.schema import Article, Source, StoryBand, StoryShingles

DEFAULT_WINDOW = timedelta(days=30)
STORY_BANDS = cast(Table, StoryBand.__table__)
STORY_SHINGLES = cast(Table, StoryShingles.__table__)
#: Candidates verified per new article, most shared keys first (bounds the cost).
MAX_CANDIDATES = 20
#: Expired rows are deleted every this many indexed articles (per process).
PRUNE_EVERY = 1000


class Matcher(Protocol):
    def keys(self, record: ArticleRecord) -> list[int]:
        """Signed 64-bit index keys of the record (band keys of its text, its title key)."""
        ...

    def prepare(self, record: ArticleRecord) -> ArticleRecord:
        """The record with its keys and its text's shingles (``story_shingles``, stored with
        it) computed: the crawl calls this in its CPU pool, off the database thread."""
        ...

    def score(self, record: ArticleRecord, other: Candidate) -> float | None:
        """How surely the record is a copy of ``other``; None if it is not."""
        ...


@dataclass(frozen=True, slots=True)
class Candidate:
    """An article a new one may copy: a stored one, or an earlier record of the same batch."""

    title: str
    #: Empty when ``shingles`` are given (then the text is not read at all).
    text: str
    #: The hashes ``Matcher.prepare`` computed for it, if they were stored.
    shingles: bytes | None
    story_id: int | None = None
    #: The feed's summary (short: always read; its phrases are computed from it when the
    #: stored hashes predate phrase sets).
    summary: str | None = None
    #: When it was published (else first seen): copies appear close together.
    published: datetime | None = None
    #: The source (name) it came from: items of one feed share its template text.
    source: str | None = None


#: An article to index: its id, its index keys and its text's shingles (None: not computed).
Indexed = tuple[int, Sequence[int], bytes | None]


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a new article goes: an existing story (or None: a new one), and its index keys."""

    story_id: int | None
    keys: tuple[int, ...]
    #: In a batch: the index of an earlier record whose story this one joins.
    peer: int | None = None


class StoryIndex:
    def __init__(self, matcher: Matcher | None = None, window: timedelta = DEFAULT_WINDOW) -> None:
        self.matcher = matcher
        self.window = window
        self._prune = PruneSchedule(PRUNE_EVERY)

    def keys(self, record: ArticleRecord) -> tuple[int, ...]:
        """The record's index keys: computed by the crawl already, or here."""
        if self.matcher is None:
            return ()
        if record.story_keys is not None:
            return tuple(dict.fromkeys(record.story_keys))
        return tuple(dict.fromkeys(self.matcher.keys(record)))

    def place_many(
        self, session: Session, records: Sequence[ArticleRecord], now: datetime
    ) -> list[Placement]:
        """The story each new article belongs to, in three queries: exact copies first, then
        verified near-copies; a record may also be a copy of an earlier record of the same
        batch (``Placement.peer``)."""
        keys = [self.keys(r) for r in records]
        hashes = {r.content_hash for r in records if r.content_hash}
        exact = exact_copy_stories(session, hashes)
        # Only records without an exact copy need their candidates.
        wanted = {
            k
            for r, ks in zip(records, keys, strict=True)
            if r.content_hash not in exact
            for k in ks
        }
        holders = key_holders(session, wanted, now - self.window)
        ranked = [
            [] if r.content_hash in exact else _most_shared(ks, holders)
            for r, ks in zip(records, keys, strict=True)
        ]
        stored = stored_candidates(session, {a for ids in ranked for a in ids})
        placements: list[Placement] = []
        first_with_hash: dict[str, int] = {}
        batch_holders: dict[int, list[int]] = {}
        for i, (record, ks) in enumerate(zip(records, keys, strict=True)):
            if record.published is None:  # stored with first_seen_at = now
                record = replace(record, published=now)
            digest = record.content_hash
            if digest and digest in exact:
                placements.append(Placement(exact[digest], ks))
            elif digest and digest in first_with_hash:
                placements.append(Placement(None, ks, peer=first_with_hash[digest]))
            else:
                placements.append(
                    self._best_of(record, ks, ranked[i], stored, records, batch_holders)
                )
            if digest:
                first_with_hash.setdefault(digest, i)
            for key in ks:
                batch_holders.setdefault(key, []).append(i)
        return placements

    def _best_of(
        self,
        record: ArticleRecord,
        keys: tuple[int, ...],
        ranked: list[int],
        stored: dict[int, Candidate],
        batch: Sequence[ArticleRecord],
        batch_holders: dict[int, list[int]],
    ) -> Placement:
        """The best verified copy among stored candidates and earlier records of the batch."""
        if self.matcher is None or not keys:
            return Placement(None, keys)
        best: tuple[float, int | None, int | None] | None = None  # score, story, peer
        for article_id in ranked:
            if (candidate := stored.get(article_id)) is None:
                continue
            score = self.matcher.score(record, candidate)
            if score is not None and (best is None or score > best[0]):
                best = (score, candidate.story_id, None)
        for peer in _most_shared(keys, batch_holders):
            score = self.matcher.score(record, batch_candidate(batch[peer], record.published))
            if score is not None and (best is None or score > best[0]):
                best = (score, None, peer)
        if best is None:
            return Placement(None, keys)
        return Placement(best[1], keys, peer=best[2])

    def add_many(self, session: Session, indexed: Sequence[Indexed], now: datetime) -> None:
        """Index new articles: their keys in one statement, their shingles in another."""
        connection = session.connection()
        created = bind_value(connection, STORY_BANDS.c.created_at, now)
        insert_rows(
            connection,
            STORY_BANDS,
            ("band_key", "article_id", "created_at"),
            [
                (key, article_id, created)
                for article_id, keys, _shingles in indexed
                for key in dict.fromkeys(keys)
            ],
        )
        insert_rows(
            connection,
            STORY_SHINGLES,
            ("article_id", "shingles", "created_at"),
            [
                (article_id, shingles, created)
                for article_id, keys, shingles in indexed
                if keys and shingles is not None
            ],
        )
        if self._prune.added(len(indexed)):
            prune(session, now - self.window)

    def reindex(
        self, session: Session, article: Article, record: ArticleRecord, now: datetime
    ) -> None:
        """An article updated in place is also found under its new text's keys, and verified
        against its new text (its stored shingles are replaced, or removed)."""
        keys = self.keys(record)
        add_keys(session, article.id, keys, now)
        session.execute(delete(StoryShingles).where(StoryShingles.article_id == article.id))
        if keys and record.story_shingles is not None:
            session.execute(
                insert(StoryShingles),
                [{"article_id": article.id, "shingles": record.story_shingles, "created_at": now}],
            )


def exact_copy_stories(session: Session, hashes: Iterable[str]) -> dict[str, int]:
    """hash -> the story of the first stored article with that text hash (an exact copy)."""
    found: dict[str, int] = {}
    if not (wanted := set(hashes)):
        return found
    rows = session.execute(
        select(Article.content_hash, Article.story_id)
        .where(one_of(session, Article.content_hash, wanted), Article.story_id.is_not(None))
        .order_by(Article.id)
    )
    for digest, story_id in rows:
        if digest is not None and story_id is not None:
            found.setdefault(digest, story_id)
    return found


def key_holders(session: Session, keys: Iterable[int], since: datetime) -> dict[int, list[int]]:
    """band key -> the articles indexed under it since ``since``."""
    holders: dict[int, list[int]] = {}
    if not (wanted := set(keys)):
        return holders
    rows = session.execute(
        select(StoryBand.band_key, StoryBand.article_id).where(
            one_of(session, StoryBand.band_key, wanted), StoryBand.created_at >= since
        )
    )
    for key, article_id in rows:
        holders.setdefault(key, []).append(article_id)
    return holders


def _most_shared(keys: Sequence[int], holders: dict[int, list[int]]) -> list[int]:
    """The MAX_CANDIDATES holders sharing most of ``keys``, as ``candidates``."""
    return most_shared((h for key in keys for h in holders.get(key, ())), MAX_CANDIDATES)


def stored_candidates(session: Session, article_ids: Iterable[int]) -> dict[int, Candidate]:
    """article id -> the article as a candidate, for those that belong to a story. The text
    is read only for articles without stored shingles (long texts live in overflow pages that
    SQLite does not read when the column is not used)."""
    found: dict[int, Candidate] = {}
    if not (wanted := set(article_ids)):
        return found
    shingles = STORY_SHINGLES.c.shingles
    rows = session.execute(
        select(
            Article.id,
            Article.title,
            case((shingles.is_(None), Article.text), else_=literal("")),
            shingles,
            Article.story_id,
            Article.summary,
            func.coalesce(Article.published_at, Article.first_seen_at),
            Source.name,
        )
        .join(Source, Source.id == Article.source_id)
        .outerjoin(STORY_SHINGLES, STORY_SHINGLES.c.article_id == Article.id)
        .where(one_of(session, Article.id, wanted), Article.story_id.is_not(None))
    )
    for article_id, title, text, stored, story_id, summary, published, source in rows:
        if story_id is not None:
            found[article_id] = Candidate(title, text, stored, story_id, summary, published, source)
    return found


def batch_candidate(record: ArticleRecord, now: datetime | None = None) -> Candidate:
    """An earlier record of the same batch as a candidate (its hashes as computed)."""
    published = record.published or now
    return Candidate(
        record.title,
        record.text,
        record.story_shingles,
        None,
        record.summary,
        published,
        record.source,
    )


def candidates(session: Session, keys: Sequence[int], since: datetime) -> list[Candidate]:
    """The articles sharing most keys, indexed since ``since``, as candidates."""
    ranked = _most_shared(keys, key_holders(session, keys, since))
    stored = stored_candidates(session, ranked)
    return [stored[article_id] for article_id in ranked if article_id in stored]


def add_keys(session: Session, article_id: int, keys: Sequence[int], now: datetime) -> None:
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return
    have = set(
        session.scalars(
            select(StoryBand.band_key).where(
                one_of(session, StoryBand.band_key, wanted), StoryBand.article_id == article_id
            )
        )
    )
    rows = [
        {"band_key": key, "article_id": article_id, "created_at": now}
        for key in wanted
        if key not in have
    ]
    if rows:
        session.execute(insert(StoryBand), rows)


def prune(session: Session, before: datetime) -> int:
    """Delete index rows and shingles older than ``before`` (articles and stories stay).
    Returns the count of index rows deleted."""
    session.execute(
        delete(StoryShingles)
        .where(StoryShingles.created_at < before)
        .execution_options(synchronize_session=False)
    )
    result = session.execute(
        delete(StoryBand)
        .where(StoryBand.created_at < before)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
