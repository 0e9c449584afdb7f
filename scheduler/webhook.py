"""The native ``webhook`` channel: a signed JSON POST to an operator's URL, beside Apprise.

The body is the JSON payload of ``webhook_payload`` (docs/alerts.md shows it). The header
``X-Haitiwatch-Signature: t=<unix time>,v1=<hex>`` carries HMAC-SHA256, keyed by the
channel's secret, over ``"<t>." + body``, as Stripe and GitHub sign theirs: a receiver checks
the signature and the time, so a tampered or replayed body is refused.

The URL is the operator's, yet still never a private, loopback or link-local address
(crawler/netguard.py's table, DNS answers included) unless the channel says
``allow_private = true``. Redirects are not followed. Outcomes map to the outbox's retry
rules (scheduler/notify.py): 2xx sent; 408, 429, 5xx and connection errors retried; any
other answer, or a refused address, fails at once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from haitiwatch.crawler.netguard import host_is_literal_forbidden, is_forbidden_ip
from haitiwatch.db.alerts import SENT, Alert
from haitiwatch.scheduler.apprise_send import Delivery

if TYPE_CHECKING:  # the Notifier carries the channels; it imports this module
    from haitiwatch.scheduler.notify import Notifier

SIGNATURE_HEADER = "X-Haitiwatch-Signature"
PAYLOAD_VERSION = 1
#: The one target a webhook channel has, in the outbox's per-target outcomes.
TARGET = "0"


@dataclass(frozen=True)
class WebhookChannel:
    """What a webhook channel needs besides its URL: the signing key and the address rule."""

    secret: str = field(repr=False)
    allow_private: bool = False


@dataclass(frozen=True, slots=True)
class WebhookOutcome:
    """One POST's result: ``sent``, or a short secret-free reason and whether to retry."""

    outcome: str
    permanent: bool = False


# -- the payload (pure) -----------------------------------------------------------------------


def webhook_payload(
    alerts: Sequence[Alert], notifier: Notifier, channel: str, now: datetime
) -> dict[str, Any]:
    """The JSON document for claimed alerts of one rule and channel (one for an immediate
    alert, every waiting one for a digest)."""
    return {
        "version": PAYLOAD_VERSION,
        # "alert", "digest", or "followup" (an event's further coverage, once).
        "kind": {"digest": "digest", "followup": "followup"}.get(alerts[0].mode, "alert")
        if alerts
        else "alert",
        "rule": alerts[0].rule if alerts else None,
        "channel": channel,
        "sent_at": _iso(now),
        "items": [_item(a, notifier) for a in alerts],
    }


def channel_test_payload(channel: str, now: datetime) -> dict[str, Any]:
    return {
        "version": PAYLOAD_VERSION,
        "kind": "test",
        "rule": None,
        "channel": channel,
        "sent_at": _iso(now),
        "items": [],
    }


def _item(alert: Alert, notifier: Notifier) -> dict[str, Any]:
    return {
        "alert_id": alert.id,
        "article_id": alert.article_id,
        "story_id": alert.story_id,
        "event": None,  # the event layer above stories fills it where there is one
        "title": alert.title,
        "url": alert.url,
        "outlet": alert.outlet,
        "language": alert.language,
        "published": _iso(alert.published),
        "first_seen": _iso(alert.first_seen),
        "snippet": notifier.snippet(alert).render(lambda s: s, "", ""),
        "matched_terms": list(alert.terms),
        "score": alert.score,
        "story_outlets": alert.story_outlets,
        "archive_url": notifier.archive_link(alert),
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else None


def encode_payload(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def signature_header(secret: str, body: bytes, timestamp: int) -> str:
    """``t=<timestamp>,v1=<HMAC-SHA256(secret, "<timestamp>." + body) in hex>``."""
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def classify_status(status: int) -> WebhookOutcome:
    """An HTTP answer as an outbox outcome."""
    if 200 <= status < 300:
        return WebhookOutcome(SENT)
    reason = f"webhook: HTTP {status}"
    if 300 <= status < 400:
        return WebhookOutcome(reason + " (redirects are not followed)", permanent=True)
    return WebhookOutcome(reason, permanent=status not in (408, 429) and status < 500)


# -- sending ----------------------------------------------------------------------------------


class PrivateAddressError(OSError):
    """The webhook's host is, or resolves only to, an address the channel may not reach."""


class _PublicOnlyResolver(AbstractResolver):
    """The system resolver with every forbidden answer dropped: the address checked is the
    address connected to, so a name cannot rebind to 127.0.0.1 between check and connect."""

    def __init__(self) -> None:
        self._inner = aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        answers = await self._inner.resolve(host, port, family)
        public = [a for a in answers if not is_forbidden_ip(a["host"])]
        if not public:
            raise PrivateAddressError(f"{host} resolves only to private addresses")
        return public

    async def close(self) -> None:
        await self._inner.close()


async def post_webhook(
    url: str, channel: WebhookChannel, payload: dict[str, Any], timeout: float
) -> WebhookOutcome:
    """POST ``payload`` signed with the channel's secret at the current time (receivers check
    it against their clock). Reasons never quote the URL (it may carry a token) nor the
    secret."""
    host = (urlsplit(url).hostname or "").rstrip(".")
    if not channel.allow_private and host_is_literal_forbidden(host):
        return _refused()
    body = encode_payload(payload)
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "haitiwatch-webhook/1",
        SIGNATURE_HEADER: signature_header(channel.secret, body, int(time.time())),
    }
    resolver = None if channel.allow_private else _PublicOnlyResolver()
    connector = aiohttp.TCPConnector(resolver=resolver, use_dns_cache=False)
    try:
        async with (
            aiohttp.ClientSession(
                connector=connector, timeout=aiohttp.ClientTimeout(total=timeout)
            ) as session,
            session.post(url, data=body, headers=headers, allow_redirects=False) as response,
        ):
            return classify_status(response.status)
    except aiohttp.ClientConnectorError as e:
        if isinstance(e.os_error, PrivateAddressError):
            return _refused()
        return WebhookOutcome(f"webhook: cannot connect ({type(e.os_error).__name__})")
    except (aiohttp.ClientError, TimeoutError) as e:
        return WebhookOutcome(f"webhook: {type(e).__name__}")


def _refused() -> WebhookOutcome:
    return WebhookOutcome(
        "webhook: refused a private or loopback address (allow_private = true allows it)",
        permanent=True,
    )


async def deliver_webhook(notifier: Notifier, channel: str, payload: dict[str, Any]) -> Delivery:
    """POST a payload to a webhook channel (scheduler/webhook.py) as one target's delivery."""
    url = notifier.channels[channel]
    assert url is not None  # a channel whose URL cannot be read is in ``errors``
    result = await post_webhook(url, notifier.webhooks[channel], payload, notifier.timeout)
    error = None if result.outcome == SENT else f"target {TARGET}: {result.outcome}"
    return Delivery({TARGET: result.outcome}, error, result.permanent)
