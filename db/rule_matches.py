"""Rule matches, written in the article transaction: which rules each article matches (by
query, or by a learned model's score) and one alert outbox row per (rule, event, channel).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from haitiwatch.db.alerts import pending_row, queue_new_rows
from haitiwatch.db.database import dialect_insert
from haitiwatch.db.records import ArticleOutcome, ArticleRecord, StoredArticle, StoredChange
from haitiwatch.db.schema import RuleMatchRow


@dataclass(frozen=True, slots=True)
class RuleHit:
    """A rule that matched an article, with what to do about it."""

    rule: str
    mode: str  # immediate | digest
    channels: tuple[str, ...] = ()
    terms: tuple[str, ...] = ()
    #: None: the query matched. Else the query did not, and the rule's learned model scored
    #: the article this high (at least the rule's threshold).
    score: float | None = None


#: An article -> the rules that match it. Supplied by the scheduler (db imports no matcher).
MatchFn = Callable[[ArticleRecord], Sequence[RuleHit]]
#: Called with the session before a batch is matched: reloads what the matcher reads from the
#: database (learned models another process may have replaced).
RefreshFn = Callable[[Session], None]


class RuleMatchHook:
    """Store hook: match the rules against each new or updated article; record matches and
    outbox rows in the same transaction."""

    def __init__(self, match: MatchFn, refresh: RefreshFn | None = None) -> None:
        self.match = match
        self.refresh = refresh

    def __call__(self, session: Session, changes: Sequence[StoredChange], now: datetime) -> None:
        if self.refresh is not None:
            self.refresh(session)
        record_matches(session, [(c, self.match(c.record)) for c in changes], now)


def story_key(story_id: int | None, article_id: int, event_id: int | None = None) -> str:
    """What one alert is sent per: the article's event (one alert per piece of news, all
    outlets and languages), else its story, else the article."""
    if event_id is not None:
        return f"event:{event_id}"
    return f"story:{story_id}" if story_id is not None else f"article:{article_id}"


def record_matches(
    session: Session, matched: Sequence[tuple[StoredChange, Sequence[RuleHit]]], now: datetime
) -> None:
    """Make ``rule_matches`` say which rules each article matches now; add one outbox row per
    (rule, story, channel) unless that alert exists already. A few statements per batch."""
    for change, hits in matched:
        if change.outcome is not ArticleOutcome.NEW:  # a new article has no old matches
            session.execute(
                delete(RuleMatchRow).where(
                    RuleMatchRow.article_id == change.article_id,
                    RuleMatchRow.rule.not_in([hit.rule for hit in hits]),
                )
            )
    matches = [
        {
            "article_id": change.article_id,
            "rule": h.rule,
            "story_id": change.story_id,
            "terms": list(h.terms),
            "matched_at": now,
            "score": h.score,
        }
        for change, hits in matched
        for h in hits
    ]
    if not matches:
        return
    insert = dialect_insert(session)
    session.execute(
        insert(RuleMatchRow).on_conflict_do_nothing(index_elements=["article_id", "rule"]),
        matches,
    )
    alerts = []
    for change, hits in matched:
        key = story_key(change.story_id, change.article_id, change.event_id)
        alerts += [
            pending_row(h.rule, channel, key, change.article_id, h.mode, now)
            for h in hits
            for channel in dict.fromkeys(h.channels)
        ]
    queue_new_rows(session, alerts)


#: A rule an article matched, and the score that triggered it (None: its query matched).
Matched = tuple[str, float | None]


def rules_by_article(session: Session, article_ids: Sequence[int]) -> dict[int, list[Matched]]:
    """The rules each article matched, by name (for the export)."""
    out: dict[int, list[Matched]] = {}
    stmt = (
        select(RuleMatchRow.article_id, RuleMatchRow.rule, RuleMatchRow.score)
        .where(RuleMatchRow.article_id.in_(list(article_ids)))
        .order_by(RuleMatchRow.article_id, RuleMatchRow.rule)
    )
    for article_id, rule, score in session.execute(stmt).all():
        out.setdefault(article_id, []).append((rule, score))
    return out


def with_rules(article: StoredArticle, matched: Sequence[Matched]) -> StoredArticle:
    """``article`` with the rules that alerted on it, by query or by score."""
    scores = tuple((rule, score) for rule, score in matched if score is not None)
    return replace(article, rules=tuple(rule for rule, _ in matched), rule_scores=scores)
