"""The archive as a rule's audit reads it: articles whose story the rule has not matched, and
the outbox rows of a rule's "possible misses" digest.

A possible miss goes through the alert outbox like any digest alert, under its own outbox
rule key (``possible_misses_key``), so it has the outbox's guarantees: committed before it
is sent, claimed by one sender, and at most one row per (rule, story, channel) ever, so a
near miss seen again the next day is not sent again.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from haitiwatch.db.alerts import DIGEST, pending_row, queue_new_rows
from haitiwatch.db.database import WRITE_OPTION, in_id_batches
from haitiwatch.db.rule_matches import story_key
from haitiwatch.db.schema import Article, RuleMatchRow, Source
from haitiwatch.db.store import Store

#: Appended to a rule's name for its possible-misses outbox rows (":" is not allowed in rule
#: names, so the key never collides with a rule).
MISSES_SUFFIX: Final = ":misses"


def possible_misses_key(rule: str) -> str:
    return rule + MISSES_SUFFIX


@dataclass(frozen=True, slots=True)
class AuditArticle:
    id: int
    source: str
    title: str
    text: str
    url: str
    first_seen: datetime
    published: datetime | None
    story_id: int | None


class NearMissArchive:
    """Reads candidates for a rule's near misses, and queues possible-misses digest rows."""

    def __init__(self, store: Store) -> None:
        self._read = sessionmaker(store.engine)
        self._write = sessionmaker(store.engine.execution_options(**{WRITE_OPTION: True}))

    def unmatched_since(
        self,
        rule: str,
        since: datetime | None,
        until: datetime | None = None,
    ) -> Iterator[AuditArticle]:
        """Articles first seen in [since, until) (None: unbounded), in id order, leaving out
        those the rule matched and every copy of a story it matched: that story was alerted."""
        with self._read() as session:
            matched_stories = set(
                session.scalars(
                    select(Article.story_id)
                    .join(RuleMatchRow, RuleMatchRow.article_id == Article.id)
                    .where(RuleMatchRow.rule == rule, Article.story_id.is_not(None))
                    .distinct()
                )
            )
            matched_articles = set(
                session.scalars(select(RuleMatchRow.article_id).where(RuleMatchRow.rule == rule))
            )
        stmt = select(
            Article.id,
            Source.name,
            Article.title,
            Article.text,
            Article.url,
            Article.first_seen_at,
            Article.published_at,
            Article.story_id,
        ).join(Source, Source.id == Article.source_id)
        if since is not None:
            stmt = stmt.where(Article.first_seen_at >= since)
        if until is not None:
            stmt = stmt.where(Article.first_seen_at < until)
        every = in_id_batches(
            self._read,
            stmt,
            Article.id,
            lambda _, rows: [AuditArticle(*row) for row in rows],
        )
        for article in every:
            if article.id not in matched_articles and article.story_id not in matched_stories:
                yield article

    def queue_possible_misses(
        self,
        rule: str,
        channels: Sequence[str],
        articles: Sequence[AuditArticle],
        created_at: datetime,
    ) -> int:
        """Add a pending digest row per (article's story, channel) not queued before, in one
        transaction; returns how many rows were added."""
        key = possible_misses_key(rule)
        rows = [
            pending_row(key, channel, story_key(a.story_id, a.id), a.id, DIGEST, created_at)
            for a in articles
            for channel in dict.fromkeys(channels)
        ]
        if not rows:
            return 0
        with self._write.begin() as session:
            return queue_new_rows(session, rows)
