"""The matcher the Store's story index is given (db.story_index.Matcher); the work is done by
crawler/stories.py."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from haitiwatch.crawler import stories
from haitiwatch.crawler.stories import StoryParams
from haitiwatch.db.records import ArticleRecord

if TYPE_CHECKING:  # not imported at run time: the CPU workers need no SQLAlchemy
    from haitiwatch.db.story_index import Candidate


class StoryMatcher:
    """The matcher the Store's story index uses (db.story_index.Matcher): keys and verdicts."""

    def __init__(self, params: StoryParams | None = None) -> None:
        self.params = params or StoryParams()

    def keys(self, record: ArticleRecord) -> list[int]:
        return stories.article_keys(
            record.title, record.text, self.params, stories.shipped_shingles(record)
        )

    def prepare(self, record: ArticleRecord) -> ArticleRecord:
        """The record with its index keys and shingles, computed in the crawl's CPU pool. The
        shingles are stored with the article: later articles are verified against them
        without its text being read or shingled again."""
        text_shingles = stories.compute_shingles(record.text, self.params.shingle_words)
        keys = stories.article_keys(record.title, record.text, self.params, text_shingles)
        return replace(
            record,
            story_keys=tuple(keys),
            story_shingles=stories.shingles_to_bytes(text_shingles),
        )

    def score(self, record: ArticleRecord, other: Candidate) -> float | None:
        theirs = stories.shingles_from_bytes(other.shingles) if other.shingles is not None else None
        return stories.copy_score(
            record.title,
            record.text,
            other.title,
            other.text,
            self.params,
            stories.shipped_shingles(record),
            theirs,
        )
