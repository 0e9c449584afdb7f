"""Signed one-click mark links in alerts: ``<base_url>/mark?a=&r=&v=&e=&n=&sig=``.

The signature is HMAC-SHA256, keyed by a secret from the environment or a file ([web]
link_secret_env / link_secret_file), over the article id, rule, verdict, expiry and a random
nonce. The link is its own credential (whoever reads the alert may mark), so it answers
without the web access token; a forged or expired link is refused here, and a replayed one
by the nonce the database keeps (db/marks.py). Pure apart from drawing nonces.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final
from urllib.parse import urlencode

from haitiwatch.db.errors import ConfigError, HaitiwatchError
from haitiwatch.db.marks import IRRELEVANT, RELEVANT, VERDICTS
from haitiwatch.scheduler.config import LoadedConfig
from haitiwatch.scheduler.numbers import MAX_ID, whole_number
from haitiwatch.scheduler.secrets import link_secret

#: How long an alert's links work.
LINK_LIFETIME: Final = timedelta(days=30)
PATH: Final = "/mark"
_FIELDS: Final = ("a", "r", "v", "e", "n", "sig")


class LinkRefused(HaitiwatchError):
    """A mark link that is forged, malformed or expired (the message is safe to show)."""


@dataclass(frozen=True, slots=True)
class LinkMark:
    """What a valid link asks to record."""

    article_id: int
    rule: str
    verdict: str
    expires: int
    nonce: str


@dataclass(frozen=True, slots=True)
class LinkSigner:
    """Makes and checks mark links. The secret never leaves this object (kept out of repr)."""

    public_url: str
    secret: bytes = field(repr=False)
    lifetime: timedelta = LINK_LIFETIME

    def link(self, article_id: int, rule: str, verdict: str, now: datetime) -> str:
        expires = int((now + self.lifetime).timestamp())
        mark = LinkMark(article_id, rule, verdict, expires, secrets.token_urlsafe(16))
        query = {**link_fields(mark), "sig": self.signature(mark)}
        return f"{self.public_url.rstrip('/')}{PATH}?{urlencode(query)}"

    def links(self, article_id: int, rule: str, now: datetime) -> tuple[str, str]:
        """The (relevant, not relevant) pair an alert item carries."""
        return (
            self.link(article_id, rule, RELEVANT, now),
            self.link(article_id, rule, IRRELEVANT, now),
        )

    def signature(self, mark: LinkMark) -> str:
        return hmac.new(self.secret, _signed_text(mark), hashlib.sha256).hexdigest()

    def verify(self, query: Mapping[str, str], now: datetime) -> LinkMark:
        """The mark a link asks for, or LinkRefused (forged, malformed or expired)."""
        if any(not query.get(name) for name in _FIELDS):
            raise LinkRefused("this mark link is incomplete")
        article = whole_number(query["a"], 1, MAX_ID)
        expires = whole_number(query["e"], 0, MAX_ID)
        if article is None or expires is None or query["v"] not in VERDICTS:
            raise LinkRefused("this mark link is not valid")
        mark = LinkMark(article, query["r"], query["v"], expires, query["n"])
        # Compared as bytes: compare_digest refuses non-ASCII str (a tampered link may hold some).
        if not hmac.compare_digest(self.signature(mark).encode(), query["sig"].encode()):
            raise LinkRefused("this mark link is not valid (its signature does not match)")
        if datetime.fromtimestamp(mark.expires, UTC) < now:
            raise LinkRefused("this mark link has expired; mark the article in the archive")
        return mark


def link_fields(mark: LinkMark) -> dict[str, str]:
    return {
        "a": str(mark.article_id),
        "r": mark.rule,
        "v": mark.verdict,
        "e": str(mark.expires),
        "n": mark.nonce,
    }


def _signed_text(mark: LinkMark) -> bytes:
    # One field a line: rule names and nonces hold no newline, so no two marks sign alike.
    fields = link_fields(mark)
    return "\n".join(["haitiwatch-mark-v1", *fields.values()]).encode()


def link_signer(loaded: LoadedConfig) -> LinkSigner | None:
    """The signer of ``loaded``'s [web] base_url and link secret; None unless both are set
    (alerts then carry no mark links). A secret set but unreadable raises ConfigError."""
    web = loaded.config.web
    secret = link_secret(web, loaded.base_dir)
    if web.base_url is None or secret is None:
        return None
    return LinkSigner(web.base_url, secret.encode())


def links_note(loaded: LoadedConfig) -> str | None:
    """Why alerts carry no mark links (for `rules check`), or None when they do."""
    web = loaded.config.web
    try:
        if link_signer(loaded) is not None:
            return None
    except ConfigError as e:  # names the variable or file, never the secret
        return f"alerts carry no mark links: {e}"
    missing = [
        name
        for name, given in (
            ("web.base_url", web.base_url is not None),
            ("web.link_secret_env or web.link_secret_file", web.link_secret_env is not None
             or web.link_secret_file is not None),
        )
        if not given
    ]  # fmt: skip
    return "alerts carry no mark links (set " + " and ".join(missing) + ")"
