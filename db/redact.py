"""Secrets out of every message that is logged, stored or shown.

Two kinds: what any URL may carry (a ``user:password@`` part, key-like query values such as
``?apikey=``), found by shape; and the secrets the config resolved (channel URLs with their
tokens, the web token, a password in the database URL, a source URL read from the
environment), registered with ``remember_secret`` when they are read and masked wherever they
appear. Stdlib only: the logging filter (scheduler/observe.py), the Store's record of a
source's last error and the sources listing all use it.
"""

from __future__ import annotations

import contextlib
import re
import threading
from typing import Final
from urllib.parse import parse_qsl, urlsplit, urlunsplit

__all__ = [
    "REDACTED",
    "redact",
    "redact_url",
    "remember_credentials",
    "remember_secret",
]

REDACTED: Final = "***"
#: Query parameters whose values are credentials (compared lower-case, also as suffixes:
#: ``apiKey``, ``client_secret``, ``x-amz-signature``).
_SECRET_PARAMS: Final = ("key", "token", "secret", "password", "passwd", "pwd", "signature")
_SECRET_NAMES: Final = frozenset({"auth", "sig", "pass", "code", "credential", "credentials"})
_URL: Final = re.compile(r"[a-z][a-z0-9+.-]*://[^\s<>\"'`]+", re.IGNORECASE)
#: Parts of a resolved secret shorter than this are not masked on their own (too common).
_MIN_PART: Final = 6

_known: set[str] = set()
_known_lock = threading.Lock()


def remember_secret(value: str) -> None:
    """Mask ``value`` (a channel URL, a token) from now on, and, for a URL, each part that may
    be logged alone: credentials, query values, long path segments (a Slack or Discord webhook
    keeps its token in the path)."""
    parts = {value} | _credentials(value)
    with contextlib.suppress(ValueError):
        parts |= {segment for segment in urlsplit(value).path.split("/") if len(segment) >= 16}
    _remember(parts)


def remember_credentials(url: str) -> None:
    """Mask the userinfo and every query value of ``url`` (a database URL, a source URL read
    from the environment), leaving the rest of it readable."""
    _remember(_credentials(url))


def _credentials(url: str) -> set[str]:
    try:
        split = urlsplit(url)
    except ValueError:
        return set()
    parts = {split.password or "", split.netloc.rpartition("@")[0]}
    return parts | {v for _k, v in parse_qsl(split.query, keep_blank_values=True)}


def _remember(parts: set[str]) -> None:
    with _known_lock:
        _known.update(p for p in parts if len(p) >= _MIN_PART)


def redact_url(url: str) -> str:
    """``url`` without its userinfo and key-like query values."""
    try:
        split = urlsplit(url)
    except ValueError:
        return REDACTED
    netloc = split.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rpartition('@')[2]}"
    query = "&".join(_redact_pair(pair) for pair in split.query.split("&")) if split.query else ""
    return urlunsplit((split.scheme, netloc, split.path, query, split.fragment))


def redact(text: str) -> str:
    """``text`` with every registered secret and every URL's credentials masked."""
    with _known_lock:
        known = sorted(_known, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return _URL.sub(lambda m: redact_url(m.group(0)), text)


def _redact_pair(pair: str) -> str:
    name, equals, value = pair.partition("=")
    lowered = name.lower()
    secret = lowered in _SECRET_NAMES or lowered.endswith(_SECRET_PARAMS)
    return f"{name}={REDACTED}" if secret and equals and value else pair
