"""Build the Store the way the configuration asks: the one place that wires hooks together.

Features that act inside the article transaction (story grouping, rule matching and alert
outbox rows) are registered here as Store hooks, in order.
"""

from __future__ import annotations

from haitiwatch.crawler.event_matcher import EventMatcher
from haitiwatch.crawler.stories import StoryParams
from haitiwatch.crawler.story_matcher import StoryMatcher
from haitiwatch.db.event_index import EventIndex
from haitiwatch.db.store import Store
from haitiwatch.db.story_index import StoryIndex
from haitiwatch.scheduler.config import LoadedConfig
from haitiwatch.scheduler.notify import rule_match_hook


def open_store(loaded: LoadedConfig) -> Store:
    """The Store, with the rule hook and near-copy story grouping with the configured window
    and thresholds (docs/stories.md)."""
    cfg = loaded.config.stories
    params = StoryParams(min_jaccard=cfg.min_jaccard, min_containment=cfg.min_containment)
    return Store.open(
        loaded.database_url,
        [rule_match_hook(loaded.config)],  # run after story grouping: alerts key on story
        StoryIndex(StoryMatcher(params), cfg.window),
        EventIndex(EventMatcher()),
    )
