"""The durable event index: each new article joins the event of its story, or of the recent
article it best matches on evidence, or starts one; written in the article's transaction.

Like the story index (db/story_index.py) the lookup is one indexed query of the new article's
evidence keys in ``event_keys``, restricted to the event window around its time, then a
scoring of the few articles sharing most keys on their stored concepts (``event_evidence``):
the cost does not grow with the archive. This module knows nothing of concepts: an
``EventMatcher`` (crawler/event_matcher.py, injected by scheduler/wiring.py) computes the
evidence, keys and scores. Without a matcher articles have no event.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, cast

from sqlalchemy import Table, bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from haitiwatch.db.database import bind_value, insert_returning_ids, insert_rows, one_of
from haitiwatch.db.recent_index import PruneSchedule
from haitiwatch.db.records import ArticleRecord
from haitiwatch.db.schema import Article, Event, EventEvidence, EventKey

EVENTS = cast(Table, Event.__table__)
EVENT_KEYS = cast(Table, EventKey.__table__)
EVENT_EVIDENCE = cast(Table, EventEvidence.__table__)
#: Candidates scored per new article, most shared keys first (bounds the cost).
MAX_CANDIDATES = 30
#: Index rows are kept this long after the article's time, then pruned.
DEFAULT_KEEP = timedelta(days=7)
PRUNE_EVERY = 1000


class EventMatcher(Protocol):
    @property
    def window(self) -> timedelta:
        """Articles further apart than this never share an event."""
        ...

    def evidence(self, record: ArticleRecord) -> str:
        """The record's evidence, in its stored form."""
        ...

    def keys(self, evidence: str) -> list[int]:
        """Signed 64-bit index keys of that evidence; two that share none never score."""
        ...

    def score(self, evidence: str, at: datetime, other: str, other_at: datetime) -> float | None:
        """How surely the two report one event; None if they do not."""
        ...


@dataclass(frozen=True, slots=True)
class StoryOf:
    """Where the story placement put an article: a stored story, or an earlier record of
    the batch whose story it joins (neither: it starts a story)."""

    story_id: int | None = None
    peer: int | None = None


@dataclass(frozen=True, slots=True)
class EventsPlaced:
    """Each record's event id (None: no matcher), and what to index once articles have ids."""

    event_ids: list[int | None]
    evidence: list[str]
    #: Each record's index keys (what the lookup used, and what add_many indexes).
    keys: list[set[int]]
    times: list[datetime]
    #: Events started by this batch -> the index of their first record.
    started: dict[int, int]


def report_time(record: ArticleRecord, now: datetime) -> datetime:
    """When an article reports: its publication time, never later than first seen."""
    return min(record.published, now) if record.published is not None else now


class EventIndex:
    def __init__(self, matcher: EventMatcher | None = None, keep: timedelta = DEFAULT_KEEP):
        self.matcher = matcher
        self.keep = keep
        self._prune = PruneSchedule(PRUNE_EVERY)

    def place_many(
        self,
        session: Session,
        records: Sequence[ArticleRecord],
        stories: Sequence[StoryOf],
        source_ids: Sequence[int],
        now: datetime,
    ) -> EventsPlaced:
        """The event of each new article: its story's, else the best-scoring recent article's
        (stored or earlier in the batch), else a new one. Events are created and counted."""
        if self.matcher is None:
            return EventsPlaced([None] * len(records), [], [], [], {})
        matcher = self.matcher
        evidence = [
            r.event_evidence if r.event_evidence is not None else matcher.evidence(r)
            for r in records
        ]
        keys = [set(matcher.keys(e)) for e in evidence]
        times = [report_time(r, now) for r in records]
        story_events = _story_events(session, {s.story_id for s in stories if s.story_id})
        # Each record's event: (False, a stored event's id) or (True, the batch index of the
        # record that starts it).
        owners: list[tuple[bool, int]] = []
        for i, story in enumerate(stories):
            if story.story_id is not None and story.story_id in story_events:
                owners.append((False, story_events[story.story_id]))
            elif story.peer is not None:
                owners.append(owners[story.peer])
            else:
                owners.append(self._best(session, i, evidence, keys, times, owners))
        event_ids = _create_and_count(session, owners, source_ids, now)
        started = {
            event_ids[i]: i for i, (is_new, index) in enumerate(owners) if is_new and index == i
        }
        return EventsPlaced(list(event_ids), evidence, keys, times, started)

    def _best(
        self,
        session: Session,
        index: int,
        evidence: Sequence[str],
        keys: Sequence[set[int]],
        times: Sequence[datetime],
        owners: Sequence[tuple[bool, int]],
    ) -> tuple[bool, int]:
        assert self.matcher is not None
        matcher, mine, at = self.matcher, evidence[index], times[index]
        best: tuple[float, tuple[bool, int]] | None = None
        for other, other_at, event_id in recent_candidates(
            session, keys[index], at, matcher.window
        ):
            score = matcher.score(mine, at, other, other_at)
            if score is not None and (best is None or score > best[0]):
                best = (score, (False, event_id))
        for peer in range(index):
            if keys[peer].isdisjoint(keys[index]):
                continue
            score = matcher.score(mine, at, evidence[peer], times[peer])
            if score is not None and (best is None or score > best[0]):
                best = (score, owners[peer])
        return best[1] if best is not None else (True, index)

    def add_many(
        self, session: Session, placed: EventsPlaced, article_ids: Sequence[int], now: datetime
    ) -> None:
        """Index the placed articles (their keys and evidence) and mark events' first reports."""
        if self.matcher is None:
            return
        connection = session.connection()
        keys_rows: list[tuple[int, int, object]] = []
        evidence_rows: list[tuple[int, int, object, str]] = []
        for article_id, event_id, evidence, keys, at in zip(
            article_ids, placed.event_ids, placed.evidence, placed.keys, placed.times, strict=True
        ):
            assert event_id is not None
            when = bind_value(connection, EVENT_KEYS.c.at, at)
            keys_rows += [(k, article_id, when) for k in sorted(keys)]
            evidence_rows.append((article_id, event_id, when, evidence))
        insert_rows(connection, EVENT_KEYS, ("event_key", "article_id", "at"), keys_rows)
        insert_rows(
            connection, EVENT_EVIDENCE, ("article_id", "event_id", "at", "concepts"), evidence_rows
        )
        if placed.started:
            session.execute(
                update(EVENTS)
                .where(EVENTS.c.id == bindparam("eid"))
                .values(first_article_id=bindparam("first")),
                [{"eid": e, "first": article_ids[i]} for e, i in placed.started.items()],
            )
        if self._prune.added(len(article_ids)):
            prune(session, now - self.keep)


def _story_events(session: Session, story_ids: set[int]) -> dict[int, int]:
    """story -> the event its articles report (a story belongs to one event)."""
    if not story_ids:
        return {}
    rows = session.execute(
        select(Article.story_id, Article.event_id).where(
            one_of(session, Article.story_id, story_ids), Article.event_id.is_not(None)
        )
    )
    return {story: event for story, event in rows if story is not None and event is not None}


def recent_candidates(
    session: Session, keys: set[int], at: datetime, window: timedelta
) -> list[tuple[str, datetime, int]]:
    """(concepts, time, event) of the articles within the window sharing most keys, most
    first; ties go to the lowest id, so the choice is repeatable."""
    if not keys:
        return []
    shared = func.count().label("shared")
    top = (
        select(EventKey.article_id, shared)
        .where(
            one_of(session, EventKey.event_key, keys),
            EventKey.at >= at - window,
            EventKey.at <= at + window,
        )
        .group_by(EventKey.article_id)
        .order_by(shared.desc(), EventKey.article_id)
        .limit(MAX_CANDIDATES)
        .subquery()
    )
    rows = session.execute(
        select(EventEvidence.concepts, EventEvidence.at, EventEvidence.event_id)
        .join(top, top.c.article_id == EventEvidence.article_id)
        .order_by(top.c.shared.desc(), top.c.article_id)
    )
    return [(concepts, when, event_id) for concepts, when, event_id in rows]


def _create_and_count(
    session: Session, owners: Sequence[tuple[bool, int]], source_ids: Sequence[int], now: datetime
) -> list[int]:
    """Create the events the batch starts and count the new articles and outlets on all."""
    sources: dict[tuple[bool, int], set[int]] = {}
    for owner, source in zip(owners, source_ids, strict=True):
        sources.setdefault(owner, set()).add(source)
    articles = Counter(owners)
    starting = [index for is_new, index in articles if is_new]
    new_ids = insert_returning_ids(
        session.connection(),
        EVENTS,
        [
            {
                "created_at": now,
                "updated_at": now,
                "article_count": articles[(True, i)],
                "source_count": len(sources[(True, i)]),
            }
            for i in starting
        ],
    )
    started = dict(zip(starting, new_ids, strict=True))
    joined = sorted(key for is_new, key in articles if not is_new)
    if joined:
        have = {
            (event_id, source_id)
            for event_id, source_id in session.execute(
                select(Article.event_id, Article.source_id).where(
                    one_of(session, Article.event_id, joined)
                )
            )
        }
        session.execute(
            update(EVENTS)
            .where(EVENTS.c.id == bindparam("eid"))
            .values(
                article_count=EVENTS.c.article_count + bindparam("n"),
                source_count=EVENTS.c.source_count + bindparam("outlets"),
                updated_at=now,
            ),
            [
                {
                    "eid": e,
                    "n": articles[(False, e)],
                    "outlets": len({s for s in sources[(False, e)] if (e, s) not in have}),
                }
                for e in joined
            ],
        )
    return [started[key] if is_new else key for is_new, key in owners]


def prune(session: Session, before: datetime) -> None:
    """Delete index rows of articles older than ``before`` (articles and events stay)."""
    for table in (EventKey, EventEvidence):
        session.execute(
            delete(table).where(table.at < before).execution_options(synchronize_session=False)
        )
