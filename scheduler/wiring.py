"""Build the Store the way the configuration asks: the one place that wires hooks together.

Features that act inside the article transaction (story grouping, rule matching and alert
outbox rows) are registered here as Store hooks, in order.
"""

from __future__ import annotations

from db.store import ArticleHook, Store
from scheduler.config import LoadedConfig


def article_hooks(loaded: LoadedConfig) -> list[ArticleHook]:
    """Hooks run, in this order, in the transaction that stores each new or updated article."""
    hooks: list[ArticleHook] = []
    return hooks


def open_store(loaded: LoadedConfig) -> Store:
    return Store.open(loaded.database_url, article_hooks(loaded))
