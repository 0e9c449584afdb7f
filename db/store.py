"""The Store: the only code that opens database sessions.

Writes for one fetched source happen in one transaction (its articles, its fetch record, its
health), so a crash never leaves half a feed behind and a re-run simply repeats the work.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from sqlalchemy import ColumnElement, Engine, and_, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from db.alerts import rules_by_article
from db.database import WRITE_OPTION, create_db_engine, migrate
from db.records import (
    ArticleOutcome,
    ArticleRecord,
    FetchOutcome,
    FetchResult,
    SourceHealth,
    StoredArticle,
    Validators,
)
from db.schema import Article, ArticleKey, Fetch, Source, Story
from db.story_index import StoryIndex, join_story

#: Longer key values are stored as their hash (index entries have a size limit on PostgreSQL).
MAX_KEY_CHARS = 512
_TEXT_RANK = {"feed": 1, "page": 2}


class ArticleHook(Protocol):
    """Runs inside the transaction that stores an article (NEW or UPDATED), so what it writes
    (story links, rule matches, outbox rows) commits or rolls back with the article."""

    def __call__(
        self,
        session: Session,
        article: Article,
        record: ArticleRecord,
        outcome: ArticleOutcome,
        now: datetime,
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """What the Store needs to know of a configured source."""

    name: str
    kind: str
    url: str


@dataclass(frozen=True, slots=True)
class KnownArticle:
    id: int
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ArticleCounts:
    new: int = 0
    duplicate: int = 0
    updated: int = 0


def key_value(value: str) -> str:
    if len(value) <= MAX_KEY_CHARS:
        return value
    return "sha256:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def record_keys(record: ArticleRecord) -> list[tuple[str, str]]:
    """All identities of a record, strongest first (URL, then GUID, then outlet + text hash)."""
    keys = [("url", key_value(record.canonical_url))]
    keys += [("url", key_value(u)) for u in record.alias_urls if u != record.canonical_url]
    if record.guid_key:
        keys.append(("guid", key_value(record.guid_key)))
    if record.content_hash and record.outlet:
        keys.append(("hash", key_value(f"{record.outlet}|{record.content_hash}")))
    return keys


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


class Store:
    def __init__(
        self,
        engine: Engine,
        hooks: Sequence[ArticleHook] = (),
        stories: StoryIndex | None = None,
    ) -> None:
        self.engine = engine
        self.hooks = list(hooks)
        #: Story grouping; without a matcher, only exact copies (same text hash) are grouped.
        self.stories = stories or StoryIndex()
        self._session = sessionmaker(engine, expire_on_commit=False)
        self._write = sessionmaker(
            engine.execution_options(**{WRITE_OPTION: True}), expire_on_commit=False
        )
        self._source_ids: dict[str, int] = {}

    @classmethod
    def open(
        cls, url: str, hooks: Sequence[ArticleHook] = (), stories: StoryIndex | None = None
    ) -> Store:
        engine = create_db_engine(url)
        migrate(engine)
        return cls(engine, hooks, stories)

    def close(self) -> None:
        self.engine.dispose()

    # -- sources ---------------------------------------------------------------------------

    def sync_sources(self, specs: Iterable[SourceSpec], now: datetime) -> None:
        """Create or update the configured sources. A changed URL forgets its validators."""
        with self._write.begin() as session:
            existing = {s.name: s for s in session.scalars(select(Source))}
            for spec in specs:
                row = existing.get(spec.name)
                if row is None:
                    session.add(
                        Source(
                            name=spec.name,
                            kind=spec.kind,
                            url=spec.url,
                            consecutive_failures=0,
                            created_at=now,
                        )
                    )
                elif (row.url, row.kind) != (spec.url, spec.kind):
                    row.url, row.kind = spec.url, spec.kind
                    row.etag = row.last_modified = None
        self._source_ids = self._load_source_ids()

    def _load_source_ids(self) -> dict[str, int]:
        with self._session() as session:
            return {name: id_ for id_, name in session.execute(select(Source.id, Source.name))}

    def source_id(self, name: str) -> int:
        if name not in self._source_ids:
            self._source_ids = self._load_source_ids()
        return self._source_ids[name]

    def validators(self, name: str) -> tuple[Validators, datetime | None]:
        """The source's ETag/Last-Modified, and the time before which it must not be asked."""
        with self._session() as session:
            row = session.get_one(Source, self.source_id(name))
            return Validators(row.etag, row.last_modified), row.retry_after_until

    def _record_fetch(self, session: Session, result: FetchResult, counts: ArticleCounts) -> int:
        source = session.get_one(Source, self.source_id(result.source), with_for_update=True)
        fetch = Fetch(
            source_id=source.id,
            started_at=result.started,
            duration_ms=result.duration_ms,
            outcome=result.outcome.value,
            http_status=result.http_status,
            error=result.error,
            bytes_received=result.bytes_received,
            items_found=result.items_found,
            articles_new=counts.new,
            articles_duplicate=counts.duplicate,
            articles_updated=counts.updated,
        )
        session.add(fetch)
        session.flush()
        source.last_fetch_at = result.started
        source.retry_after_until = result.retry_after
        if result.outcome is FetchOutcome.ERROR:
            source.last_error_at, source.last_error = result.started, result.error
            source.consecutive_failures += 1
            source.failing_since = source.failing_since or result.started
            return fetch.id
        source.last_success_at = result.started
        source.consecutive_failures = 0
        source.failing_since = None
        if result.outcome is FetchOutcome.OK:
            source.etag = result.validators.etag
            source.last_modified = result.validators.last_modified
        return fetch.id

    def source_health(self) -> list[SourceHealth]:
        with self._session() as session:
            articles = dict(
                session.execute(
                    select(Article.source_id, func.count()).group_by(Article.source_id)
                ).all()
            )
            fetches = dict(
                session.execute(
                    select(Fetch.source_id, func.count()).group_by(Fetch.source_id)
                ).all()
            )
            return [
                SourceHealth(
                    name=s.name,
                    kind=s.kind,
                    url=s.url,
                    status=(
                        "never"
                        if s.last_fetch_at is None
                        else "failing"
                        if s.consecutive_failures
                        else "ok"
                    ),
                    last_success=s.last_success_at,
                    last_error_at=s.last_error_at,
                    last_error=s.last_error,
                    consecutive_failures=s.consecutive_failures,
                    articles=articles.get(s.id, 0),
                    fetches=fetches.get(s.id, 0),
                    next_due=s.next_due_at,
                )
                for s in session.scalars(select(Source).order_by(Source.name))
            ]

    # -- articles --------------------------------------------------------------------------

    def known_articles(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], KnownArticle]:
        """Which of these (kind, value) keys the archive already has, to skip page fetches."""
        wanted = {(kind, key_value(value)): (kind, value) for kind, value in keys}
        found: dict[tuple[str, str], KnownArticle] = {}
        with self._session() as session:
            for chunk in _chunks(list(wanted), 400):
                stmt = (
                    select(ArticleKey.kind, ArticleKey.value, Article.id, Article.updated_at)
                    .join(Article, Article.id == ArticleKey.article_id)
                    .where(_key_in(chunk))
                )
                for kind, value, id_, updated in session.execute(stmt):
                    if (kind, value) in wanted:
                        found[wanted[(kind, value)]] = KnownArticle(id_, updated)
        return found

    def save_fetch(
        self,
        result: FetchResult,
        records: Sequence[ArticleRecord],
        now: datetime,
        seen_again: int = 0,
    ) -> tuple[list[ArticleOutcome], ArticleCounts, int]:
        """Store one fetched source's articles and its fetch record in one transaction.

        ``seen_again`` counts entries the crawler skipped because they were already stored.
        """
        with self._write.begin() as session:
            outcomes = [self._save_article(session, record, now) for record in records]
            counts = ArticleCounts(
                new=outcomes.count(ArticleOutcome.NEW),
                duplicate=outcomes.count(ArticleOutcome.DUPLICATE) + seen_again,
                updated=outcomes.count(ArticleOutcome.UPDATED),
            )
            fetch_id = self._record_fetch(session, result, counts)
        return outcomes, counts, fetch_id

    def save_article(
        self, record: ArticleRecord, now: datetime, fetch_id: int | None = None
    ) -> ArticleOutcome:
        """Store one article (from a fetched page) and count it on the fetch that found it."""
        column = {
            ArticleOutcome.NEW: Fetch.articles_new,
            ArticleOutcome.DUPLICATE: Fetch.articles_duplicate,
            ArticleOutcome.UPDATED: Fetch.articles_updated,
        }
        with self._write.begin() as session:
            outcome = self._save_article(session, record, now)
            if fetch_id is not None:
                col = column[outcome]
                session.execute(update(Fetch).where(Fetch.id == fetch_id).values({col: col + 1}))
        return outcome

    def _save_article(
        self, session: Session, record: ArticleRecord, now: datetime
    ) -> ArticleOutcome:
        keys = record_keys(record)
        for _attempt in range(3):
            existing = self._match(session, keys)
            if existing is not None:
                outcome = self._merge(session, existing, record, keys, now)
                if outcome is ArticleOutcome.UPDATED:
                    self._run_hooks(session, existing, record, outcome, now)
                return outcome
            try:
                with session.begin_nested():
                    article = self._insert(session, record, keys, now)
            except IntegrityError:
                continue  # another writer stored it between our lookup and insert: look again
            self._run_hooks(session, article, record, ArticleOutcome.NEW, now)
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
        for hook in self.hooks:
            hook(session, article, record, outcome, now)

    def _match(self, session: Session, keys: list[tuple[str, str]]) -> Article | None:
        rows = session.execute(
            select(ArticleKey.kind, ArticleKey.value, ArticleKey.article_id).where(_key_in(keys))
        ).all()
        by_key = {(kind, value): article_id for kind, value, article_id in rows}
        for key in keys:  # strongest identity wins
            if key in by_key:
                return session.get(Article, by_key[key])
        return None

    def _merge(
        self,
        session: Session,
        article: Article,
        record: ArticleRecord,
        keys: list[tuple[str, str]],
        now: datetime,
    ) -> ArticleOutcome:
        self._add_keys(session, article.id, keys)
        if not decide_update(article, record):
            return ArticleOutcome.DUPLICATE
        article.title, article.text = record.title, record.text
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

    def _insert(
        self, session: Session, record: ArticleRecord, keys: list[tuple[str, str]], now: datetime
    ) -> Article:
        story_id, index_keys = self._story_for(session, record, now)
        article = Article(
            source_id=self.source_id(record.source),
            story_id=story_id,
            url=record.url,
            canonical_url=record.canonical_url,
            guid=record.guid,
            title=record.title,
            text=record.text,
            summary=record.summary,
            text_origin=record.text_origin,
            authors=list(record.authors),
            published_at=record.published,
            language=record.language,
            content_hash=record.content_hash,
            first_seen_at=now,
            updated_at=now,
            revisions=1,
        )
        session.add(article)
        session.flush()
        # The primary key of the first key raises IntegrityError on a concurrent duplicate.
        session.add(ArticleKey(kind=keys[0][0], value=keys[0][1], article_id=article.id))
        session.flush()
        self._add_keys(session, article.id, keys[1:])
        self.stories.add(session, article.id, index_keys, now)
        story = session.get_one(Story, story_id)
        if story.origin_article_id is None:
            story.origin_article_id = article.id
        return article

    def _story_for(
        self, session: Session, record: ArticleRecord, now: datetime
    ) -> tuple[int, tuple[int, ...]]:
        """The story a new article joins (a copy's) or starts, and its story-index keys."""
        placement = self.stories.place(session, record, now)
        if placement.story_id is not None:
            join_story(session, placement.story_id, now)
            return placement.story_id, placement.keys
        story = Story(created_at=now, updated_at=now, article_count=1)
        session.add(story)
        session.flush()
        return story.id, placement.keys

    def _add_keys(self, session: Session, article_id: int, keys: list[tuple[str, str]]) -> None:
        """Remember further identities; one already owned by another article stays with it."""
        if not keys:
            return
        rows = [{"kind": k, "value": v, "article_id": article_id} for k, v in dict.fromkeys(keys)]
        # ON CONFLICT DO NOTHING: a key another article (or a concurrent writer) already owns
        # stays with it, without a savepoint per key.
        insert = (
            postgresql_insert
            if session.get_bind().dialect.name == "postgresql"
            else (sqlite_insert)
        )
        session.execute(insert(ArticleKey).values(rows).on_conflict_do_nothing())

    # -- reading ---------------------------------------------------------------------------

    def count_articles(self) -> int:
        with self._session() as session:
            return session.scalar(select(func.count()).select_from(Article)) or 0

    def iter_articles(self, batch_size: int = 500) -> Iterator[StoredArticle]:
        """Every article in id order, in batches (keyset pagination keeps memory constant)."""
        last_id = 0
        while True:
            with self._session() as session:
                rows = session.execute(
                    select(Article, Source.name)
                    .join(Source, Source.id == Article.source_id)
                    .where(Article.id > last_id)
                    .order_by(Article.id)
                    .limit(batch_size)
                ).all()
                batch = [_to_stored(article, source) for article, source in rows]
                matched = rules_by_article(session, [a.id for a in batch])
                batch = [replace(a, rules=matched.get(a.id, ())) for a in batch]
            if not batch:
                return
            yield from batch
            last_id = batch[-1].id


def _to_stored(article: Article, source: str) -> StoredArticle:
    return StoredArticle(
        id=article.id,
        url=article.url,
        canonical_url=article.canonical_url,
        title=article.title,
        source=source,
        published=article.published_at,
        language=article.language,
        text=article.text,
        first_seen=article.first_seen_at,
        last_updated=article.updated_at,
        revisions=article.revisions,
        story=article.story_id,
        authors=tuple(article.authors or ()),
    )


def _key_in(keys: Sequence[tuple[str, str]]) -> ColumnElement[bool]:
    """kind IN (...) AND value IN (...): a superset of the pairs that both databases answer
    from the (kind, value) primary key index; callers keep only the pairs they asked for.

    (A row-value ``(kind, value) IN (VALUES ...)`` makes SQLite 3.40 scan the whole table.)
    """
    kinds = sorted({kind for kind, _ in keys})
    values = list({value for _, value in keys})
    return and_(ArticleKey.kind.in_(kinds), ArticleKey.value.in_(values))


def _chunks(items: list[tuple[str, str]], size: int) -> Iterator[list[tuple[str, str]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
