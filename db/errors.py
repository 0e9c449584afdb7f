"""The one exception root of haitiwatch.

Input errors also subclass ValueError so callers that only know the stdlib can catch them.
Third-party errors are wrapped once, at the boundary, with ``raise ... from e``.
"""

from __future__ import annotations


class HaitiwatchError(Exception):
    """Root of every error haitiwatch raises on purpose."""


class ConfigError(HaitiwatchError, ValueError):
    """The configuration file is missing, unreadable or invalid."""


class FeedError(HaitiwatchError, ValueError):
    """A response could not be read as a feed (not a feed, malformed beyond repair, too big)."""


class StorageError(HaitiwatchError):
    """The database could not be opened or migrated."""


class WriteRefused(StorageError):
    """The database refused a write: disk full, read-only, out of resources or gone
    (db/write_refused.py). The message is the database's own, redacted."""
