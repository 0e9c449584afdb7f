"""Reading one article for its page: the stored article with the rules it matched, and its
story's copies. Marks come from ``db.marks.Marks``; the page puts them together."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from haitiwatch.db.records import StoredArticle
from haitiwatch.db.rule_matches import rules_by_article, with_rules
from haitiwatch.db.schema import Article, Source
from haitiwatch.db.store import stored_article
from haitiwatch.db.story_reader import StoryCopy, story_copies


@dataclass(frozen=True, slots=True)
class ArticleView:
    article: StoredArticle
    #: Every copy in its story, this one included (first-seen order); empty without a story.
    copies: tuple[StoryCopy, ...]


def read_article(engine: Engine, article_id: int) -> ArticleView | None:
    """The article ``article_id`` with its rules and copies; None: no such article."""
    with Session(engine) as session:
        row = session.execute(
            select(Article, Source.name)
            .join(Source, Source.id == Article.source_id)
            .where(Article.id == article_id)
        ).one_or_none()
        if row is None:
            return None
        article = stored_article(*row)
        article = with_rules(article, rules_by_article(session, [article.id]).get(article.id, []))
    copies = story_copies(engine, article.story) if article.story is not None else None
    return ArticleView(article, tuple(copies or ()))
