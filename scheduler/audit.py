"""A rule's audit: the archive's near misses for a rule, best first.

One place for the command line (``rules audit``), the web page and API, and the
possible-misses digest: the archive reader (db) gives the articles whose story the rule did
not match, the pure scorer (scheduler.rules.near_miss) ranks them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from haitiwatch.db.archive import Archive
from haitiwatch.db.near_misses import AuditArticle
from haitiwatch.db.rule_matches import story_key
from haitiwatch.scheduler.assist import rule_scorer
from haitiwatch.scheduler.rule_config import RuleConfig
from haitiwatch.scheduler.rules import compile_rule
from haitiwatch.scheduler.rules.near_miss import NearMiss, top_near_misses


@dataclass(frozen=True, slots=True)
class Finding:
    article: AuditArticle
    miss: NearMiss


def audit_rule(
    archive: Archive,
    rule: RuleConfig,
    since: datetime | None,
    limit: int,
    *,
    until: datetime | None = None,
) -> list[Finding]:
    """The ``limit`` best near misses of ``rule`` among articles first seen in [since, until),
    ranked by the rule's learned model too when the rule is assisted ("suggest" or "alert")."""
    extra = rule_scorer(archive.rule_models, rule.name) if rule.assist != "off" else None
    articles = archive.near_misses.unmatched_since(rule.name, since, until)
    compiled = compile_rule(rule.name, rule.query)
    # One near miss per story: the copies of a story are one thing for the operator to check.
    ranked = top_near_misses(
        compiled, articles, limit, extra, group=lambda a: story_key(a.story_id, a.id)
    )
    return [Finding(article, miss) for article, miss in ranked]


def finding_json(finding: Finding) -> dict[str, Any]:
    """One near miss as the CLI's --json and the API show it."""
    article, miss = finding.article, finding.miss
    return {
        "article_id": article.id,
        "title": article.title,
        "url": article.url,
        "source": article.source,
        "published": _iso(article.published),
        "first_seen": _iso(article.first_seen),
        "story_id": article.story_id,
        "score": miss.score,
        "classifier_score": miss.extra,
        "reasons": list(miss.reasons),
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
