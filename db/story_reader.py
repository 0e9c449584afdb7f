"""Reading stories (the `stories` and `story` commands, the web pages and API): a story's
copies at every outlet in first-seen order, the origin marked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Engine, Select, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from haitiwatch.db.schema import Article, Event, Source, Story
from haitiwatch.db.search.sql import RULE_MATCHES

Group = TypeVar("Group", Story, Event)


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
    #: Every copy's link (the caller derives the outlets from them).
    urls: tuple[str, ...]


def list_stories(
    engine: Engine, since: datetime, rule: str | None = None, limit: int = 200
) -> list[StorySummary]:
    """Stories updated since ``since``, newest first; with ``rule``, only those it matched."""
    with Session(engine) as session:
        stories = list(session.scalars(updated_since(Story, Article.story_id, since, rule, limit)))
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


def updated_since(
    group: type[Group],
    member: InstrumentedAttribute[int | None],
    since: datetime,
    rule: str | None,
    limit: int,
) -> Select[Group]:
    """Stories or events (``member``: an article's column naming its group) updated since
    ``since``, newest first; with ``rule``, only those holding an article the rule matched."""
    stmt = select(group).where(group.updated_at >= since)
    if rule is not None:
        matched = (
            select(member)
            .join(RULE_MATCHES, RULE_MATCHES.c.article_id == Article.id)
            .where(RULE_MATCHES.c.rule == rule)
        )
        stmt = stmt.where(group.id.in_(matched))
    return stmt.order_by(group.updated_at.desc(), group.id.desc()).limit(limit)


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
                url=article.url,
                title=article.title,
                first_seen=article.first_seen_at,
                published=article.published_at,
                revisions=article.revisions,
                is_origin=article.id == origin_id,
            )
        )
    return out


def story_outlets(session: Session, story_ids: set[int]) -> dict[int, int]:
    """How many outlets carry each story (a story no article holds is left out)."""
    if not story_ids:
        return {}
    stmt = (
        select(Article.story_id, func.count(func.distinct(Article.source_id)))
        .where(Article.story_id.in_(story_ids))
        .group_by(Article.story_id)
    )
    return {story: count for story, count in session.execute(stmt).all() if story is not None}
