"""Where the archive is as its readers reach it: the absolute address (for Atom and alerts)
and the path prefix (for links in pages), from ``[web] base_url`` or, behind a reverse proxy
that is trusted (``[web] trust_proxy = true``), from its X-Forwarded-Proto/Host/Prefix.

Without trust_proxy the X-Forwarded-* headers are ignored: anyone can send them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

_HOST: Final = re.compile(r"^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")
_PREFIX: Final = re.compile(r"^(/[A-Za-z0-9._~-]+)+$")


@dataclass(frozen=True)
class Site:
    #: The absolute address, without a trailing slash ("https://news.example.org/hw").
    base: str
    #: The path every link in a page starts with ("" or "/hw").
    root: str


@dataclass(frozen=True)
class Forwarded:
    """What a trusted proxy says about the original request (None: it did not say)."""

    scheme: str | None
    host: str | None
    prefix: str | None


def forwarded(headers: Mapping[str, str]) -> Forwarded:
    """The X-Forwarded-Proto/Host/Prefix a proxy set; each the value the nearest proxy
    added (the last), and only if well formed."""
    scheme = _last(headers.get("X-Forwarded-Proto"))
    host = _last(headers.get("X-Forwarded-Host"))
    prefix = (_last(headers.get("X-Forwarded-Prefix")) or "").rstrip("/")
    return Forwarded(
        scheme if scheme in ("http", "https") else None,
        host if host and _HOST.match(host) else None,
        prefix if _PREFIX.match(prefix) else None,
    )


def site_of(base_url: str | None, scheme: str, host: str, prefix: str | None) -> Site:
    """The configured base_url wins; otherwise the request's own (proxy-corrected) address."""
    if base_url is not None:
        base = base_url.rstrip("/")
        return Site(base, urlsplit(base).path)
    root = prefix or ""
    return Site(f"{scheme}://{host}{root}", root)


def _last(value: str | None) -> str | None:
    if value is None:
        return None
    return value.rsplit(",", 1)[-1].strip() or None
