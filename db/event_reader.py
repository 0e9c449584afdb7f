"""Reading events (the `events` and `event` commands, the API): an event's reports at every
outlet, in first-seen order, the first report marked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from haitiwatch.db.schema import Article, Event, Source
from haitiwatch.db.story_reader import updated_since


@dataclass(frozen=True, slots=True)
class EventReport:
    article_id: int
    story_id: int | None
    source: str
    url: str
    title: str
    language: str | None
    first_seen: datetime
    published: datetime | None
    is_first: bool


@dataclass(frozen=True, slots=True)
class EventSummary:
    id: int
    created_at: datetime
    updated_at: datetime
    article_count: int
    source_count: int
    first: EventReport | None
    #: The languages of its reports, most first.
    languages: tuple[str, ...]


def list_events(
    engine: Engine, since: datetime, rule: str | None = None, limit: int = 200
) -> list[EventSummary]:
    """Events updated since ``since``, newest first; with ``rule``, only those it matched."""
    with Session(engine) as session:
        events = list(session.scalars(updated_since(Event, Article.event_id, since, rule, limit)))
        reports = _reports(session, [e.id for e in events])
    return [_summary(e, reports.get(e.id, [])) for e in events]


def event_reports(engine: Engine, event_id: int) -> tuple[EventSummary, list[EventReport]] | None:
    """An event and every report of it in first-seen order; None: no such event."""
    with Session(engine) as session:
        event = session.get(Event, event_id)
        if event is None:
            return None
        reports = _reports(session, [event_id]).get(event_id, [])
    return _summary(event, reports), reports


def _summary(event: Event, reports: list[EventReport]) -> EventSummary:
    counts: dict[str, int] = {}
    for report in reports:
        if report.language:
            counts[report.language] = counts.get(report.language, 0) + 1
    return EventSummary(
        id=event.id,
        created_at=event.created_at,
        updated_at=event.updated_at,
        article_count=event.article_count,
        source_count=event.source_count,
        first=next((r for r in reports if r.is_first), None),
        languages=tuple(sorted(counts, key=lambda lang: (-counts[lang], lang))),
    )


def _reports(session: Session, event_ids: list[int]) -> dict[int, list[EventReport]]:
    if not event_ids:
        return {}
    rows = session.execute(
        select(Article, Source.name, Event.first_article_id)
        .join(Source, Source.id == Article.source_id)
        .join(Event, Event.id == Article.event_id)
        .where(Article.event_id.in_(event_ids))
        .order_by(Article.first_seen_at, Article.id)
    ).all()
    out: dict[int, list[EventReport]] = {}
    for article, source, first_id in rows:
        assert article.event_id is not None
        out.setdefault(article.event_id, []).append(
            EventReport(
                article_id=article.id,
                story_id=article.story_id,
                source=source,
                url=article.url,
                title=article.title,
                language=article.language,
                first_seen=article.first_seen_at,
                published=article.published_at,
                is_first=article.id == first_id,
            )
        )
    return out


def event_coverage(session: Session, event_ids: set[int]) -> dict[int, tuple[int, int]]:
    """event -> (outlets (sources) that carry it, languages it is reported in)."""
    if not event_ids:
        return {}
    stmt = (
        select(
            Article.event_id,
            func.count(func.distinct(Article.source_id)),
            func.count(func.distinct(Article.language)),
        )
        .where(Article.event_id.in_(event_ids))
        .group_by(Article.event_id)
    )
    return {
        event: (outlets, languages)
        for event, outlets, languages in session.execute(stmt).all()
        if event is not None
    }
