"""Sending one message through Apprise: every target of a channel's URL, each in the body
format it prefers, with a short secret-free reason per target that failed."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from haitiwatch.db.alerts import SENT
from haitiwatch.scheduler.messages import Message

#: How long one send may take (a channel's targets each get this much).
SEND_TIMEOUT = 30.0


def apprise_accepts(url: str) -> bool:
    """Whether Apprise makes at least one notification target of ``url``. Apprise's own error
    log, which would quote the whole URL and its secret, is silenced meanwhile."""
    import apprise  # a slow import (every plugin): only when needed

    apprise_log = logging.getLogger("apprise")
    was_disabled, apprise_log.disabled = apprise_log.disabled, True
    try:
        targets = apprise.Apprise()
        return bool(targets.add(url)) and len(targets) > 0
    finally:
        apprise_log.disabled = was_disabled


@dataclass(frozen=True, slots=True)
class Delivery:
    """The outcome of sending one message to one channel's targets."""

    targets: dict[str, str]  # target index -> "sent" | a short, secret-free failure
    error: str | None = None
    permanent: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and all(v == SENT for v in self.targets.values())


_HTTP_STATUS = re.compile(r"error=(\d{3})|\b(?:HTTP|status)\D{0,3}(\d{3})", re.IGNORECASE)


async def deliver(
    url: str | None,
    message: Message,
    done: Mapping[str, str] | None = None,
    timeout: float = SEND_TIMEOUT,
) -> Delivery:
    """Send ``message`` to every target of an Apprise URL, except targets already ``sent``
    in ``done``. Each target gets the body format it prefers (HTML for email, Markdown for
    Slack, text otherwise)."""
    import apprise  # a slow import (every plugin): only when sending

    targets = apprise.Apprise()
    if url is None or not targets.add(url) or len(targets) == 0:
        return Delivery({}, "Apprise does not understand this channel's URL", permanent=True)
    outcomes: dict[str, str] = {}
    permanent = False
    for index, plugin in enumerate(targets):
        key = str(index)
        if (done or {}).get(key) == SENT:
            outcomes[key] = SENT
            continue
        outcome, is_permanent = await _send_one(apprise, plugin, message, timeout)
        outcomes[key] = outcome
        permanent = permanent or is_permanent
    failed = [f"target {k}: {v}" for k, v in outcomes.items() if v != SENT]
    return Delivery(outcomes, "; ".join(failed) or None, permanent)


async def _send_one(
    apprise: Any, plugin: Any, message: Message, timeout: float
) -> tuple[str, bool]:
    formats = plugin.notify_format
    preferred = formats[0] if isinstance(formats, tuple) else formats
    body_format, body = {
        apprise.NotifyFormat.HTML: (apprise.NotifyFormat.HTML, message.html),
        apprise.NotifyFormat.MARKDOWN: (apprise.NotifyFormat.MARKDOWN, message.markdown),
    }.get(preferred, (apprise.NotifyFormat.TEXT, message.text))
    single = apprise.Apprise()
    single.add(plugin)
    result = await single.async_notify(
        body=body, title=message.title, body_format=body_format, timeout=timeout
    )
    service = str(getattr(plugin, "service_name", "target"))
    for service_result in result:
        if not service_result:
            return _failure(service, service_result)
    return (SENT, False) if result else (f"{service}: not sent", False)


def _failure(service: str, service_result: Any) -> tuple[str, bool]:
    """A short reason (service, status, HTTP code) and whether retrying is pointless."""
    status = getattr(service_result.status, "name", "FAILURE").lower()
    code = None
    for attempt in service_result.attempts:
        for entry in attempt:
            if found := _HTTP_STATUS.search(entry.message):
                code = int(found.group(1) or found.group(2))
    reason = f"{service}: {status}" + (f" (HTTP {code})" if code else "")
    # 4xx means the request itself is wrong (bad token, removed webhook): retrying won't help.
    return reason, code is not None and 400 <= code < 500 and code not in (408, 429)
