"""The Store: what the rest of the program asks of the database.

Writes for one fetched source happen in one transaction (its articles, its fetch record, its
health), so a crash never leaves half a feed behind and a re-run simply repeats the work.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    Engine,
    Row,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from haitiwatch.db.article_keys import key_in
from haitiwatch.db.articles import ArticleHook, ArticleWriter, RecordPreparer
from haitiwatch.db.database import (
    WRITE_OPTION,
    create_db_engine,
    in_id_batches,
    migrate,
    one_of,
    one_statement,
)
from haitiwatch.db.errors import WriteRefused
from haitiwatch.db.event_index import EventIndex
from haitiwatch.db.fetches import (
    count_item_failure,
    in_one_statement,
    record_fetch,
    source_health,
)
from haitiwatch.db.keys import key_value
from haitiwatch.db.owed import apply_changes, defer_in, hold_in, pending, settle_in
from haitiwatch.db.poll_start import POLL_START_COLUMNS, poll_start
from haitiwatch.db.records import (
    ArticleCounts,
    ArticleOutcome,
    ArticleRecord,
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
    Write,
)
from haitiwatch.db.rule_matches import rules_by_article, with_rules
from haitiwatch.db.schema import Article, ArticleKey, Fetch, Source
from haitiwatch.db.story_index import StoryIndex
from haitiwatch.db.write_refused import raise_if_refused, refusals_raised

# Core tables for the batch path: executemany without building ORM objects.


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """What the Store needs to know of a configured source."""

    name: str
    kind: str
    url: str


class Store:
    def __init__(
        self,
        engine: Engine,
        hooks: Sequence[ArticleHook] = (),
        stories: StoryIndex | None = None,
        events: EventIndex | None = None,
    ) -> None:
        self.engine = engine
        #: Story grouping; without a matcher, only exact copies (same text hash) are grouped.
        self.stories = stories or StoryIndex()
        self.articles = ArticleWriter(self.source_id, self.stories, hooks, events)
        self._session = sessionmaker(engine, expire_on_commit=False)
        #: For a read that is one statement: no transaction around it (two round trips less).
        self._one_read = sessionmaker(one_statement(engine), expire_on_commit=False)
        self._write = sessionmaker(
            engine.execution_options(**{WRITE_OPTION: True}), expire_on_commit=False
        )
        #: For a write that is one statement (``_one_statement``).
        self._write_alone = sessionmaker(
            one_statement(engine).execution_options(**{WRITE_OPTION: True}),
            expire_on_commit=False,
        )
        self._source_ids: dict[str, int] = {}
        #: Article pages listed and not fetched yet, per source.

    @classmethod
    def open(
        cls,
        url: str,
        hooks: Sequence[ArticleHook] = (),
        stories: StoryIndex | None = None,
        events: EventIndex | None = None,
    ) -> Store:
        engine = create_db_engine(url)
        migrate(engine)
        return cls(engine, hooks, stories, events)

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
            # change nothing.
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
        with self._one_read() as session:
            rows = session.execute(
                select(*POLL_START_COLUMNS).where(one_of(session, Source.id, wanted))
            )
            for row in rows:
                found[wanted[row.id]] = poll_start(row)
        return found

    def source_health(self) -> list[SourceHealth]:
        with self._session() as session:
            return source_health(session)

    # -- articles --------------------------------------------------------------------------

    def owed_pages(self, source: str) -> list[OwedPage]:
        """The article pages ``source`` owes from earlier polls (db/owed.py)."""
        with self._one_read() as session:
            return pending(session, self.source_id(source))

    @property
    def record_preparer(self) -> RecordPreparer | None:
        """What computes a record's story keys and event evidence in the crawl's CPU pool
        (None: neither stories nor events are grouped)."""
        stories, events = self.stories.matcher, self.articles.events.matcher
        return None if stories is None and events is None else RecordPreparer(stories, events)

    def known_articles(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], KnownArticle]:
        """Which of these (kind, value) keys the archive already has, to skip page fetches."""
        wanted = {(kind, key_value(value)): (kind, value) for kind, value in keys}
        found: dict[tuple[str, str], KnownArticle] = {}
        if not wanted:
            return found
        with self._one_read() as session:
            stmt = (
                select(ArticleKey.kind, ArticleKey.value, Article.id, Article.updated_at)
                .join(Article, Article.id == ArticleKey.article_id)
                .where(key_in(session, list(wanted)))
            )
            for kind, value, id_, updated in session.execute(stmt):
                if (kind, value) in wanted:
                    found[wanted[(kind, value)]] = KnownArticle(id_, updated)
        return found

    def save(self, writes: Sequence[Write]) -> list[Saved | Exception]:
        """Store several writes in one transaction (the crawl's group commit), each in its own
        savepoint: one that fails is rolled back alone, and its exception is returned in its
        place. If the transaction itself fails (the database went away), the exception is
        raised and none of them is stored; so is ``WriteRefused`` when storage refuses one
        of them (disk full: SQLite has rolled the whole transaction back)."""
        if len(writes) == 1:  # alone, a write needs no savepoint: its transaction is its own
            write = writes[0]
            sessions = self._write_alone if self._one_statement(write) else self._write
            try:
                with refusals_raised(), sessions.begin() as session:
                    return [self._save_one(session, write)]
            except WriteRefused:
                raise
            except Exception as e:  # rolled back whole, as a savepoint would have
                return [e]
        saved: list[Saved | Exception] = []
        with refusals_raised(), self._write.begin() as session:
            for write in writes:
                try:
                    with session.begin_nested():
                        saved.append(self._save_one(session, write))
                except Exception as e:  # returned, and raised to that write's poll
                    raise_if_refused(e)
                    saved.append(e)
        return saved

    def _one_statement(self, write: Write) -> bool:
        """A fetch that stores no article and changes no owed page (most polls) is one
        statement where the database allows it: it needs no BEGIN and COMMIT around it."""
        if not isinstance(write, FetchToSave) or write.records:
            return False
        owed = write.owed
        return not (owed and (owed.add or owed.remove)) and in_one_statement(self.engine.dialect)

    def _save_one(self, session: Session, write: Write) -> Saved:
        if isinstance(write, FetchToSave):
            return self._save_fetch(session, write)
        return self._save_page(session, write)

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
        outcomes = self.articles.save_records(session, fetch.records, fetch.now)
        counts = ArticleCounts(
            new=outcomes.count(ArticleOutcome.NEW),
            duplicate=outcomes.count(ArticleOutcome.DUPLICATE) + fetch.seen_again,
            updated=outcomes.count(ArticleOutcome.UPDATED),
        )
        source_id = self.source_id(fetch.result.source)
        fetch_id, state, ended = record_fetch(session, source_id, fetch, counts)
        self._apply_owed(session, [fetch])
        return SavedFetch(outcomes, counts, fetch_id, state, ended)

    def _save_page(self, session: Session, page: PageToSave) -> ArticleOutcome | None:
        outcome = None
        if page.record is not None:
            (outcome,) = self.articles.save_records(session, [page.record], page.now)
            if page.fetch_id is not None:
                column = _FETCH_COUNT[outcome]
                session.execute(
                    update(Fetch).where(Fetch.id == page.fetch_id).values({column: column + 1})
                )
        if page.item_failed:
            count_item_failure(session, self.source_id(page.source))
        if page.owed_key is not None:
            source_id = self.source_id(page.source)
            if page.item_failed:
                hold_in(session, source_id, page.owed_key)
            elif page.retry:
                defer_in(session, source_id, page.owed_key)
            else:
                settle_in(session, source_id, page.owed_key)
        return outcome

    def _apply_owed(self, session: Session, fetches: Sequence[FetchToSave]) -> None:
        changes = [(self.source_id(f.result.source), f.owed) for f in fetches if f.owed]
        if changes:
            apply_changes(session, changes)

    # -- reading ---------------------------------------------------------------------------

    def iter_articles(self, batch_size: int = 500) -> Iterator[StoredArticle]:
        """Every article in id order, in batches (keyset pagination keeps memory constant)."""

        def made(session: Session, rows: Sequence[Row[Article, str]]) -> list[StoredArticle]:
            batch = [stored_article(article, source) for article, source in rows]
            matched = rules_by_article(session, [a.id for a in batch])
            return [with_rules(a, matched.get(a.id, [])) for a in batch]

        stmt = select(Article, Source.name).join(Source, Source.id == Article.source_id)
        return in_id_batches(self._session, stmt, Article.id, made, batch_size)


def stored_article(article: Article, source: str) -> StoredArticle:
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
        event=article.event_id,
        authors=tuple(article.authors or ()),
    )


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
