"""Addresses of the Atom feeds, and the per-feed keys that open them on a protected archive.

Feed readers keep no cookie jar, so a feed's URL carries its own key: an HMAC of the feed's
path and query under the web token. A leaked feed URL opens that feed only: it reveals
neither the token nor the key of any other feed.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from typing import Final
from urllib.parse import urlencode

KEY_PARAM: Final = "key"
#: The site's every article, newest first: the feed pages advertise by default.
ALL_ARTICLES: Final = "/search.atom"


def feed_key(token: str, path: str, params: Iterable[tuple[str, str]]) -> str:
    message = b"haitiwatch feed\n" + canonical(path, params).encode()
    return hmac.new(token.encode(), message, hashlib.sha256).hexdigest()[:32]


def key_opens(token: str, path: str, params: Iterable[tuple[str, str]]) -> bool:
    """Whether ``params`` carry the right key for the feed at ``path`` (constant time)."""
    pairs = list(params)
    given = [v for k, v in pairs if k == KEY_PARAM]
    if len(given) != 1 or not path.endswith(".atom"):
        return False
    return hmac.compare_digest(given[0].encode(), feed_key(token, path, pairs).encode())


def feed_href(root: str, path: str, params: Iterable[tuple[str, str]], token: str | None) -> str:
    """The feed's address under ``root``, its key added when the archive has a token."""
    pairs = [(k, v) for k, v in params if k != KEY_PARAM and v]
    if token is not None:
        pairs.append((KEY_PARAM, feed_key(token, path, pairs)))
    return f"{root}{path}" + (f"?{urlencode(pairs)}" if pairs else "")


def canonical(path: str, params: Iterable[tuple[str, str]]) -> str:
    """The feed as the key signs it: its path and its non-empty parameters, sorted."""
    pairs = sorted((k, v) for k, v in params if k != KEY_PARAM and v)
    return f"{path}?{urlencode(pairs)}"
