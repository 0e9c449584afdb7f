"""The durable story index: LSH band keys of recent articles in an indexed table.

Each article in the window has one row per band key (and one for its title key) in
``story_bands (band_key, article_id, created_at)``. Placing a new article is one indexed
lookup of its ~20 keys, restricted to the window, then a verification of the few candidates
found. The cost does not grow with the archive, the index lives in the database (no rebuild
after a restart, shared by every worker), and rows older than the window are pruned.

This module knows nothing of shingles or hashes: a ``Matcher`` (crawler/stories.py) computes
the keys and verifies candidates; it is injected by scheduler/wiring.py (db imports neither
crawler nor scheduler). Without a matcher only exact copies (same text hash) share a story.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, cast

from sqlalchemy import Engine, Table, column, delete, insert, inspect, select, table, update
from sqlalchemy.orm import Session

from db.database import bind_value, insert_rows, one_of
from db.records import ArticleRecord
from db.schema import Article, Source, Story, StoryBand

DEFAULT_WINDOW = timedelta(days=30)
STORY_BANDS = cast(Table, StoryBand.__table__)
#: Candidates verified per new article, most shared keys first (bounds the cost).
MAX_CANDIDATES = 20
#: Expired rows are deleted every this many indexed articles (per process).
PRUNE_EVERY = 1000


class Matcher(Protocol):
    def keys(self, record: ArticleRecord) -> list[int]:
        """Signed 64-bit index keys of the record (band keys of its text, its title key)."""
        ...

    def prepare(self, record: ArticleRecord) -> ArticleRecord:
        """The record with its keys (and what ``score`` needs of it) computed: the crawl calls
        this in its CPU pool, off the database thread."""
        ...

    def remember(self, record: ArticleRecord) -> None:
        """The record is being stored: keep what ``score`` needs to verify later articles
        against it (so that its text need not be processed again)."""
        ...

    def score(self, record: ArticleRecord, title: str, text: str) -> float | None:
        """How surely the record is a copy of the article (title, text); None if it is not."""
        ...


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
        self._added = 0

    def keys(self, record: ArticleRecord) -> tuple[int, ...]:
        """The record's index keys: computed by the crawl already, or here."""
        if self.matcher is None:
            return ()
        if record.story_keys is not None:
            return tuple(dict.fromkeys(record.story_keys))
        return tuple(dict.fromkeys(self.matcher.keys(record)))

    def place(self, session: Session, record: ArticleRecord, now: datetime) -> Placement:
        """The story a new article belongs to. Exact copies first, then verified near-copies."""
        return self.place_many(session, [record], now)[0]

    def place_many(
        self, session: Session, records: Sequence[ArticleRecord], now: datetime
    ) -> list[Placement]:
        """``place`` for a batch of new articles in three queries; a record may also be a copy
        of an earlier record of the same batch (``Placement.peer``)."""
        keys = [self.keys(r) for r in records]
        if self.matcher is not None:
            for record in records:
                self.matcher.remember(record)
        hashes = {r.content_hash for r in records if r.content_hash}
        exact = exact_copy_stories(session, hashes)
        # Only records without an exact copy need their candidates (as in ``place``).
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
        texts = stored_texts(session, {a for ids in ranked for a in ids})
        placements: list[Placement] = []
        first_with_hash: dict[str, int] = {}
        batch_holders: dict[int, list[int]] = {}
        for i, (record, ks) in enumerate(zip(records, keys, strict=True)):
            digest = record.content_hash
            if digest and digest in exact:
                placements.append(Placement(exact[digest], ks))
            elif digest and digest in first_with_hash:
                placements.append(Placement(None, ks, peer=first_with_hash[digest]))
            else:
                placements.append(
                    self._best_of(record, ks, ranked[i], texts, records, batch_holders)
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
        stored: list[int],
        texts: dict[int, tuple[str, str, int]],
        batch: Sequence[ArticleRecord],
        batch_holders: dict[int, list[int]],
    ) -> Placement:
        """The best verified copy among stored candidates and earlier records of the batch."""
        if self.matcher is None or not keys:
            return Placement(None, keys)
        best: tuple[float, int | None, int | None] | None = None  # score, story, peer
        for article_id in stored:
            if article_id not in texts:
                continue
            title, text, story_id = texts[article_id]
            score = self.matcher.score(record, title, text)
            if score is not None and (best is None or score > best[0]):
                best = (score, story_id, None)
        for peer in _most_shared(keys, batch_holders):
            other = batch[peer]
            score = self.matcher.score(record, other.title, other.text)
            if score is not None and (best is None or score > best[0]):
                best = (score, None, peer)
        if best is None:
            return Placement(None, keys)
        return Placement(best[1], keys, peer=best[2])

    def add_many(
        self, session: Session, indexed: Sequence[tuple[int, Sequence[int]]], now: datetime
    ) -> None:
        """Index new articles ((article id, keys) pairs) in one statement."""
        connection = session.connection()
        created = bind_value(connection, STORY_BANDS.c.created_at, now)
        insert_rows(
            connection,
            STORY_BANDS,
            ("band_key", "article_id", "created_at"),
            [
                (key, article_id, created)
                for article_id, keys in indexed
                for key in dict.fromkeys(keys)
            ],
        )
        before = self._added // PRUNE_EVERY
        self._added += len(indexed)
        if self._added // PRUNE_EVERY != before:
            prune(session, now - self.window)

    def reindex(
        self, session: Session, article: Article, record: ArticleRecord, now: datetime
    ) -> None:
        """An article updated in place is also found under its new text's keys."""
        add_keys(session, article.id, self.keys(record), now)


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
    """The MAX_CANDIDATES holders sharing most of ``keys`` (ties: lowest id), as ``candidates``."""
    counts = Counter(holder for key in keys for holder in holders.get(key, ()))
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [holder for holder, _hits in ranked[:MAX_CANDIDATES]]


def stored_texts(session: Session, article_ids: Iterable[int]) -> dict[int, tuple[str, str, int]]:
    """article id -> (title, text, story id) of those that belong to a story."""
    texts: dict[int, tuple[str, str, int]] = {}
    if not (wanted := set(article_ids)):
        return texts
    rows = session.execute(
        select(Article.id, Article.title, Article.text, Article.story_id).where(
            one_of(session, Article.id, wanted), Article.story_id.is_not(None)
        )
    )
    for article_id, title, text, story_id in rows:
        if story_id is not None:
            texts[article_id] = (title, text, story_id)
    return texts


def candidates(
    session: Session, keys: Sequence[int], since: datetime
) -> list[tuple[str, str, int]]:
    """(title, text, story_id) of the articles sharing most keys, indexed since ``since``."""
    ranked = _most_shared(keys, key_holders(session, keys, since))
    texts = stored_texts(session, ranked)
    return [texts[article_id] for article_id in ranked if article_id in texts]


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


def join_story(session: Session, story_id: int, now: datetime) -> None:
    session.execute(
        update(Story)
        .where(Story.id == story_id)
        .values(article_count=Story.article_count + 1, updated_at=now)
    )


def prune(session: Session, before: datetime) -> int:
    """Delete index rows older than ``before`` (articles and stories stay). Returns the count."""
    result = session.execute(
        delete(StoryBand)
        .where(StoryBand.created_at < before)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


# -- reading (the `stories` and `story` commands) ---------------------------------------------

#: The alerts feature's table; read by name so that stories work with or without it.
RULE_MATCHES = table("rule_matches", column("article_id"), column("rule"))


@dataclass(frozen=True, slots=True)
class StoryCopy:
    article_id: int
    source: str
    url: str
    title: str
    first_seen: datetime
    published: datetime | None
    revisions: int
    is_origin: bool


@dataclass(frozen=True, slots=True)
class StorySummary:
    id: int
    created_at: datetime
    updated_at: datetime
    article_count: int
    origin: StoryCopy | None
    #: Every copy's canonical URL (the caller derives the outlets from them).
    urls: tuple[str, ...]


def has_rule_matches(engine: Engine) -> bool:
    return inspect(engine).has_table("rule_matches")


def list_stories(
    engine: Engine, since: datetime, rule: str | None = None, limit: int = 200
) -> list[StorySummary]:
    """Stories updated since ``since``, newest first; with ``rule``, only those it matched."""
    stmt = select(Story).where(Story.updated_at >= since)
    if rule is not None:
        matched = (
            select(Article.story_id)
            .join(RULE_MATCHES, RULE_MATCHES.c.article_id == Article.id)
            .where(RULE_MATCHES.c.rule == rule)
        )
        stmt = stmt.where(Story.id.in_(matched))
    stmt = stmt.order_by(Story.updated_at.desc(), Story.id.desc()).limit(limit)
    with Session(engine) as session:
        stories = list(session.scalars(stmt))
        copies = _copies(session, [s.id for s in stories])
    return [
        StorySummary(
            id=s.id,
            created_at=s.created_at,
            updated_at=s.updated_at,
            article_count=s.article_count,
            origin=next((c for c in copies.get(s.id, []) if c.is_origin), None),
            urls=tuple(c.url for c in copies.get(s.id, [])),
        )
        for s in stories
    ]


def story_copies(engine: Engine, story_id: int) -> list[StoryCopy] | None:
    """Every copy of a story in first-seen order, the origin marked; None: no such story."""
    with Session(engine) as session:
        if session.get(Story, story_id) is None:
            return None
        return _copies(session, [story_id]).get(story_id, [])


def _copies(session: Session, story_ids: list[int]) -> dict[int, list[StoryCopy]]:
    if not story_ids:
        return {}
    rows = session.execute(
        select(Article, Source.name, Story.origin_article_id)
        .join(Source, Source.id == Article.source_id)
        .join(Story, Story.id == Article.story_id)
        .where(Article.story_id.in_(story_ids))
        .order_by(Article.first_seen_at, Article.id)
    ).all()
    out: dict[int, list[StoryCopy]] = {}
    for article, source, origin_id in rows:
        assert article.story_id is not None
        out.setdefault(article.story_id, []).append(
            StoryCopy(
                article_id=article.id,
                source=source,
                url=article.canonical_url,
                title=article.title,
                first_seen=article.first_seen_at,
                published=article.published_at,
                revisions=article.revisions,
                is_origin=article.id == origin_id,
            )
        )
    return out
