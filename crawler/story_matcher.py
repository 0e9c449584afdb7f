"""The matcher the Store's story index is given (db.story_index.Matcher); the work is done by
crawler/stories.py."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from haitiwatch.crawler import shingles, stories
from haitiwatch.crawler.short_copies import lead_tokens, phrase_set, without_boilerplate
from haitiwatch.crawler.stories import StoryParams
from haitiwatch.db.records import ArticleRecord

if TYPE_CHECKING:  # not imported at run time: the CPU workers need no SQLAlchemy
    from haitiwatch.db.story_index import Candidate


class StoryMatcher:
    """The matcher the Store's story index uses (db.story_index.Matcher): keys and verdicts."""

    def __init__(self, params: StoryParams | None = None) -> None:
        self.params = params or StoryParams()
        # The record being placed is scored against up to 20 candidates: its side once.
        self._last: tuple[ArticleRecord, stories.CopyText] | None = None

    def keys(self, record: ArticleRecord) -> list[int]:
        shipped = shingles.unpack(record.story_shingles)[0] if record.story_shingles else None
        return stories.article_keys(record.title, record.text, self.params, shipped, record.summary)

    def prepare(self, record: ArticleRecord) -> ArticleRecord:
        """The record with its index keys and hashes, computed in the crawl's CPU pool. The
        hashes (text shingles, word set) are stored with the article: later articles are
        verified against them without its text being read or hashed again."""
        text = without_boilerplate(record.text)
        text_shingles = shingles.compute_shingles(text, self.params.shingle_words)
        phrases = phrase_set(lead_tokens(record.title, record.summary or "", record.text))
        keys = stories.article_keys(
            record.title, record.text, self.params, text_shingles, record.summary
        )
        return replace(
            record, story_keys=tuple(keys), story_shingles=shingles.pack(text_shingles, phrases)
        )

    def score(self, record: ArticleRecord, other: Candidate) -> float | None:
        theirs = stories.copy_text(
            other.title,
            other.text,
            self.params,
            other.summary,
            other.published,
            other.shingles,
            other.source,
        )
        return stories.copy_score(self._copy_text(record), theirs, self.params)

    def _copy_text(self, record: ArticleRecord) -> stories.CopyText:
        last = self._last
        if last is not None and last[0] is record:
            return last[1]
        mine = stories.copy_text(
            record.title,
            record.text,
            self.params,
            record.summary,
            record.published,
            record.story_shingles,
            record.source,
        )
        self._last = (record, mine)  # one assignment: safe for threads sharing the matcher
        return mine
