"""Storing articles inside the Store's transactions: match their keys, insert the new ones
in a few statements, merge the rest, place them in stories and run the hooks (rule matches,
alert outbox rows) in the same transaction."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import Table, bindparam, insert, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from haitiwatch.db.alias_owners import is_alias, separate_false_aliases
from haitiwatch.db.article_keys import add_keys, article_by_keys, stored_keys
from haitiwatch.db.database import insert_returning_ids
from haitiwatch.db.event_index import EventIndex, EventMatcher, StoryOf
from haitiwatch.db.keys import record_keys
from haitiwatch.db.records import ArticleOutcome, ArticleRecord, StoredChange
from haitiwatch.db.schema import Article, ArticleKey, Story
from haitiwatch.db.search.sql import index_new_articles
from haitiwatch.db.story_index import Matcher as StoryMatcher
from haitiwatch.db.story_index import Placement, StoryIndex

_TEXT_RANK = {"feed": 1, "page": 2}
# Core tables for the batch path: executemany without building ORM objects.
ARTICLES = cast(Table, Article.__table__)
KEYS = cast(Table, ArticleKey.__table__)
STORIES = cast(Table, Story.__table__)


class ArticleHook(Protocol):
    """Runs inside the transaction that stores articles (NEW or UPDATED ones), so what it
    writes (rule matches, outbox rows) commits or rolls back with them. Called once per batch:
    a feed's new articles arrive together."""

    def __call__(
        self, session: Session, changes: Sequence[StoredChange], now: datetime
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class RecordPreparer:
    """Computes in the crawl's CPU pool what the Store would otherwise compute in its one
    database thread: a record's story keys and event evidence. Sent to worker processes,
    so it holds only the (picklable) matchers."""

    stories: StoryMatcher | None
    events: EventMatcher | None

    def __call__(self, record: ArticleRecord) -> ArticleRecord:
        if self.stories is not None:
            record = self.stories.prepare(record)
        if self.events is not None:
            record = replace(record, event_evidence=self.events.evidence(record))
        return record


class ArticleWriter:
    """The article half of ``Store.save``: given a session, stores records and says what
    became of each (new, duplicate, updated)."""

    def __init__(
        self,
        source_id: Callable[[str], int],
        stories: StoryIndex,
        hooks: Sequence[ArticleHook] = (),
        events: EventIndex | None = None,
    ) -> None:
        self.source_id = source_id
        self.stories = stories
        self.events = events or EventIndex()
        self.hooks = list(hooks)

    def save_records(
        self, session: Session, records: Sequence[ArticleRecord], now: datetime
    ) -> list[ArticleOutcome]:
        """Store a batch: the new articles in a few statements, the rest one by one.

        A record none of whose keys is stored yet, nor claimed by an earlier record of the
        batch, is new. Those are inserted together (``_insert_many``); the others (copies seen
        again, updates, copies within the batch) go through ``_save_article`` afterwards. If
        another writer stored one of the "new" ones meanwhile, the key's primary key raises,
        the batch insert is rolled back, and every record goes one by one instead.
        """
        if records:
            serialize_article_writes(session)
        keyed = [(record, record_keys(record)) for record in records]
        stored = stored_keys(session, [k for _, keys in keyed for k in keys])
        keyed = separate_false_aliases(session, keyed, stored)
        fresh: list[int] = []
        claimed: set[tuple[str, str]] = set()
        for index, (_record, keys) in enumerate(keyed):
            if not any(k in stored or k in claimed for k in keys):
                fresh.append(index)
                claimed.update(keys)
        one_by_one = [i for i in range(len(keyed)) if i not in set(fresh)]
        outcomes: dict[int, ArticleOutcome] = {}
        if fresh:
            try:
                with session.begin_nested():
                    self._insert_many(session, [keyed[i] for i in fresh], now)
                outcomes.update((i, ArticleOutcome.NEW) for i in fresh)
            except IntegrityError:
                one_by_one = list(range(len(keyed)))
        for index in one_by_one:
            outcomes[index] = self._save_article(session, keyed[index][0], now)
        return [outcomes[i] for i in range(len(keyed))]

    def _insert_many(
        self,
        session: Session,
        keyed: Sequence[tuple[ArticleRecord, list[tuple[str, str]]]],
        now: datetime,
    ) -> None:
        """Insert new articles (none of whose keys is stored) with their stories, keys and
        story-index rows, and run the hooks: about ten statements for any number of them."""
        records = [record for record, _ in keyed]
        placements = self.stories.place_many(session, records, now)
        story_ids = self._stories_for(session, placements, now)
        events = self.events.place_many(
            session,
            records,
            [StoryOf(p.story_id, p.peer) for p in placements],
            [self.source_id(r.source) for r in records],
            now,
        )
        article_ids = insert_returning_ids(
            session.connection(),
            ARTICLES,
            [
                self._article_row(r, s, e, now)
                for r, s, e in zip(records, story_ids, events.event_ids, strict=True)
            ],
        )
        index_new_articles(session.connection(), article_ids)
        session.execute(
            insert(KEYS),
            [
                {"kind": kind, "value": value, "article_id": article_id}
                for (_, keys), article_id in zip(keyed, article_ids, strict=True)
                for kind, value in dict.fromkeys(keys)
            ],
        )
        self.stories.add_many(
            session,
            [
                (article_id, placement.keys, record.story_shingles)
                for article_id, placement, record in zip(
                    article_ids, placements, records, strict=True
                )
            ],
            now,
        )
        self.events.add_many(session, events, article_ids, now)
        origins: dict[int, int] = {}
        for placement, story_id, article_id in zip(placements, story_ids, article_ids, strict=True):
            if placement.story_id is None and placement.peer is None:
                origins[story_id] = article_id  # the first copy of a story it starts
        if origins:
            session.execute(
                update(STORIES)
                .where(STORIES.c.id == bindparam("sid"))
                .values(origin_article_id=bindparam("origin")),
                [{"sid": s, "origin": a} for s, a in origins.items()],
            )
        changes = [
            StoredChange(article_id, story_id, record, ArticleOutcome.NEW, event_id)
            for record, story_id, article_id, event_id in zip(
                records, story_ids, article_ids, events.event_ids, strict=True
            )
        ]
        for hook in self.hooks:
            hook(session, changes, now)

    def _stories_for(
        self, session: Session, placements: Sequence[Placement], now: datetime
    ) -> list[int]:
        """The story id of each placed article: existing stories are joined, new ones created
        (with their count of copies in the batch: most articles start a story, and updating
        each new row again cost an UPDATE apiece)."""
        # Each article's story: (False, a stored story's id) or (True, the index of the
        # batch's article that starts it).
        owners: list[tuple[bool, int]] = []
        for index, placement in enumerate(placements):
            if placement.story_id is not None:
                owners.append((False, placement.story_id))
            elif placement.peer is not None:
                owners.append(owners[placement.peer])
            else:
                owners.append((True, index))
        copies = Counter(owners)
        starting = [index for is_new, index in copies if is_new]
        new_ids = insert_returning_ids(
            session.connection(),
            STORIES,
            [
                {"created_at": now, "updated_at": now, "article_count": copies[(True, index)]}
                for index in starting
            ],
        )
        started = dict(zip(starting, new_ids, strict=True))
        joined = sorted((key, n) for (is_new, key), n in copies.items() if not is_new)
        if joined:
            session.execute(
                update(STORIES)
                .where(STORIES.c.id == bindparam("sid"))
                .values(article_count=STORIES.c.article_count + bindparam("n"), updated_at=now),
                [{"sid": story_id, "n": n} for story_id, n in joined],
            )
        return [started[key] if is_new else key for is_new, key in owners]

    def _article_row(
        self, record: ArticleRecord, story_id: int, event_id: int | None, now: datetime
    ) -> dict[str, Any]:
        return {
            "source_id": self.source_id(record.source),
            "story_id": story_id,
            "event_id": event_id,
            "url": record.url,
            "canonical_url": record.canonical_url,
            "guid": record.guid,
            "title": record.title,
            "text": record.text,
            "summary": record.summary,
            "text_origin": record.text_origin,
            "authors": list(record.authors),
            "published_at": record.published,
            "language": record.language,
            "content_hash": record.content_hash,
            "first_seen_at": now,
            "updated_at": now,
            "revisions": 1,
        }

    def _save_article(
        self, session: Session, record: ArticleRecord, now: datetime
    ) -> ArticleOutcome:
        keys = record_keys(record)
        for _attempt in range(3):
            existing, kind = article_by_keys(session, keys)
            if existing is not None and kind == "hash" and not is_alias(existing, record):
                keys, existing = [k for k in keys if k[0] != "hash"], None  # another article
            if existing is not None:
                outcome = self._merge(session, existing, record, keys, now)
                if outcome is ArticleOutcome.UPDATED:
                    self._run_hooks(session, existing, record, outcome, now)
                return outcome
            try:
                with session.begin_nested():
                    self._insert_many(session, [(record, keys)], now)
            except IntegrityError:
                continue  # another writer stored it between our lookup and insert: look again
            return ArticleOutcome.NEW
        raise RuntimeError(f"could not store {record.canonical_url}: keys keep conflicting")

    def _run_hooks(
        self,
        session: Session,
        article: Article,
        record: ArticleRecord,
        outcome: ArticleOutcome,
        now: datetime,
    ) -> None:
        change = StoredChange(article.id, article.story_id, record, outcome, article.event_id)
        for hook in self.hooks:
            hook(session, [change], now)

    def _merge(
        self,
        session: Session,
        article: Article,
        record: ArticleRecord,
        keys: list[tuple[str, str]],
        now: datetime,
    ) -> ArticleOutcome:
        add_keys(session, article.id, keys)
        if not decide_update(article, record):
            return ArticleOutcome.DUPLICATE
        article.title, article.text = record.title, record.text
        article.url = record.url  # the revised page's own address (a new slug, a move)
        article.text_origin, article.content_hash = record.text_origin, record.content_hash
        article.summary = record.summary or article.summary
        article.authors = list(record.authors) or article.authors
        article.published_at = article.published_at or record.published
        article.language = record.language or article.language
        article.updated_at = now
        article.revisions += 1
        self.stories.reindex(session, article, record, now)
        if article.story_id is not None:
            session.execute(
                update(Story).where(Story.id == article.story_id).values(updated_at=now)
            )
        return ArticleOutcome.UPDATED


def decide_update(existing: Article, record: ArticleRecord) -> bool:
    """Is ``record`` a new revision of ``existing`` (rather than the same thing seen again)?"""
    old_rank, new_rank = _TEXT_RANK.get(existing.text_origin, 0), _TEXT_RANK[record.text_origin]
    if new_rank < old_rank or not record.text:
        return False  # a feed summary never replaces page text
    if new_rank > old_rank:
        return True
    if record.content_hash and existing.content_hash:
        return record.content_hash != existing.content_hash
    return record.text != existing.text or record.title != existing.title


#: pg_advisory_xact_lock key of article writes (any constant would do).
ARTICLE_WRITE_LOCK = 0x6877_617274


def serialize_article_writes(session: Session) -> None:
    """On PostgreSQL, one writer of articles at a time, until the transaction ends.

    Story placement reads the band index and writes to it; two workers placing near-copies of
    one story at once would each see none of the other's rows and open two stories (two
    alerts). SQLite needs nothing: its writers are serialised by BEGIN IMMEDIATE.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ARTICLE_WRITE_LOCK})
