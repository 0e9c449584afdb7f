"""The Store: the only code that opens database sessions.

Writes for one fetched source happen in one transaction (its articles, its fetch record, its
health), so a crash never leaves half a feed behind and a re-run simply repeats the work.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from typing import Any, Protocol, cast

from sqlalchemy import (
    ColumnElement,
    Engine,
    Table,
    Update,
    and_,
    bindparam,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from db.alerts import rules_by_article
from db.alias_owners import is_alias, separate_false_aliases
from db.aliases import Key
from db.database import (
    WRITE_OPTION,
    create_db_engine,
    dialect_insert,
    insert_returning_ids,
    migrate,
    one_of,
)
from db.errors import StorageError
from db.owed import apply_changes, defer_in, owed_counts, owes_pages, pending, settle_in
from db.records import (
    ArticleCounts,
    ArticleOutcome,
    ArticleRecord,
    FetchOutcome,
    FetchResult,
    FetchToSave,
    KnownArticle,
    OwedPage,
    PageToSave,
    PollStart,
    Saved,
    SavedFetch,
    SourceHealth,
    StoredArticle,
    StoredChange,
    Validators,
    Write,
)
from db.schema import Article, ArticleKey, Fetch, Source, Story
from db.search import index_new_articles
from db.story_index import Placement, StoryIndex, join_story

#: Longer key values are stored as their hash (index entries have a size limit on PostgreSQL).
MAX_KEY_CHARS = 512
_TEXT_RANK = {"feed": 1, "page": 2}
# Core tables for the batch path: executemany without building ORM objects.
ARTICLES = cast(Table, Article.__table__)
KEYS = cast(Table, ArticleKey.__table__)
STORIES = cast(Table, Story.__table__)
SOURCES = cast(Table, Source.__table__)
FETCHES = cast(Table, Fetch.__table__)


class ArticleHook(Protocol):
    """Runs inside the transaction that stores articles (NEW or UPDATED ones), so what it
    writes (rule matches, outbox rows) commits or rolls back with them. Called once per batch:
    a feed's new articles arrive together."""

    def __call__(
        self, session: Session, changes: Sequence[StoredChange], now: datetime
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """What the Store needs to know of a configured source."""

    name: str
    kind: str
    url: str


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
        #: Article pages listed and not fetched yet, per source.

    @classmethod
    def open(
        cls,
        url: str,
        hooks: Sequence[ArticleHook] = (),
        stories: StoryIndex | None = None,
    ) -> Store:
        engine = create_db_engine(url)
        migrate(engine)
        return cls(engine, hooks, stories)

    def close(self) -> None:
        self.engine.dispose()

    # -- sources ---------------------------------------------------------------------------

    def sync_sources(self, specs: Iterable[SourceSpec], now: datetime) -> None:
        """Create or update the configured sources. A changed URL forgets its validators.

        Processes starting together on one database (cluster workers) may race to insert the
        same new source: the loser rolls back and syncs again, finding the rows.
        """
        specs = list(specs)
        for attempt in range(3):
            try:
                self._sync_sources(specs, now)
                break
            except IntegrityError:
                if attempt == 2:
                    raise
        self._source_ids = self._load_source_ids()

    def _sync_sources(self, specs: list[SourceSpec], now: datetime) -> None:
        with self._write.begin() as session:
            # Four columns, not ORM objects: every crawl pass starts here, and most passes
            # change nothing (200 sources: 3.9 -> 1.5 ms once warm).
            existing = {
                name: (id_, url, kind)
                for id_, name, url, kind in session.execute(
                    select(Source.id, Source.name, Source.url, Source.kind)
                )
            }
            for spec in specs:
                found = existing.get(spec.name)
                if found is None:
                    session.add(
                        Source(
                            name=spec.name,
                            kind=spec.kind,
                            url=spec.url,
                            consecutive_failures=0,
                            created_at=now,
                        )
                    )
                elif found[1:] != (spec.url, spec.kind):
                    session.execute(
                        update(Source)
                        .where(Source.id == found[0])
                        .values(url=spec.url, kind=spec.kind, etag=None, last_modified=None)
                    )

    def _load_source_ids(self) -> dict[str, int]:
        with self._session() as session:
            return {name: id_ for id_, name in session.execute(select(Source.id, Source.name))}

    def source_id(self, name: str) -> int:
        if name not in self._source_ids:
            self._source_ids = self._load_source_ids()
        return self._source_ids[name]

    def validators(self, name: str) -> PollStart:
        """The source's ETag/Last-Modified, the time before which it must not be asked, and
        whether it owes pages."""
        return self.validators_of([name])[name]

    def validators_of(self, names: Sequence[str]) -> dict[str, PollStart]:
        """``validators`` for many sources in one query (a crawl pass starts with all)."""
        wanted = {self.source_id(name): name for name in names}
        found: dict[str, PollStart] = {}
        if not wanted:
            return found
        with self._session() as session:
            rows = session.execute(
                select(
                    Source.id,
                    Source.etag,
                    Source.last_modified,
                    Source.retry_after_until,
                    owes_pages(),
                ).where(one_of(session, Source.id, wanted))
            )
            for id_, etag, last_modified, retry_after_until, owes in rows:
                found[wanted[id_]] = PollStart(
                    Validators(etag, last_modified), retry_after_until, bool(owes)
                )
        return found

    def _record_fetch(self, session: Session, result: FetchResult, counts: ArticleCounts) -> int:
        """The source's health and validators, then its fetch row: two prepared Core
        statements. (Through the ORM, loading the source and flushing both rows cost 1.07 ms
        a fetch; now 0.41 ms. A pass of 200 unchanged feeds is mostly these.)"""
        # First, so the row lock is taken before the fetch row's foreign key. On PostgreSQL an
        # UPDATE of non-key columns takes FOR NO KEY UPDATE: the key-share locks of article
        # inserts (ours or another worker's) do not conflict with it; FOR UPDATE did, and two
        # workers saving the same feed at once could deadlock.
        updated = cast(
            CursorResult[Any],
            session.execute(_health_update(result.outcome), self._health_params(result)),
        )
        if updated.rowcount != 1:
            raise StorageError(f"source {result.source!r} is not in the database")
        row = self._fetch_row(result, counts)
        fetch_id: int = session.execute(_INSERT_FETCH, row).scalar_one()
        return fetch_id

    def _health_params(self, result: FetchResult) -> dict[str, Any]:
        return {
            "source": self.source_id(result.source),
            "started": result.started,
            "retry_after": result.retry_after,
            "error": result.error,
            "new_etag": result.validators.etag,
            "new_last_modified": result.validators.last_modified,
        }

    def _fetch_row(self, result: FetchResult, counts: ArticleCounts) -> dict[str, Any]:
        return {
            "source_id": self.source_id(result.source),
            "started_at": result.started,
            "duration_ms": result.duration_ms,
            "outcome": result.outcome.value,
            "http_status": result.http_status,
            "error": result.error,
            "bytes_received": result.bytes_received,
            "items_found": result.items_found,
            "articles_new": counts.new,
            "articles_duplicate": counts.duplicate,
            "articles_updated": counts.updated,
        }

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
            owed = owed_counts(session)
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
                    pages_owed=owed.get(s.id, 0),
                )
                for s in session.scalars(select(Source).order_by(Source.name))
            ]

    # -- articles --------------------------------------------------------------------------

    def owed_pages(self, source: str) -> list[OwedPage]:
        """The article pages ``source`` owes from earlier polls (db/owed.py)."""
        with self._session() as session:
            return pending(session, self.source_id(source))

    @property
    def story_preparer(self) -> Callable[[ArticleRecord], ArticleRecord] | None:
        """What computes a record's story keys in the crawl's CPU pool (None: no stories)."""
        return self.stories.matcher.prepare if self.stories.matcher is not None else None

    def known_articles(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], KnownArticle]:
        """Which of these (kind, value) keys the archive already has, to skip page fetches."""
        wanted = {(kind, key_value(value)): (kind, value) for kind, value in keys}
        found: dict[tuple[str, str], KnownArticle] = {}
        if not wanted:
            return found
        with self._session() as session:
            stmt = (
                select(ArticleKey.kind, ArticleKey.value, Article.id, Article.updated_at)
                .join(Article, Article.id == ArticleKey.article_id)
                .where(_key_in(session, list(wanted)))
            )
            for kind, value, id_, updated in session.execute(stmt):
                if (kind, value) in wanted:
                    found[wanted[(kind, value)]] = KnownArticle(id_, updated)
        return found

    def save(self, writes: Sequence[Write]) -> list[Saved | Exception]:
        """Store several writes in one transaction (the crawl's group commit), each in its own
        savepoint: one that fails is rolled back alone, and its exception is returned in its
        place. If the transaction itself fails (the database went away), the exception is
        raised and none of them is stored."""
        saved: list[Saved | Exception] = []
        with self._write.begin() as session:
            for write in writes:
                try:
                    with session.begin_nested():
                        if isinstance(write, FetchToSave):
                            saved.append(self._save_fetch(session, write))
                        else:
                            saved.append(self._save_page(session, write))
                except Exception as e:  # returned, and raised to that write's poll
                    saved.append(e)
        return saved

    def save_fetch(
        self,
        result: FetchResult,
        records: Sequence[ArticleRecord],
        now: datetime,
        seen_again: int = 0,
    ) -> SavedFetch:
        """``save`` of one fetched source's articles and its fetch record.

        ``seen_again`` counts entries the crawler skipped because they were already stored.
        """
        saved = _only(self.save([FetchToSave(result, records, now, seen_again)]))
        assert isinstance(saved, SavedFetch)
        return saved

    def save_article(
        self,
        record: ArticleRecord,
        now: datetime,
        fetch_id: int | None = None,
        owed_key: str | None = None,
    ) -> ArticleOutcome:
        """``save`` of one article (a batch of one), counted on the fetch that found it."""
        outcome = _only(self.save([PageToSave(record.source, record, now, fetch_id, owed_key)]))
        assert isinstance(outcome, ArticleOutcome)
        return outcome

    def _save_fetch(self, session: Session, fetch: FetchToSave) -> SavedFetch:
        outcomes = self._save_records(session, fetch.records, fetch.now)
        counts = ArticleCounts(
            new=outcomes.count(ArticleOutcome.NEW),
            duplicate=outcomes.count(ArticleOutcome.DUPLICATE) + fetch.seen_again,
            updated=outcomes.count(ArticleOutcome.UPDATED),
        )
        fetch_id = self._record_fetch(session, fetch.result, counts)
        self._apply_owed(session, [fetch])
        return SavedFetch(outcomes, counts, fetch_id)

    def _save_page(self, session: Session, page: PageToSave) -> ArticleOutcome | None:
        outcome = None
        if page.record is not None:
            (outcome,) = self._save_records(session, [page.record], page.now)
            if page.fetch_id is not None:
                column = _FETCH_COUNT[outcome]
                session.execute(
                    update(Fetch).where(Fetch.id == page.fetch_id).values({column: column + 1})
                )
        if page.owed_key is not None:
            source_id = self.source_id(page.source)
            if page.retry:
                defer_in(session, source_id, page.owed_key)
            else:
                settle_in(session, source_id, page.owed_key)
        return outcome

    def _apply_owed(self, session: Session, fetches: Sequence[FetchToSave]) -> None:
        changes = [(self.source_id(f.result.source), f.owed) for f in fetches if f.owed]
        if changes:
            apply_changes(session, changes)

    def _save_records(
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
            _serialize_article_writes(session)
        keyed = [(record, record_keys(record)) for record in records]
        stored = self._stored_keys(session, [k for _, keys in keyed for k in keys])
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

    def _stored_keys(
        self, session: Session, keys: Sequence[tuple[str, str]]
    ) -> set[tuple[str, str]]:
        wanted = set(keys)
        if not wanted:
            return set()
        stmt = select(ArticleKey.kind, ArticleKey.value).where(_key_in(session, list(wanted)))
        return {(kind, value) for kind, value in session.execute(stmt) if (kind, value) in wanted}

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
        article_ids = insert_returning_ids(
            session.connection(),
            ARTICLES,
            [self._article_row(r, s, now) for r, s in zip(records, story_ids, strict=True)],
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
            StoredChange(article_id, story_id, record, ArticleOutcome.NEW)
            for record, story_id, article_id in zip(records, story_ids, article_ids, strict=True)
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

    def _article_row(self, record: ArticleRecord, story_id: int, now: datetime) -> dict[str, Any]:
        return {
            "source_id": self.source_id(record.source),
            "story_id": story_id,
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
            existing, kind = self._match(session, keys)
            if existing is not None and kind == "hash" and not is_alias(existing, record):
                keys, existing = [k for k in keys if k[0] != "hash"], None  # another article
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
        change = StoredChange(article.id, article.story_id, record, outcome)
        for hook in self.hooks:
            hook(session, [change], now)

    def _match(self, session: Session, keys: list[Key]) -> tuple[Article | None, str | None]:
        """The stored article with one of these keys, and the kind of the key it matched."""
        rows = session.execute(
            select(ArticleKey.kind, ArticleKey.value, ArticleKey.article_id).where(
                _key_in(session, keys)
            )
        ).all()
        by_key = {(kind, value): article_id for kind, value, article_id in rows}
        for key in keys:  # strongest identity wins
            if key in by_key:
                return session.get_one(Article, by_key[key]), key[0]
        return None, None

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
        index_new_articles(session.connection(), [article.id])
        # The primary key of the first key raises IntegrityError on a concurrent duplicate.
        session.add(ArticleKey(kind=keys[0][0], value=keys[0][1], article_id=article.id))
        session.flush()
        self._add_keys(session, article.id, keys[1:])
        self.stories.add_many(session, [(article.id, index_keys, record.story_shingles)], now)
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
        session.execute(dialect_insert(session)(ArticleKey).values(rows).on_conflict_do_nothing())

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


_INSERT_FETCH = insert(FETCHES).returning(FETCHES.c.id)


@cache
def _health_update(outcome: FetchOutcome) -> Update:
    """The UPDATE of a source's row after a fetch with this outcome, built once (bound
    parameters: source, started, retry_after, error, new_etag, new_last_modified)."""
    started = bindparam("started", type_=SOURCES.c.last_fetch_at.type)
    health: dict[str, Any] = {
        "last_fetch_at": started,
        "retry_after_until": bindparam("retry_after", type_=SOURCES.c.retry_after_until.type),
    }
    if outcome is FetchOutcome.ERROR:
        health.update(
            last_error_at=started,
            last_error=bindparam("error", type_=SOURCES.c.last_error.type),
            consecutive_failures=SOURCES.c.consecutive_failures + 1,
            failing_since=func.coalesce(SOURCES.c.failing_since, started),
        )
    else:
        health.update(last_success_at=started, consecutive_failures=0, failing_since=None)
    if outcome is FetchOutcome.OK:  # new validators; a 304 or an error keeps the old ones
        health.update(
            etag=bindparam("new_etag", type_=SOURCES.c.etag.type),
            last_modified=bindparam("new_last_modified", type_=SOURCES.c.last_modified.type),
        )
    return update(SOURCES).where(SOURCES.c.id == bindparam("source")).values(health)


def _key_in(session: Session, keys: Sequence[tuple[str, str]]) -> ColumnElement[bool]:
    """kind IN (...) AND value IN (...): a superset of the pairs that both databases answer
    from the (kind, value) primary key index; callers keep only the pairs they asked for.

    (A row-value ``(kind, value) IN (VALUES ...)`` makes SQLite 3.40 scan the whole table.)
    """
    kinds = {kind for kind, _ in keys}
    values = {value for _, value in keys}
    return and_(one_of(session, ArticleKey.kind, kinds), one_of(session, ArticleKey.value, values))


#: pg_advisory_xact_lock key of article writes (any constant would do).
ARTICLE_WRITE_LOCK = 0x6877_617274


def _serialize_article_writes(session: Session) -> None:
    """On PostgreSQL, one writer of articles at a time, until the transaction ends.

    Story placement reads the band index and writes to it; two workers placing near-copies of
    one story at once would each see none of the other's rows and open two stories (two
    alerts). SQLite needs nothing: its writers are serialised by BEGIN IMMEDIATE.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ARTICLE_WRITE_LOCK})


_FETCH_COUNT = {
    ArticleOutcome.NEW: Fetch.articles_new,
    ArticleOutcome.DUPLICATE: Fetch.articles_duplicate,
    ArticleOutcome.UPDATED: Fetch.articles_updated,
}


def _only(saved: list[Saved | Exception]) -> Saved:
    """The one write's outcome, or its exception raised."""
    (outcome,) = saved
    if isinstance(outcome, Exception):
        raise outcome
    return outcome
