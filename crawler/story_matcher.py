"""What the Store's story index is given (db.story_index.Matcher): parameters and a matcher.

The work is done by crawler/stories.py, which needs numpy; it is imported on the first call,
so that a process that never places an article (a pass where every feed answers 304, the
CLI's read commands) does not import it at start.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from db.records import ArticleRecord

if TYPE_CHECKING:  # not imported at run time: the CPU workers need no SQLAlchemy
    from db.story_index import Candidate


@dataclass(frozen=True, slots=True)
class StoryParams:
    """How texts are compared. The defaults come from measurements (docs/stories.md)."""

    #: Words per shingle.
    shingle_words: int = 5
    #: LSH banding: ``bands`` keys of ``rows`` MinHash values each.
    bands: int = 32
    rows: int = 2
    #: A text with fewer shingles is treated as title-only (feed summaries, paywalls).
    min_shingles: int = 25
    #: Verified copy: Jaccard of the shingle sets at least this...
    min_jaccard: float = 0.25
    #: ...or this share of the smaller text's shingles found in the other.
    min_containment: float = 0.5
    #: A normalised title needs this many words to identify a story on its own.
    min_title_words: int = 4

    @property
    def num_perm(self) -> int:
        return self.bands * self.rows


class StoryMatcher:
    """The matcher the Store's story index uses (db.story_index.Matcher): keys and verdicts."""

    def __init__(self, params: StoryParams | None = None) -> None:
        self.params = params or StoryParams()

    def keys(self, record: ArticleRecord) -> list[int]:
        from crawler import stories

        return stories.article_keys(
            record.title, record.text, self.params, stories.shipped_shingles(record)
        )

    def prepare(self, record: ArticleRecord) -> ArticleRecord:
        """The record with its index keys and shingles, computed in the crawl's CPU pool. The
        shingles are stored with the article: later articles are verified against them
        without its text being read or shingled again."""
        from crawler import stories

        text_shingles = stories.compute_shingles(record.text, self.params.shingle_words)
        keys = stories.article_keys(record.title, record.text, self.params, text_shingles)
        return replace(
            record,
            story_keys=tuple(keys),
            story_shingles=stories.shingles_to_bytes(text_shingles),
        )

    def score(self, record: ArticleRecord, other: Candidate) -> float | None:
        from crawler import stories

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
